package togglsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeClock is a mutex-protected time that tests advance by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// t0 is the fake clock's start: a Monday noon, UTC.
var t0 = time.Date(2025, time.October, 6, 12, 0, 0, 0, time.UTC)

func newFakeClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a simulator behind a loopback HTTP server with one organization, one workspace
// and one member, Ann.
type fixture struct {
	t     *testing.T
	clock *fakeClock
	sim   *Server
	srv   *httptest.Server
	org   int64
	ws    int64
	user  int64
	token string
}

// newFixture starts a simulator. Throttling is off unless opts sets ThrottleRate, so that
// tests of other behaviours can send bursts.
func newFixture(t *testing.T, opts Options, plan Plan) *fixture {
	t.Helper()
	clock := newFakeClock()
	opts.Clock = clock
	if opts.ThrottleRate == 0 {
		opts.ThrottleRate = -1
	}
	sim := New(opts)
	f := &fixture{t: t, clock: clock, sim: sim, token: "tok-ann"}
	f.org = sim.AddOrganization("Acme", plan)
	f.ws = sim.AddWorkspace(f.org, "Acme WS")
	f.user = sim.AddUser("Ann Example", "ann@example.com", f.token)
	sim.AddMember(f.ws, f.user)
	f.srv = httptest.NewServer(sim)
	t.Cleanup(f.srv.Close)
	return f
}

// addUser adds a member of the fixture's workspace and returns its id and token.
func (f *fixture) addUser(name string) (int64, string) {
	token := "tok-" + name
	id := f.sim.AddUser(name, name+"@example.com", token)
	f.sim.AddMember(f.ws, id)
	return id, token
}

// entry seeds a stopped entry of Ann's that started ago before now.
func (f *fixture) entry(desc string, ago, dur time.Duration) int64 {
	return f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws, Description: desc,
		Start: f.clock.Now().Add(-ago), Duration: dur})
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request as token ("" = no Authorization). body is nil, a string (sent as is) or
// a value to marshal.
func (f *fixture) do(method, path, token string, body any) resp {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			f.t.Fatalf("marshal body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatalf("new request: %v", err)
	}
	if token != "" {
		req.SetBasicAuth(token, "api_token")
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatalf("read body: %v", err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: raw}
}

// get is do("GET", path, the fixture user's token, nil).
func (f *fixture) get(path string) resp {
	f.t.Helper()
	return f.do("GET", path, f.token, nil)
}

func (f *fixture) wsPath(format string, args ...any) string {
	return fmt.Sprintf("/api/v9/workspaces/%d", f.ws) + fmt.Sprintf(format, args...)
}

func (f *fixture) reportsPath() string {
	return fmt.Sprintf("/reports/api/v3/workspace/%d/search/time_entries", f.ws)
}

// want fails unless the status is as expected.
func (r resp) want(t *testing.T, status int) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

func (r resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// msg decodes an error body, which Toggl sends as a JSON string.
func (r resp) msg(t *testing.T) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(r.body, &s); err != nil {
		t.Fatalf("error body %s is not a JSON string: %v", r.body, err)
	}
	return s
}

// intHeader parses a numeric header, failing when it is missing.
func (r resp) intHeader(t *testing.T, name string) int {
	t.Helper()
	v := r.header.Get(name)
	if v == "" {
		t.Fatalf("header %s missing (headers %v)", name, r.header)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("header %s = %q: %v", name, v, err)
	}
	return n
}

func (r resp) remaining(t *testing.T) int {
	t.Helper()
	return r.intHeader(t, "X-Toggl-Quota-Remaining")
}

func (r resp) resetsIn(t *testing.T) int {
	t.Helper()
	return r.intHeader(t, "X-Toggl-Quota-Resets-In")
}

// noQuotaHeaders fails if the response carries quota headers.
func (r resp) noQuotaHeaders(t *testing.T) {
	t.Helper()
	for _, h := range []string{"X-Toggl-Quota-Remaining", "X-Toggl-Quota-Resets-In"} {
		if v := r.header.Get(h); v != "" {
			t.Errorf("header %s = %q, want none", h, v)
		}
	}
}

// entryMap is a decoded time entry with every key kept.
type entryMap map[string]any

func (f *fixture) listEntries(query string) []entryMap {
	f.t.Helper()
	var out []entryMap
	f.get("/api/v9/me/time_entries"+query).want(f.t, 200).decode(f.t, &out)
	return out
}

func ids(es []entryMap) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = int64(e["id"].(float64))
	}
	return out
}
