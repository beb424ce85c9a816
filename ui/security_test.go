package ui

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine/serve"
)

// form encodes a form body.
func form(kv ...string) *strings.Reader {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return strings.NewReader(v.Encode())
}

func TestFormActionsWithCSRF(t *testing.T) {
	f := newFake()
	h := server(t, f, "")
	tok := session(t, h)
	if again := session(t, h); again != tok || len(tok) != 43 {
		t.Errorf("form tokens %q and %q: want one 43-character token for every page", tok, again)
	}
	if w := get(h, "/workflows"); len(w.Result().Cookies()) != 0 {
		t.Errorf("pages set cookies: %v", w.Result().Cookies())
	}
	cases := []struct {
		path, returnTo, location, action string
	}{
		{"/workflows/daily-sync/disable", "/workflows", "/workflows", "disable daily-sync"},
		{"/workflows/weekly-report/enable", "/workflows/weekly-report", "/workflows/weekly-report", "enable weekly-report"},
		{"/workflows/daily-sync/run", "/workflows/daily-sync", "/workflows/daily-sync", "run daily-sync"},
		// Only the workflow's own page is a target; anything else goes to the list.
		{"/workflows/daily-sync/run", "https://evil.example/", "/workflows", "run daily-sync"},
		{"/workflows/daily-sync/run", "//evil.example", "/workflows", "run daily-sync"},
		{"/workflows/daily-sync/run", "/workflows/weekly-report", "/workflows", "run daily-sync"},
	}
	for _, tc := range cases {
		r := req(http.MethodPost, tc.path, form(csrfField, tok, "return_to", tc.returnTo), "Sec-Fetch-Site: same-origin")
		w := serve1(h, r)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != tc.location {
			t.Errorf("POST %s (back to %s) = %d to %q, want 303 to %s", tc.path, tc.returnTo, w.Code, w.Header().Get("Location"), tc.location)
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("POST %s Cache-Control = %q", tc.path, cc)
		}
		if a := f.done(); len(a) == 0 || a[len(a)-1] != tc.action {
			t.Errorf("POST %s did %v, want %s", tc.path, a, tc.action)
		}
	}
	// The X-CSRF-Token header serves as well as the field.
	r := req(http.MethodPost, "/workflows/daily-sync/enable", nil, csrfHeader+": "+tok)
	if w := serve1(h, r); w.Code != http.StatusSeeOther {
		t.Errorf("POST with the header = %d", w.Code)
	}
}

func TestFormActionsRefused(t *testing.T) {
	f := newFake()
	h := server(t, f, "")
	tok := session(t, h)
	other := session(t, server(t, newFake(), "")) // another server's token
	wrong := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	cases := []struct {
		name    string
		body    string
		headers []string
		code    int
		msg     string
	}{
		{"no token at all", "", nil, 403, "security token is missing or out of date"},
		{"wrong token", wrong, nil, 403, "security token"},
		{"another server's token", other, nil, 403, "security token"},
		{"a prefix of the token", tok[:20], nil, 403, "security token"},
		{"cross-site fetch", tok, []string{"Sec-Fetch-Site: cross-site"}, 403, "cross-origin request refused"},
		{"same-site fetch", tok, []string{"Sec-Fetch-Site: same-site"}, 403, "cross-origin request refused"},
		{"foreign origin", tok, []string{"Origin: https://evil.example"}, 403, "cross-origin request refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, action := range []string{"enable", "disable", "run"} {
				r := req(http.MethodPost, "/workflows/daily-sync/"+action, form(csrfField, tc.body), tc.headers...)
				w := serve1(h, r)
				if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.msg) {
					t.Errorf("POST %s = %d, want %d with %q:\n%s", action, w.Code, tc.code, tc.msg, w.Body)
				}
			}
		})
	}
	if a := f.done(); len(a) != 0 {
		t.Errorf("refused forms did %v", a)
	}
	// A same-origin request with the right token goes through: the refusals above are the
	// token's and the origin's doing.
	r := req(http.MethodPost, "/workflows/daily-sync/run", form(csrfField, tok), "Origin: http://example.com")
	if w := serve1(h, r); w.Code != http.StatusSeeOther {
		t.Errorf("same-origin POST = %d", w.Code)
	}
}

func TestFormErrors(t *testing.T) {
	f := newFake()
	f.runErr = fmt.Errorf("serve: daily-sync: %w", serve.ErrBusy)
	h := server(t, f, "")
	tok := session(t, h)
	post := func(path string) (int, string) {
		r := req(http.MethodPost, path, form(csrfField, tok))
		w := serve1(h, r)
		return w.Code, w.Body.String()
	}
	if code, body := post("/workflows/daily-sync/run"); code != http.StatusConflict || !strings.Contains(body, "already running") ||
		!strings.Contains(body, `<p class="error-code">409</p>`) {
		t.Errorf("busy run = %d:\n%s", code, body)
	}
	if code, body := post("/workflows/nope/enable"); code != http.StatusNotFound || !strings.Contains(body, "no workflow is named &#34;nope&#34;") {
		t.Errorf("unknown workflow = %d:\n%s", code, body)
	}
}

