package toggl_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/connectortest"
	"github.com/sluicehq/sluice/connectors/toggl"
	"github.com/sluicehq/sluice/connectors/toggl/togglsim"
)

// t0 is when every fixture's fake clock starts: Tuesday 10 March 2026, 14:30 UTC. Seeding
// happens at t0; tests advance the clock before their first pull, so that the seeds' `at`
// stamps lie before the first cursor.
var t0 = time.Date(2026, time.March, 10, 14, 30, 0, 0, time.UTC)

// day returns midnight UTC of a March 2026 day.
func day(d int) time.Time { return time.Date(2026, time.March, d, 0, 0, 0, 0, time.UTC) }

// exchange is one request the connector sent and the answer's headers.
type exchange struct {
	Method string
	Path   string
	Query  url.Values
	Body   []byte
	Status int
	Header http.Header
}

// recorder keeps every request that reaches it, body included, with the answer's headers.
type recorder struct {
	next http.Handler

	mu  sync.Mutex
	log []exchange
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "recorder: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sw := &statusWriter{ResponseWriter: w}
	rec.next.ServeHTTP(sw, r)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.log = append(rec.log, exchange{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.Query(),
		Body:   body,
		Status: sw.status,
		Header: w.Header().Clone(),
	})
}

func (rec *recorder) exchanges() []exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]exchange(nil), rec.log...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// server serves h behind the OpenAPI checker of Toggl Track and Reports, which fails the
// test if the connector sends a request Toggl's documents reject, or if h answers one with 2xx.
func server(t *testing.T, h http.Handler) (*recorder, *connectortest.Checked, *httptest.Server) {
	t.Helper()
	checked := connectortest.LoadSpec(t, connectortest.TogglTrack, connectortest.TogglReports).Check(h)
	checked.RequireValid(t)
	checked.RequireSimulatorStrict(t)
	rec := &recorder{next: checked}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, checked, srv
}

// fixture is a simulator on loopback with an organization (Starter plan), a workspace, its
// member Ann, and a client, project and task for her entries.
type fixture struct {
	clock   *clockwork.FakeClock
	sim     *togglsim.Server
	rec     *recorder
	checked *connectortest.Checked
	srv     *httptest.Server

	org, ws, ann          int64
	token                 string
	client, project, task int64
}

// newFixture starts a simulator with opts; the 1 rps throttle is off unless opts sets it.
func newFixture(t *testing.T, opts togglsim.Options) *fixture {
	t.Helper()
	clock := clockwork.NewFakeClockAt(t0)
	opts.Clock = clock
	if opts.ThrottleRate == 0 {
		opts.ThrottleRate = -1
	}
	sim := togglsim.New(opts)
	f := &fixture{clock: clock, sim: sim, token: "tok-ann"}
	f.org = sim.AddOrganization("Acme", togglsim.PlanStarter)
	f.ws = sim.AddWorkspace(f.org, "Acme WS")
	f.ann = sim.AddUser("Ann Example", "ann@example.com", f.token)
	sim.AddMember(f.ws, f.ann)
	f.client = sim.AddClient(f.ws, "Globex")
	f.project = sim.AddProject(f.ws, f.client, "Website", true)
	f.task = sim.AddTask(f.project, "Mockups")
	f.rec, f.checked, f.srv = server(t, sim)
	return f
}

// member adds a member of the fixture's workspace.
func (f *fixture) member(name string) int64 {
	id := f.sim.AddUser(name, strings.ToLower(name)+"@example.com", "tok-"+strings.ToLower(name))
	f.sim.AddMember(f.ws, id)
	return id
}

// entry seeds a stopped entry (a running one when d is 0) of user uid in the fixture's
// workspace.
func (f *fixture) entry(uid int64, start time.Time, d time.Duration) int64 {
	return f.sim.AddEntry(togglsim.NewEntry{UserID: uid, WorkspaceID: f.ws, Start: start, Duration: d})
}

// source builds a source on the fixture's server with Ann's token.
func (f *fixture) source(t *testing.T, set connectors.Values) connectors.Source {
	t.Helper()
	return newSource(t, f.srv, f.token, f.clock, set)
}

// newSource builds a source through the Spec, as the engine does: the fields in set plus the
// Spec's defaults, checked by CheckSource first.
func newSource(t *testing.T, srv *httptest.Server, token string, clock connectors.Clock, set connectors.Values) connectors.Source {
	t.Helper()
	return sharedSource(t, srv, token, clock, nil, set)
}

