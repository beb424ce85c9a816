// Reloads the page every data-refresh seconds while a run is in progress. The server sets
// data-refresh on <body> only then, so a finished run stops the reloading. Nothing reloads
// while the page is hidden or the pointer is over a form.
(function () {
  "use strict";
  var seconds = parseInt(document.body.getAttribute("data-refresh"), 10);
  if (!(seconds > 0)) {
    return;
  }
  function tick() {
    var busy = document.querySelector("form:hover, form:focus-within");
    if (document.visibilityState === "visible" && !busy) {
      window.location.reload();
      return;
    }
    window.setTimeout(tick, 1000);
  }
  window.setTimeout(tick, seconds * 1000);
})();