func TestCrossOriginAPI(t *testing.T) {
	f := newFake()
	h := server(t, f, "tok")
	for _, hd := range []string{"Sec-Fetch-Site: cross-site", "Origin: https://evil.example"} {
		w := serve1(h, req(http.MethodPost, "/api/v1/workflows/daily-sync/run", nil, hd, "Authorization: Bearer tok"))
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `"error":"cross-origin request refused`) {
			t.Errorf("%s: %d %s", hd, w.Code, w.Body)
		}
	}
	// An API client (no browser headers, no cookie) needs only the token.
	w := serve1(h, req(http.MethodPost, "/api/v1/workflows/daily-sync/run", nil, "Authorization: Bearer tok"))
	if w.Code != http.StatusAccepted {
		t.Errorf("API client: %d %s", w.Code, w.Body)
	}
	if a := f.done(); !slices.Equal(a, []string{"run daily-sync"}) {
		t.Errorf("did %v", a)
	}
}

func TestAuth(t *testing.T) {
	const token = "s3cret-token"
	f := newFake()
	h := server(t, f, token)
	basic := func(user, pw string) string {
		return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
	}
	cases := []struct {
		name, path, header string
		code               int
	}{
		{"page without token", "/workflows", "", 401},
		{"api without token", "/api/v1/workflows", "", 401},
		{"metrics without token", "/metrics", "", 401},
		{"static without token", "/static/style.css", "", 401},
		{"unknown path without token", "/nothing", "", 401},
		{"wrong bearer", "/api/v1/workflows", "Authorization: Bearer nope", 401},
		{"bearer prefix of the token", "/api/v1/workflows", "Authorization: Bearer s3cret", 401},
		{"wrong basic", "/workflows", basic("admin", "nope"), 401},
		{"token as basic user", "/workflows", basic(token, ""), 401},
		{"empty bearer", "/workflows", "Authorization: Bearer ", 401},
		{"other scheme", "/workflows", "Authorization: Token " + token, 401},
		{"bearer right", "/api/v1/workflows", "Authorization: Bearer " + token, 200},
		{"bearer lower case", "/api/v1/workflows", "Authorization: bearer " + token, 200},
		{"bearer on a page", "/quota", "Authorization: Bearer " + token, 200},
		{"basic right", "/workflows", basic("admin", token), 200},
		{"basic, any user", "/audit", basic("", token), 200},
		{"basic on metrics", "/metrics", basic("prometheus", token), 200},
		{"healthz is open", "/healthz", "", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hd []string
			if tc.header != "" {
				hd = []string{tc.header}
			}
			w := get(h, tc.path, hd...)
			if w.Code != tc.code {
				t.Fatalf("GET %s = %d, want %d", tc.path, w.Code, tc.code)
			}
			challenge := w.Header().Get("WWW-Authenticate")
			if tc.code == 401 && challenge != `Basic realm="sluice", charset="UTF-8"` {
				t.Errorf("WWW-Authenticate = %q", challenge)
			}
			if tc.code == 200 && challenge != "" {
				t.Errorf("WWW-Authenticate on success: %q", challenge)
			}
			if strings.Contains(w.Body.String(), token) {
				t.Error("the token is in the answer")
			}
		})
	}
	w := get(h, "/api/v1/workflows")
	if !strings.Contains(w.Body.String(), `"error":"authentication required`) {
		t.Errorf("API 401 body = %s", w.Body)
	}
	// Unauthenticated posts change nothing.
	serve1(h, req(http.MethodPost, "/api/v1/workflows/daily-sync/run", nil))
	if a := f.done(); len(a) != 0 {
		t.Errorf("unauthenticated POST did %v", a)
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := server(t, newFake(), "tok")
	auth := "Authorization: Bearer tok"
	cases := []struct {
		method, path, header string
		cacheControl         string
	}{
		{"GET", "/workflows", auth, "no-store"},
		{"GET", "/workflows/daily-sync", auth, "no-store"},
		{"GET", "/quota", auth, "no-store"},
		{"GET", "/audit", auth, "no-store"},
		{"GET", "/api/v1/workflows", auth, "no-store"},
		{"GET", "/api/v1/quota", auth, "no-store"},
		{"POST", "/api/v1/workflows/daily-sync/run", auth, "no-store"},
		{"POST", "/workflows/daily-sync/run", auth, "no-store"}, // 403: no CSRF token
		{"GET", "/nothing", auth, "no-store"},
		{"GET", "/workflows", "", "no-store"}, // 401
		{"GET", "/healthz", "", "no-store"},
		{"GET", "/static/style.css", auth, "no-cache"},
	}
	for _, tc := range cases {
		var hd []string
		if tc.header != "" {
			hd = []string{tc.header}
		}
		w := serve1(h, req(tc.method, tc.path, nil, hd...))
		for k, v := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "same-origin",
			"Cache-Control":          tc.cacheControl,
		} {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s %s (%d): %s = %q, want %q", tc.method, tc.path, w.Code, k, got, v)
			}
		}
		csp := w.Header().Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s %s: CSP %q lacks %q", tc.method, tc.path, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP allows inline code: %q", csp)
		}
	}
}

