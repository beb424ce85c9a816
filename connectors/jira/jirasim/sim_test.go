package jirasim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const (
	testEmail  = "ada@example.com"
	testToken  = "token-ada"
	testName   = "Ada Lovelace"
	otherEmail = "grace@example.com"
	otherToken = "token-grace"
)

// env is a simulator behind a loopback HTTP server, seeded with one account and the issues
// SLU-1 and SLU-2.
type env struct {
	t         *testing.T
	sim       *Server
	srv       *httptest.Server
	clock     *fakeClock
	accountID string
	issueID   string
	issue2ID  string
	email     string
	token     string
}

// newEnv starts a simulator. Limiters are off unless opts turns them on.
func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	clock := newFakeClock()
	opts.Clock = clock
	if opts.BurstRate == 0 {
		opts.BurstRate = -1
	}
	if opts.IssueWriteRate == 0 {
		opts.IssueWriteRate = -1
	}
	sim := New(opts)
	e := &env{t: t, sim: sim, clock: clock, email: testEmail, token: testToken}
	e.accountID = sim.AddAccount(testEmail, testToken, testName)
	sim.AddProject("SLU", "Sluice")
	e.issueID = sim.AddIssue("SLU-1", "Write docs")
	e.issue2ID = sim.AddIssue("SLU-2", "Fix bugs")
	e.srv = httptest.NewServer(sim)
	t.Cleanup(e.srv.Close)
	return e
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return string(r.body) }

// request builds a request with the env's credentials. body may be nil, a string or []byte
// (sent as is) or anything else (sent as JSON).
func (e *env) request(method, path string, body any) *http.Request {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(e.email, e.token)
	return req
}

func (e *env) send(req *http.Request) response {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (e *env) do(method, path string, body any) response {
	e.t.Helper()
	return e.send(e.request(method, path, body))
}

// must sends a request and fails the test unless it answers want.
func (e *env) must(want int, method, path string, body any) response {
	e.t.Helper()
	r := e.do(method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r
}

// create adds a valid worklog to SLU-1 and returns the response's JSON.
func (e *env) create(body map[string]any) map[string]any {
	e.t.Helper()
	r := e.must(http.StatusCreated, "POST", "/rest/api/3/issue/SLU-1/worklog", body)
	return decode[map[string]any](e.t, r.body)
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func adfDoc(text string) map[string]any {
	return map[string]any{"type": "doc", "version": 1, "content": []any{
		map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": text}}},
	}}
}

// validBody is a create body that the simulator accepts.
func validBody() map[string]any {
	return map[string]any{
		"started":          "2026-05-04T09:00:00.000+0000",
		"timeSpentSeconds": 5400,
		"comment":          adfDoc("Toggl #123: writing docs"),
	}
}

// with returns a copy of body with the given changes; a nil value removes the field.
func with(body map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range body {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}

func errorsOf(t *testing.T, r response) errorCollection {
	t.Helper()
	return decode[errorCollection](t, r.body)
}

func TestAuth(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		name  string
		setup func(*http.Request)
		want  int
	}{
		{"right email and token", func(*http.Request) {}, http.StatusOK},
		{"email in another case", func(r *http.Request) { r.SetBasicAuth("ADA@example.com", testToken) }, http.StatusOK},
		{"no credentials", func(r *http.Request) { r.Header.Del("Authorization") }, http.StatusUnauthorized},
		{"wrong token", func(r *http.Request) { r.SetBasicAuth(testEmail, "nope") }, http.StatusUnauthorized},
		{"unknown email", func(r *http.Request) { r.SetBasicAuth("eve@example.com", testToken) }, http.StatusUnauthorized},
		{"empty token", func(r *http.Request) { r.SetBasicAuth(testEmail, "") }, http.StatusUnauthorized},
		{"bearer instead of basic", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testToken) }, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := e.request("GET", "/rest/api/3/myself", nil)
			tc.setup(req)
			r := e.send(req)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.want, r.body)
			}
			if tc.want != http.StatusUnauthorized {
				return
			}
			ec := errorsOf(t, r)
			if len(ec.ErrorMessages) == 0 || ec.Status != http.StatusUnauthorized {
				t.Errorf("401 body %s: want errorMessages and status 401", r.body)
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type %q, want JSON", r.header.Get("Content-Type"))
			}
			if r.header.Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate on 401")
			}
		})
	}

	t.Run("unauthenticated write changes nothing", func(t *testing.T) {
		req := e.request("POST", "/rest/api/3/issue/SLU-1/worklog", validBody())
		req.SetBasicAuth(testEmail, "nope")
		if r := e.send(req); r.status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", r.status)
		}
		if n := len(e.sim.Worklogs("SLU-1")); n != 0 {
			t.Errorf("%d worklogs stored, want 0", n)
		}
	})

	t.Run("re-adding an account replaces the token", func(t *testing.T) {
		id := e.sim.AddAccount(otherEmail, otherToken, "Grace")
		if again := e.sim.AddAccount(otherEmail, "new-token", "Grace Hopper"); again != id {
			t.Fatalf("account id changed from %s to %s", id, again)
		}
		req := e.request("GET", "/rest/api/3/myself", nil)
		req.SetBasicAuth(otherEmail, otherToken)
		if r := e.send(req); r.status != http.StatusUnauthorized {
			t.Errorf("old token: status %d, want 401", r.status)
		}
		req.SetBasicAuth(otherEmail, "new-token")
		r := e.send(req)
		me := decode[map[string]any](t, r.body)
		if r.status != http.StatusOK || me["displayName"] != "Grace Hopper" || me["accountId"] != id {
			t.Errorf("new token: status %d, body %s", r.status, r.body)
		}
	})
}