// sharedSource is newSource with the connection's shared state (nil: none).
func sharedSource(t *testing.T, srv *httptest.Server, token string, clock connectors.Clock, shared *connectors.Shared, set connectors.Values) connectors.Source {
	t.Helper()
	vals := sourceValues(t, set)
	if errs := toggl.Spec.CheckSource(vals); len(errs) > 0 {
		t.Fatalf("CheckSource(%v) = %v, want no errors", vals, errs)
	}
	src, err := toggl.Spec.NewSource(connectors.Config{
		Workflow:   "test",
		Connection: "toggl",
		BaseURL:    srv.URL,
		Conn:       withDefaults(t, toggl.Spec.Connection, connectors.Values{"api_token": connectors.Secret(token)}),
		Values:     vals,
	}, connectors.Deps{HTTP: srv.Client(), Clock: clock, Log: slog.New(slog.DiscardHandler), Shared: shared})
	if err != nil {
		t.Fatalf("Spec.NewSource: %v", err)
	}
	return src
}

// sourceValues returns set over the defaults of the Spec's source fields.
func sourceValues(t testing.TB, set connectors.Values) connectors.Values {
	t.Helper()
	return withDefaults(t, toggl.Spec.Source, set)
}

// withDefaults returns set over the defaults of fields, as the engine fills a block.
func withDefaults(t testing.TB, fields []connectors.Field, set connectors.Values) connectors.Values {
	t.Helper()
	vals := connectors.Values{}
	for _, fld := range fields {
		if fld.Default == "" {
			continue
		}
		v, err := parseDefault(fld)
		if err != nil {
			t.Fatalf("default of field %s: %v", fld.Name, err)
		}
		vals[fld.Name] = v
	}
	maps.Copy(vals, set)
	return vals
}

var daysPrefix = regexp.MustCompile(`^(\d+)d`)

// parseDefault reads a Field.Default as the type its FieldType documents.
func parseDefault(fld connectors.Field) (any, error) {
	s := fld.Default
	switch fld.Type {
	case connectors.String:
		return s, nil
	case connectors.Int:
		return strconv.ParseInt(s, 10, 64)
	case connectors.Bool:
		return strconv.ParseBool(s)
	case connectors.Date:
		return time.Parse(time.DateOnly, s)
	case connectors.Duration:
		var d time.Duration
		if m := daysPrefix.FindStringSubmatch(s); m != nil {
			n, err := strconv.Atoi(m[1])
			if err != nil {
				return nil, err
			}
			d = time.Duration(n) * 24 * time.Hour
			if s = s[len(m[0]):]; s == "" {
				return d, nil
			}
		}
		rest, err := time.ParseDuration(s)
		return d + rest, err
	}
	return nil, fmt.Errorf("no parser for type %s", fld.Type)
}

// pull calls Pull and fails the test on an error.
func pull(t *testing.T, src connectors.Source, cursor connectors.Cursor) connectors.Batch {
	t.Helper()
	b, err := src.Pull(context.Background(), cursor)
	if err != nil {
		t.Fatalf("Pull(%q): %v", cursor, err)
	}
	return b
}

// byID indexes entries by id and fails the test on a duplicate.
func byID(t *testing.T, entries []connectors.Entry) map[string]connectors.Entry {
	t.Helper()
	m := make(map[string]connectors.Entry, len(entries))
	for _, e := range entries {
		if _, dup := m[e.ID]; dup {
			t.Errorf("entry %s returned twice", e.ID)
		}
		m[e.ID] = e
	}
	return m
}

// ids formats seeded ids the way entries carry them.
func ids(ns ...int64) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = strconv.FormatInt(n, 10)
	}
	return out
}

// requireIDs fails the test unless entries hold exactly the ids in want, each once.
func requireIDs(t *testing.T, entries []connectors.Entry, want ...int64) map[string]connectors.Entry {
	t.Helper()
	got := byID(t, entries)
	for _, id := range ids(want...) {
		if _, ok := got[id]; !ok {
			t.Errorf("entry %s is missing", id)
		}
	}
	if len(got) != len(want) {
		wantSet := map[string]bool{}
		for _, id := range ids(want...) {
			wantSet[id] = true
		}
		for id := range got {
			if !wantSet[id] {
				t.Errorf("entry %s was not expected", id)
			}
		}
	}
	return got
}

// sinceOf reads a mine cursor.
func sinceOf(t *testing.T, c connectors.Cursor) int64 {
	t.Helper()
	v, ok := strings.CutPrefix(string(c), "since:")
	n, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil {
		t.Fatalf("cursor %q is not since:<unix seconds>", c)
	}
	return n
}

// sinceCursor is the mine cursor for t.
func sinceCursor(t time.Time) connectors.Cursor {
	return connectors.Cursor("since:" + strconv.FormatInt(t.Unix(), 10))
}