// TestNoInlineCode holds the pages to the CSP: no inline script, no style attribute, no
// event handler attribute, nothing from elsewhere.
func TestNoInlineCode(t *testing.T) {
	h := server(t, newFake(), "")
	for _, path := range []string{"/workflows", "/workflows/daily-sync", "/quota", "/audit", "/nothing"} {
		body := get(h, path).Body.String()
		for _, bad := range []string{"<script>", " style=", " onclick=", " onload=", "http://", "https://", "<style"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s holds %q", path, bad)
			}
		}
	}
}

func TestStaticFiles(t *testing.T) {
	h := server(t, newFake(), "")
	for path, ct := range map[string]string{
		"/static/style.css":   "text/css",
		"/static/refresh.js":  "text/javascript",
		"/static/favicon.svg": "image/svg+xml",
	} {
		w := get(h, path)
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), ct) || w.Body.Len() == 0 {
			t.Errorf("GET %s = %d %q (%d bytes)", path, w.Code, w.Header().Get("Content-Type"), w.Body.Len())
		}
	}
	for _, path := range []string{"/static/", "/static", "/static/nothing.css", "/static/../ui.go"} {
		if w := get(h, path); w.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, w.Code)
		}
	}
}

func TestPageErrors(t *testing.T) {
	h := server(t, newFake(), "")
	cases := []struct {
		method, path string
		code         int
		msg          string
	}{
		{"GET", "/workflows/nope", 404, "no workflow is named &#34;nope&#34;"},
		{"GET", "/workflows/%3Cscript%3E", 404, "no workflow is named &#34;&lt;script&gt;&#34;"},
		{"GET", "/workflows/daily-sync?runs=-1", 400, "runs &#34;-1&#34;: give a whole number from 1 to 500"},
		{"GET", "/workflows/a%2Fb", 404, "no workflow is named &#34;a/b&#34;"},
		{"GET", "/nothing", 404, "nothing here: /nothing"},
		{"POST", "/quota", 405, "method POST is not allowed here"},
		{"DELETE", "/workflows/daily-sync", 405, "method DELETE is not allowed here"},
		{"GET", "/workflows/daily-sync/run", 405, "method GET is not allowed here"},
		{"GET", "/audit.csv?since=abc", 400, "since &#34;abc&#34;"},
		{"GET", "/audit.json?by=week", 400, "by &#34;week&#34;"},
	}
	for _, tc := range cases {
		w := serve1(h, req(tc.method, tc.path, nil))
		body := w.Body.String()
		if w.Code != tc.code || !strings.Contains(body, tc.msg) || !strings.Contains(body, `id="error-message"`) {
			t.Errorf("%s %s = %d, want %d with %q:\n%s", tc.method, tc.path, w.Code, tc.code, tc.msg, body)
		}
		if strings.Contains(body, "<script>") {
			t.Errorf("%s %s: unescaped input", tc.method, tc.path)
		}
	}
}

// TestLogsKeepSecrets: each request is logged, and neither the token nor the Authorization
// header nor the CSRF token reaches the log.
func TestLogsKeepSecrets(t *testing.T) {
	const token = "tok-7f3a9c"
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFake()
	f.workflowsErr = errBoom
	h, err := New(f, Options{Token: token, Log: log, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	basic := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("me:"+token))
	get(h, "/quota", "Authorization: Bearer "+token)
	get(h, "/quota", basic)
	get(h, "/quota", "Authorization: Bearer wrong-"+token)
	get(h, "/api/v1/audit?since=1h&secret="+token, "Authorization: Bearer "+token)
	get(h, "/api/v1/workflows", "Authorization: Bearer "+token) // a backend failure, logged
	out := buf.String()
	if n := strings.Count(out, `msg="http request"`); n != 5 {
		t.Errorf("%d request lines, want 5:\n%s", n, out)
	}
	for _, want := range []string{"path=/quota", "status=200", "status=401", "status=500", `error="fake: database is on fire`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{token, base64.StdEncoding.EncodeToString([]byte("me:" + token)), "Authorization"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q:\n%s", secret, out)
		}
	}
}