func TestMyself(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.must(http.StatusOK, "GET", "/rest/api/3/myself", nil)
	me := decode[map[string]any](t, r.body)
	want := map[string]any{"accountId": e.accountID, "emailAddress": testEmail, "displayName": testName, "active": true}
	for k, v := range want {
		if me[k] != v {
			t.Errorf("%s = %v, want %v", k, me[k], v)
		}
	}
	if len(e.accountID) != 24 {
		t.Errorf("account id %q: want 24 hex characters", e.accountID)
	}
	if other := New(Options{}).AddAccount(testEmail, "x", "y"); other != e.accountID {
		t.Errorf("account id not deterministic: %s then %s", e.accountID, other)
	}
}

// issueView is the part of GET /issue/{key} the tests read.
type issueView struct {
	ID, Key, Self string
	Fields        struct {
		Summary      string
		Project      struct{ ID, Key, Name string }
		TimeTracking struct {
			RemainingEstimate        string
			RemainingEstimateSeconds *int64
			TimeSpentSeconds         *int64
		} `json:"timetracking"`
	}
}

func TestGetIssue(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		name, idOrKey string
		want          int
	}{
		{"by key", "SLU-1", http.StatusOK},
		{"by id", e.issueID, http.StatusOK},
		{"key in lower case", "slu-1", http.StatusOK},
		{"unknown key", "SLU-99", http.StatusNotFound},
		{"unknown id", "99999", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("GET", "/rest/api/3/issue/"+tc.idOrKey, nil)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.want, r.body)
			}
			if tc.want == http.StatusNotFound {
				if ec := errorsOf(t, r); len(ec.ErrorMessages) != 1 || ec.ErrorMessages[0] != msgNoIssue {
					t.Errorf("404 body %s", r.body)
				}
				return
			}
			got := decode[issueView](t, r.body)
			if got.ID != e.issueID || got.Key != "SLU-1" || got.Self != e.srv.URL+"/rest/api/3/issue/"+e.issueID {
				t.Errorf("id/key/self = %s/%s/%s", got.ID, got.Key, got.Self)
			}
			if got.Fields.Summary != "Write docs" || got.Fields.Project.Key != "SLU" || got.Fields.Project.Name != "Sluice" || got.Fields.Project.ID == "" {
				t.Errorf("fields = %+v", got.Fields)
			}
		})
	}

	t.Run("project created from the key", func(t *testing.T) {
		e.sim.AddIssue("OPS-7", "Patch")
		r := e.must(http.StatusOK, "GET", "/rest/api/3/issue/OPS-7", nil)
		got := decode[struct {
			Fields struct{ Project struct{ Key string } }
		}](t, r.body)
		if got.Fields.Project.Key != "OPS" {
			t.Errorf("project key %q, want OPS", got.Fields.Project.Key)
		}
	})

	t.Run("ids are numeric strings and stable", func(t *testing.T) {
		if e.issueID == e.issue2ID || e.sim.AddIssue("SLU-1", "Renamed") != e.issueID {
			t.Errorf("issue ids %s %s", e.issueID, e.issue2ID)
		}
		for _, c := range e.issueID {
			if c < '0' || c > '9' {
				t.Fatalf("issue id %q is not numeric", e.issueID)
			}
		}
	})
}

