// Package ui is sluice's web UI and JSON API: server-rendered pages for the workflows, the
// quota and the audit of API calls, a small JSON API under /api/v1 (see API.md), /metrics
// and /healthz, all served by one gin engine that New builds.
//
// The handlers are thin: they read and act through the Backend interface, which
// engine/serve's Server implements, and turn its views into pages and JSON. Templates and
// static files are embedded and parsed once by New, so a broken template fails start-up,
// not a request. Pages need no JavaScript except a small script that reloads a page while a
// run is in progress.
//
// Security lives here too: the optional bearer token (or HTTP Basic password), the
// cross-origin check and the CSRF token on forms, and the security headers on
// every response. The package must not import a store, a connector or engine internals
// beyond the view types of engine/serve and engine/audit; it never renders configuration or
// secrets.
package ui