func TestTimeTrackingOff(t *testing.T) {
	e := newEnv(t, Options{})
	w := e.create(validBody())
	id := w["id"].(string)
	e.sim.SetTimeTracking(false)
	routes := []struct{ method, path string }{
		{"GET", "/rest/api/3/issue/SLU-1/worklog"},
		{"POST", "/rest/api/3/issue/SLU-1/worklog"},
		{"DELETE", "/rest/api/3/issue/SLU-1/worklog"},
		{"GET", "/rest/api/3/issue/SLU-1/worklog/" + id},
		{"PUT", "/rest/api/3/issue/SLU-1/worklog/" + id},
		{"DELETE", "/rest/api/3/issue/SLU-1/worklog/" + id},
		{"GET", "/rest/api/3/issue/SLU-1/worklog/" + id + "/properties"},
		{"PUT", "/rest/api/3/issue/SLU-1/worklog/" + id + "/properties/k"},
		{"POST", "/rest/api/3/worklog/list"},
		{"GET", "/rest/api/3/worklog/updated"},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			var body any
			if rt.method != "GET" {
				body = validBody()
			}
			if r := e.do(rt.method, rt.path, body); r.status != http.StatusNotFound {
				t.Errorf("status %d, want 404; body %s", r.status, r.body)
			}
		})
	}
	if n := len(e.sim.Worklogs("SLU-1")); n != 1 {
		t.Errorf("%d worklogs after writes with time tracking off, want 1", n)
	}
	e.must(http.StatusOK, "GET", "/rest/api/3/issue/SLU-1", nil)
	e.must(http.StatusOK, "GET", "/rest/api/3/myself", nil)
	e.sim.SetTimeTracking(true)
	e.must(http.StatusOK, "GET", "/rest/api/3/issue/SLU-1/worklog/"+id, nil)
}

func TestUnknownIssueOnWorklogRoutes(t *testing.T) {
	e := newEnv(t, Options{})
	for _, p := range []struct{ method, path string }{
		{"GET", "/rest/api/3/issue/NOPE-1/worklog"},
		{"POST", "/rest/api/3/issue/NOPE-1/worklog"},
		{"GET", "/rest/api/3/issue/NOPE-1/worklog/10000"},
		{"GET", "/rest/api/3/issue/NOPE-1/worklog/10000/properties"},
	} {
		var body any
		if p.method == "POST" {
			body = validBody()
		}
		if r := e.do(p.method, p.path, body); r.status != http.StatusNotFound {
			t.Errorf("%s %s: status %d, want 404", p.method, p.path, r.status)
		}
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t, Options{})
	t.Run("unknown path", func(t *testing.T) {
		r := e.do("GET", "/rest/api/3/nothing", nil)
		if r.status != http.StatusNotFound || len(errorsOf(t, r).ErrorMessages) == 0 {
			t.Errorf("status %d body %s, want 404 with a message", r.status, r.body)
		}
	})
	t.Run("known path, wrong method", func(t *testing.T) {
		r := e.do("PATCH", "/rest/api/3/issue/SLU-1/worklog", nil)
		if r.status != http.StatusMethodNotAllowed {
			t.Fatalf("status %d, want 405", r.status)
		}
		if got := r.header.Get("Allow"); got != "GET, POST, DELETE" {
			t.Errorf("Allow %q, want %q", got, "GET, POST, DELETE")
		}
	})
	t.Run("JSON body needs a JSON content type", func(t *testing.T) {
		req := e.request("POST", "/rest/api/3/issue/SLU-1/worklog", validBody())
		req.Header.Set("Content-Type", "text/plain")
		if r := e.send(req); r.status != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain: status %d, want 415", r.status)
		}
		req = e.request("POST", "/rest/api/3/issue/SLU-1/worklog", validBody())
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		if r := e.send(req); r.status != http.StatusCreated {
			t.Errorf("JSON with charset: status %d, want 201; body %s", r.status, r.body)
		}
	})
	t.Run("escaped property key", func(t *testing.T) {
		w := e.create(validBody())
		path := "/rest/api/3/issue/SLU-1/worklog/" + w["id"].(string) + "/properties/a%2Fb%20c"
		e.must(http.StatusCreated, "PUT", path, `{"x":1}`)
		ws := e.sim.Worklogs("SLU-1")
		if _, ok := ws[len(ws)-1].Property("a/b c"); !ok {
			t.Errorf("property key not unescaped: %+v", ws[len(ws)-1].Properties)
		}
	})
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr bool
	}{
		{"zero", Options{}, false},
		{"accept", Options{MinSeconds: MinAccept}, false},
		{"round", Options{MinSeconds: MinRound}, false},
		{"unknown mode", Options{MinSeconds: "truncate"}, true},
		{"base url", Options{BaseURL: "https://example.atlassian.net"}, false},
		{"base url without host", Options{BaseURL: "example"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.opts.Validate(); (err != nil) != tc.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	e := newEnv(t, Options{BaseURL: "https://acme.atlassian.net/"})
	w := e.create(validBody())
	want := "https://acme.atlassian.net/rest/api/3/issue/" + e.issueID + "/worklog/" + w["id"].(string)
	if w["self"] != want {
		t.Errorf("self %v, want %s", w["self"], want)
	}
}
