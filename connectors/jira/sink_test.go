package jira_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/connectortest"
	"github.com/sluicehq/sluice/connectors/jira"
	"github.com/sluicehq/sluice/connectors/jira/jirasim"
)

const (
	email    = "ada@example.com"
	apiToken = "api-token-0123"
	workflow = "timesheets"
	// wrongToken is a token the simulator does not know.
	wrongToken = "not-the-token"
	// jiraTime is the form Jira accepts for worklog start times.
	jiraTime = "2006-01-02T15:04:05.000-0700"
)

// simNow is the simulator's time; the records start the day before.
var (
	simNow  = time.Date(2026, 5, 5, 12, 0, 0, 0, time.UTC)
	started = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// exchange is one request as the sink sent it.
type exchange struct {
	Method string
	Path   string
	Query  url.Values
	Body   []byte
}

// tap records every request before the OpenAPI checker and the simulator see it.
type tap struct {
	next http.Handler
	mu   sync.Mutex
	seen []exchange
}

func (tp *tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	tp.mu.Lock()
	tp.seen = append(tp.seen, exchange{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body})
	tp.mu.Unlock()
	tp.next.ServeHTTP(w, r)
}

// since returns the requests seen after the first n.
func (tp *tap) since(n int) []exchange {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]exchange(nil), tp.seen[n:]...)
}

func (tp *tap) count() int {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return len(tp.seen)
}

// env is a simulated Jira site with the issues WEB-1 and WEB-2, served through the OpenAPI
// checker, which fails the test if the sink sends a request Jira's document rejects.
type env struct {
	sim *jirasim.Server
	srv *httptest.Server
	tap *tap
}

func newEnv(t *testing.T, opts jirasim.Options) *env {
	t.Helper()
	opts.Clock = fixedClock{simNow}
	opts.BurstRate, opts.IssueWriteRate = -1, -1
	sim := jirasim.New(opts)
	sim.AddAccount(email, apiToken, "Ada Lovelace")
	sim.AddIssue("WEB-1", "Website")
	sim.AddIssue("WEB-2", "Website, part two")
	checked := connectortest.LoadSpec(t, connectortest.Jira).Check(sim)
	checked.RequireValid(t)
	checked.RequireSimulatorStrict(t)
	tp := &tap{next: checked}
	srv := httptest.NewServer(tp)
	t.Cleanup(srv.Close) // runs before the checker's verdicts
	return &env{sim: sim, srv: srv, tap: tp}
}

func (e *env) config() connectors.Config {
	return connectors.Config{
		Workflow:   workflow,
		Connection: "jira",
		BaseURL:    e.srv.URL,
		Conn:       connectors.Values{"email": email, "api_token": connectors.Secret(apiToken)},
		Values:     connectors.Values{"notify_users": false, "adjust_estimate": "auto", "timezone": "UTC"},
	}
}

// sink builds a sink through the Spec, as the engine does; edit changes the config first.
func (e *env) sink(t *testing.T, edit func(*connectors.Config)) *jira.Sink {
	t.Helper()
	cfg := e.config()
	if edit != nil {
		edit(&cfg)
	}
	s, err := jira.Spec.NewSink(cfg, connectors.Deps{
		HTTP: e.srv.Client(), Log: slog.New(slog.DiscardHandler), Clock: fixedClock{simNow},
	})
	if err != nil {
		t.Fatalf("NewSink: %v", err)
	}
	js, ok := s.(*jira.Sink)
	if !ok {
		t.Fatalf("NewSink returned %T, want *jira.Sink", s)
	}
	return js
}

// only returns the one worklog of an issue.
func (e *env) only(t *testing.T, issue string) jirasim.Worklog {
	t.Helper()
	ws := e.sim.Worklogs(issue)
	if len(ws) != 1 {
		t.Fatalf("%s has %d worklogs, want 1: %+v", issue, len(ws), ws)
	}
	return ws[0]
}

func record(key, issue string, at time.Time, seconds int, comment string) connectors.Record {
	return connectors.Record{
		Workflow: workflow,
		Key:      key,
		Entry:    connectors.Entry{ID: key, Description: comment, Start: at, Duration: seconds},
		Fields: connectors.Values{
			"issue": issue, "started": at, "time_spent_seconds": seconds, "comment": comment,
		},
	}
}

// marker returns the worklog's sluice property, decoded.
func marker(t *testing.T, w jirasim.Worklog) jira.Marker {
	t.Helper()
	raw, ok := w.Property(jira.PropertyKey)
	if !ok {
		t.Fatalf("worklog %s has no %q property: %+v", w.ID, jira.PropertyKey, w.Properties)
	}
	var m jira.Marker
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("worklog %s: marker %s: %v", w.ID, raw, err)
	}
	return m
}

// adfNode is enough of an ADF node to check what the sink sends.
type adfNode struct {
	Type    string    `json:"type"`
	Version int       `json:"version"`
	Text    string    `json:"text"`
	Content []adfNode `json:"content"`
}

// paragraphs checks that raw is an ADF document of paragraphs, each holding one text node or
// none, and returns their texts.
func paragraphs(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var doc adfNode
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("comment %s: %v", raw, err)
	}
	if doc.Type != "doc" || doc.Version != 1 {
		t.Fatalf("comment %s: want type doc, version 1", raw)
	}
	var out []string
	for _, p := range doc.Content {
		switch {
		case p.Type != "paragraph":
			t.Fatalf("comment %s: block of type %q, want paragraph", raw, p.Type)
		case len(p.Content) == 0:
			out = append(out, "")
		case len(p.Content) == 1 && p.Content[0].Type == "text":
			out = append(out, p.Content[0].Text)
		default:
			t.Fatalf("comment %s: paragraph is not one text node", raw)
		}
	}
	return out
}

func TestSinkCreate(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		timezone string
		started  time.Time
		seconds  int
		comment  string

		wantStarted string
		wantSeconds int64
		// wantParagraphs nil means the body has no comment.
		wantParagraphs []string
	}{
		{
			name: "utc", timezone: "UTC", started: started, seconds: 5400, comment: "Toggl #123: writing docs",
			wantStarted: "2026-05-04T09:00:00.000+0000", wantSeconds: 5400,
			wantParagraphs: []string{"Toggl #123: writing docs"},
		},
		{
			name: "milliseconds kept, finer digits cut", timezone: "UTC",
			started: time.Date(2026, 5, 4, 9, 0, 7, 123456789, time.UTC), seconds: 900, comment: "x",
			wantStarted: "2026-05-04T09:00:07.123+0000", wantSeconds: 900, wantParagraphs: []string{"x"},
		},
		{
			name: "source offset converted to utc", timezone: "UTC",
			started: time.Date(2026, 5, 4, 5, 0, 0, 0, newYork), seconds: 5400, comment: "x",
			wantStarted: "2026-05-04T09:00:00.000+0000", wantSeconds: 5400, wantParagraphs: []string{"x"},
		},
		{
			name: "berlin in winter", timezone: "Europe/Berlin",
			started: time.Date(2026, 1, 15, 8, 30, 0, 0, time.UTC), seconds: 5400, comment: "x",
			wantStarted: "2026-01-15T09:30:00.000+0100", wantSeconds: 5400, wantParagraphs: []string{"x"},
		},
		{
			name: "berlin in summer, past midnight", timezone: "Europe/Berlin",
			started: time.Date(2026, 7, 1, 22, 30, 0, 0, time.UTC), seconds: 5400, comment: "x",
			wantStarted: "2026-07-02T00:30:00.000+0200", wantSeconds: 5400, wantParagraphs: []string{"x"},
		},
		{
			name: "berlin time given in berlin", timezone: "Europe/Berlin",
			started: time.Date(2026, 1, 15, 9, 30, 0, 0, berlin), seconds: 5400, comment: "x",
			wantStarted: "2026-01-15T09:30:00.000+0100", wantSeconds: 5400, wantParagraphs: []string{"x"},
		},
		{
			name: "one paragraph per line", timezone: "UTC", started: started, seconds: 5400,
			comment:     "Toggl #123: writing docs\nsecond line\n\nafter a blank line",
			wantStarted: "2026-05-04T09:00:00.000+0000", wantSeconds: 5400,
			wantParagraphs: []string{"Toggl #123: writing docs", "second line", "", "after a blank line"},
		},
		{
			name: "comment trimmed", timezone: "UTC", started: started, seconds: 5400, comment: "  docs \n",
			wantStarted: "2026-05-04T09:00:00.000+0000", wantSeconds: 5400, wantParagraphs: []string{"docs"},
		},
		{
			name: "one second is logged as a minute", timezone: "UTC", started: started, seconds: 1, comment: "x",
			wantStarted: "2026-05-04T09:00:00.000+0000", wantSeconds: 60, wantParagraphs: []string{"x"},
		},
		{
			name: "59 seconds are logged as a minute", timezone: "UTC", started: started, seconds: 59, comment: "x",
			wantStarted: "2026-05-04T09:00:00.000+0000", wantSeconds: 60, wantParagraphs: []string{"x"},
		},
		{
			name: "61 seconds stay", timezone: "UTC", started: started, seconds: 61, comment: "x",
			wantStarted: "2026-05-04T09:00:00.000+0000", wantSeconds: 61, wantParagraphs: []string{"x"},
		},
		{
			name: "empty comment omitted", timezone: "UTC", started: started, seconds: 5400, comment: "",
			wantStarted: "2026-05-04T09:00:00.000+0000", wantSeconds: 5400,
		},
		{
			name: "blank comment omitted", timezone: "UTC", started: started, seconds: 5400, comment: " \n\t ",
			wantStarted: "2026-05-04T09:00:00.000+0000", wantSeconds: 5400,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, jirasim.Options{})
			s := e.sink(t, func(c *connectors.Config) { c.Values["timezone"] = tc.timezone })
			rec := record("e-1", "WEB-1", tc.started, tc.seconds, tc.comment)

			id, err := s.Create(t.Context(), rec)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			w := e.only(t, "WEB-1")
			if want := "WEB-1/" + w.ID; id != want {
				t.Errorf("remote id %q, want %q", id, want)
			}

			sent := e.tap.since(0)
			if len(sent) != 1 {
				t.Fatalf("%d requests, want one POST: %+v", len(sent), sent)
			}
			req := sent[0]
			if req.Method != http.MethodPost || req.Path != "/rest/api/3/issue/WEB-1/worklog" {
				t.Errorf("request %s %s, want POST /rest/api/3/issue/WEB-1/worklog", req.Method, req.Path)
			}
			if got := req.Query.Get("notifyUsers"); got != "false" {
				t.Errorf("notifyUsers=%q, want false", got)
			}
			if got := req.Query.Get("adjustEstimate"); got != "auto" {
				t.Errorf("adjustEstimate=%q, want auto", got)
			}
			if st := e.sim.Requests()[0].Status; st != http.StatusCreated {
				t.Errorf("simulator answered %d, want 201", st)
			}

			var body map[string]json.RawMessage
			if err := json.Unmarshal(req.Body, &body); err != nil {
				t.Fatalf("body %s: %v", req.Body, err)
			}
			var gotStarted string
			var gotSeconds int64
			if err := json.Unmarshal(body["started"], &gotStarted); err != nil {
				t.Errorf("started %s: %v", body["started"], err)
			}
			if err := json.Unmarshal(body["timeSpentSeconds"], &gotSeconds); err != nil {
				t.Errorf("timeSpentSeconds %s: %v", body["timeSpentSeconds"], err)
			}
			if gotStarted != tc.wantStarted {
				t.Errorf("started %q, want %q", gotStarted, tc.wantStarted)
			}
			if gotSeconds != tc.wantSeconds {
				t.Errorf("timeSpentSeconds %d, want %d", gotSeconds, tc.wantSeconds)
			}
			if _, ok := body["timeSpent"]; ok {
				t.Errorf("body has timeSpent as well as timeSpentSeconds: %s", req.Body)
			}
			raw, hasComment := body["comment"]
			switch {
			case tc.wantParagraphs == nil && hasComment:
				t.Errorf("comment %s, want none", raw)
			case tc.wantParagraphs != nil && !hasComment:
				t.Errorf("no comment, want paragraphs %q", tc.wantParagraphs)
			case hasComment:
				if got := paragraphs(t, raw); !reflect.DeepEqual(got, tc.wantParagraphs) {
					t.Errorf("comment paragraphs %q, want %q", got, tc.wantParagraphs)
				}
			}
			var props []struct {
				Key   string      `json:"key"`
				Value jira.Marker `json:"value"`
			}
			if err := json.Unmarshal(body["properties"], &props); err != nil {
				t.Fatalf("properties %s: %v", body["properties"], err)
			}
			wantProps := []struct {
				Key   string      `json:"key"`
				Value jira.Marker `json:"value"`
			}{{Key: "sluice", Value: jira.Marker{Workflow: workflow, Entry: "e-1"}}}
			if !reflect.DeepEqual(props, wantProps) {
				t.Errorf("properties %s, want one sluice marker {%s e-1}", body["properties"], workflow)
			}

			// What Jira stored.
			if got := w.Started.Format(jiraTime); got != tc.wantStarted {
				t.Errorf("stored started %s, want %s", got, tc.wantStarted)
			}
			if !w.Started.Equal(tc.started.Truncate(time.Millisecond)) {
				t.Errorf("stored started %s is not the instant %s", w.Started, tc.started)
			}
			if w.TimeSpentSeconds != tc.wantSeconds {
				t.Errorf("stored %d s, want %d", w.TimeSpentSeconds, tc.wantSeconds)
			}
			if got, want := w.CommentText(), strings.Join(tc.wantParagraphs, "\n"); got != want {
				t.Errorf("stored comment %q, want %q", got, want)
			}
			if m := marker(t, w); m != (jira.Marker{Workflow: workflow, Entry: "e-1"}) {
				t.Errorf("stored marker %+v", m)
			}
			if n := e.sim.Stats().Notifications; n != 0 {
				t.Errorf("%d notifications, want none", n)
			}
		})
	}
}

func TestSinkWriteOptions(t *testing.T) {
	tests := []struct {
		name          string
		notify        bool
		adjust        string
		wantNotify    string
		wantNotified  int
		wantRemaining time.Duration
	}{
		{"defaults of a workflow", false, "auto", "false", 0, 10*time.Hour - 90*time.Minute},
		{"notify and leave the estimate", true, "leave", "true", 1, 10 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, jirasim.Options{})
			e.sim.SetRemainingEstimate("WEB-1", 10*time.Hour)
			s := e.sink(t, func(c *connectors.Config) {
				c.Values["notify_users"] = tc.notify
				c.Values["adjust_estimate"] = tc.adjust
			})
			if _, err := s.Create(t.Context(), record("e-1", "WEB-1", started, 5400, "x")); err != nil {
				t.Fatalf("Create: %v", err)
			}
			q := e.tap.since(0)[0].Query
			if q.Get("notifyUsers") != tc.wantNotify || q.Get("adjustEstimate") != tc.adjust {
				t.Errorf("query %v, want notifyUsers=%s adjustEstimate=%s", q, tc.wantNotify, tc.adjust)
			}
			if n := e.sim.Stats().Notifications; n != tc.wantNotified {
				t.Errorf("%d notifications, want %d", n, tc.wantNotified)
			}
			if got, _ := e.sim.RemainingEstimate("WEB-1"); got != tc.wantRemaining {
				t.Errorf("remaining estimate %s, want %s", got, tc.wantRemaining)
			}
		})
	}
}

func TestSinkUpdate(t *testing.T) {
	later := started.Add(2 * time.Hour)
	tests := []struct {
		name string
		// meanwhile runs between Create and Update.
		meanwhile func(t *testing.T, e *env, remoteID string)
		issue     string
		// wantIssue holds the worklog afterwards; wantSameID says the remote id is kept.
		wantIssue  string
		wantSameID bool
		// wantMethods are the requests Update sends.
		wantMethods []string
	}{
		{
			name: "in place", issue: "WEB-1", wantIssue: "WEB-1", wantSameID: true,
			wantMethods: []string{"PUT /rest/api/3/issue/WEB-1/worklog/{id}"},
		},
		{
			name: "issue key differing in case only", issue: "web-1", wantIssue: "WEB-1", wantSameID: true,
			wantMethods: []string{"PUT /rest/api/3/issue/web-1/worklog/{id}"},
		},
		{
			name: "moved to another issue", issue: "WEB-2", wantIssue: "WEB-2",
			// The old worklog goes first, then the new issue is searched for one an earlier
			// attempt made, then the new one is made: never two at once.
			wantMethods: []string{"DELETE /rest/api/3/issue/WEB-1/worklog/{id}", "GET /rest/api/3/issue/WEB-2/worklog",
				"POST /rest/api/3/issue/WEB-2/worklog"},
		},
		{
			name: "deleted in Jira meanwhile", issue: "WEB-1", wantIssue: "WEB-1",
			meanwhile: func(t *testing.T, e *env, remoteID string) {
				c := jira.NewClient(e.srv.URL, email, apiToken, e.srv.Client())
				_, id, _ := strings.Cut(remoteID, "/")
				if err := c.DeleteWorklog(t.Context(), "WEB-1", id, jira.WriteOptions{AdjustEstimate: "leave"}); err != nil {
					t.Fatalf("delete behind the sink's back: %v", err)
				}
			},
			wantMethods: []string{"PUT /rest/api/3/issue/WEB-1/worklog/{id}", "POST /rest/api/3/issue/WEB-1/worklog"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, jirasim.Options{})
			s := e.sink(t, nil)
			oldID, err := s.Create(t.Context(), record("e-1", "WEB-1", started, 5400, "first draft"))
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if tc.meanwhile != nil {
				tc.meanwhile(t, e, oldID)
			}
			n := e.tap.count()

			newID, err := s.Update(t.Context(), oldID, record("e-1", tc.issue, later, 1800, "final\ntext"))
			if err != nil {
				t.Fatalf("Update: %v", err)
			}

			var got []string
			for _, r := range e.tap.since(n) {
				got = append(got, r.Method+" "+strings.Replace(r.Path, "/"+strings.SplitN(oldID, "/", 2)[1], "/{id}", 1))
				if r.Method != http.MethodGet && r.Query.Get("notifyUsers") != "false" {
					t.Errorf("%s %s without notifyUsers=false", r.Method, r.Path)
				}
			}
			if !reflect.DeepEqual(got, tc.wantMethods) {
				t.Errorf("requests %q, want %q", got, tc.wantMethods)
			}
			for _, other := range []string{"WEB-1", "WEB-2"} {
				if other != tc.wantIssue && len(e.sim.Worklogs(other)) != 0 {
					t.Errorf("%s still has worklogs: %+v", other, e.sim.Worklogs(other))
				}
			}
			w := e.only(t, tc.wantIssue)
			if want := tc.wantIssue + "/" + w.ID; newID != want {
				t.Errorf("Update returned %q, want %q", newID, want)
			}
			if same := newID == oldID; same != tc.wantSameID {
				t.Errorf("Update returned %q for %q: same id %v, want %v", newID, oldID, same, tc.wantSameID)
			}
			if !w.Started.Equal(later) || w.TimeSpentSeconds != 1800 || w.CommentText() != "final\ntext" {
				t.Errorf("worklog holds %s, %d s, %q; want %s, 1800 s, %q", w.Started, w.TimeSpentSeconds,
					w.CommentText(), later, "final\ntext")
			}
			if m := marker(t, w); m != (jira.Marker{Workflow: workflow, Entry: "e-1"}) {
				t.Errorf("marker %+v", m)
			}
		})
	}
}

func TestSinkDelete(t *testing.T) {
	e := newEnv(t, jirasim.Options{})
	s := e.sink(t, nil)
	id, err := s.Create(t.Context(), record("e-1", "WEB-1", started, 5400, "x"))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	tests := []struct {
		name       string
		remoteID   string
		wantStatus int
	}{
		{"existing worklog", id, http.StatusNoContent},
		{"already gone", id, http.StatusNotFound},
		{"issue gone", "GONE-1/100000", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(e.sim.Requests())
			if err := s.Delete(t.Context(), tc.remoteID); err != nil {
				t.Fatalf("Delete(%q): %v", tc.remoteID, err)
			}
			reqs := e.sim.Requests()[n:]
			if len(reqs) != 1 || reqs[0].Method != http.MethodDelete || reqs[0].Status != tc.wantStatus {
				t.Fatalf("requests %+v, want one DELETE answered %d", reqs, tc.wantStatus)
			}
			if q, _ := url.ParseQuery(reqs[0].Query); q.Get("notifyUsers") != "false" {
				t.Errorf("query %q, want notifyUsers=false", reqs[0].Query)
			}
			if ws := e.sim.AllWorklogs(); len(ws) != 0 {
				t.Errorf("worklogs left: %+v", ws)
			}
		})
	}
}

func TestSinkBadRemoteID(t *testing.T) {
	e := newEnv(t, jirasim.Options{})
	s := e.sink(t, nil)
	for _, id := range []string{"", "WEB-1", "WEB-1/", "/100000"} {
		t.Run(id, func(t *testing.T) {
			if err := s.Delete(t.Context(), id); err == nil {
				t.Errorf("Delete(%q) succeeded", id)
			}
			if _, err := s.Update(t.Context(), id, record("e-1", "WEB-1", started, 60, "")); err == nil {
				t.Errorf("Update(%q) succeeded", id)
			}
		})
	}
	if n := e.tap.count(); n != 0 {
		t.Errorf("%d requests sent for malformed remote ids", n)
	}
}

func TestSinkFind(t *testing.T) {
	e := newEnv(t, jirasim.Options{})
	s := e.sink(t, nil)
	ctx := t.Context()

	// Before the sink's own worklog, on the same issue at the same time: one without
	// properties, one by another workflow for the same entry, one for another entry.
	c := jira.NewClient(e.srv.URL, email, apiToken, e.srv.Client())
	_, err := c.AddWorklog(ctx, "WEB-1", jira.Worklog{Started: started.Format(jiraTime), TimeSpentSeconds: 600},
		jira.WriteOptions{AdjustEstimate: "leave"})
	if err != nil {
		t.Fatalf("add a worklog without properties: %v", err)
	}
	other := record("e-1", "WEB-1", started, 600, "x")
	other.Workflow = "invoices"
	if _, err := s.Create(ctx, other); err != nil {
		t.Fatalf("Create for another workflow: %v", err)
	}
	if _, err := s.Create(ctx, record("e-2", "WEB-1", started, 600, "x")); err != nil {
		t.Fatalf("Create for another entry: %v", err)
	}
	own, err := s.Create(ctx, record("e-1", "WEB-1", started, 5400, "x"))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if n := len(e.sim.Worklogs("WEB-1")); n != 4 {
		t.Fatalf("%d worklogs on WEB-1, want 4", n)
	}

	tests := []struct {
		name      string
		rec       connectors.Record
		fail      int // FailNext status before Find
		wantID    string
		wantFound bool
		wantErr   bool
	}{
		{name: "own worklog among others", rec: record("e-1", "WEB-1", started, 5400, "x"), wantID: own, wantFound: true},
		{name: "the other entry", rec: record("e-2", "WEB-1", started, 600, "x"), wantFound: true},
		{name: "entry never written", rec: record("e-3", "WEB-1", started, 600, "x")},
		{name: "other issue", rec: record("e-1", "WEB-2", started, 5400, "x")},
		{name: "unknown issue", rec: record("e-1", "NOPE-1", started, 5400, "x")},
		{name: "server error is not 'not found'", rec: record("e-1", "WEB-1", started, 5400, "x"),
			fail: http.StatusInternalServerError, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fail != 0 {
				e.sim.FailNext(1, tc.fail, 0)
			}
			n := e.tap.count()
			id, found, err := s.Find(ctx, tc.rec)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Find: error %v, want error %v", err, tc.wantErr)
			}
			if found != tc.wantFound {
				t.Fatalf("Find found %v (%q), want %v", found, id, tc.wantFound)
			}
			if tc.wantID != "" && id != tc.wantID {
				t.Errorf("Find returned %q, want %q", id, tc.wantID)
			}
			if found {
				issue, wid, _ := strings.Cut(id, "/")
				var hit *jirasim.Worklog
				for _, w := range e.sim.Worklogs(issue) {
					if w.ID == wid {
						hit = &w
					}
				}
				if hit == nil {
					t.Fatalf("Find returned %q, which does not exist", id)
				}
				if m := marker(t, *hit); m != (jira.Marker{Workflow: tc.rec.Workflow, Entry: tc.rec.Key}) {
					t.Errorf("Find returned %q, whose marker is %+v", id, m)
				}
			}
			for _, r := range e.tap.since(n) {
				if r.Method != http.MethodGet || r.Query.Get("expand") != "properties" {
					t.Errorf("Find sent %s %s?%s, want GETs with expand=properties", r.Method, r.Path, r.Query.Encode())
				}
			}
		})
	}
}

func TestSinkRejections(t *testing.T) {
	tests := []struct {
		name  string
		opts  jirasim.Options
		setup func(t *testing.T, e *env, s *jira.Sink)
		edit  func(*connectors.Config)
		rec   connectors.Record
		// wantStatus is the *RejectedError's status; -1 means the error must not be one.
		wantStatus int
		// wantAPIStatus, when set, is the *jira.APIError status of an error that is not a rejection.
		wantAPIStatus int
		wantWorklogs  int
	}{
		{name: "unknown issue", rec: record("e-1", "NOPE-1", started, 5400, "x"), wantStatus: http.StatusNotFound},
		{
			name: "time tracking off", rec: record("e-1", "WEB-1", started, 5400, "x"), wantStatus: http.StatusNotFound,
			setup: func(t *testing.T, e *env, _ *jira.Sink) { e.sim.SetTimeTracking(false) },
		},
		{
			name: "worklog cap", opts: jirasim.Options{MaxWorklogsPerIssue: 1},
			rec: record("e-2", "WEB-1", started, 5400, "x"), wantStatus: http.StatusRequestEntityTooLarge, wantWorklogs: 1,
			setup: func(t *testing.T, e *env, s *jira.Sink) {
				if _, err := s.Create(t.Context(), record("e-1", "WEB-1", started, 5400, "x")); err != nil {
					t.Fatalf("first Create: %v", err)
				}
			},
		},
		{
			name: "validation: marker over Jira's 32 KiB property limit",
			rec:  record(strings.Repeat("k", 40000), "WEB-1", started, 5400, "x"), wantStatus: http.StatusBadRequest,
		},
		{name: "no issue key", rec: record("e-1", "", started, 5400, "x"), wantStatus: 0},
		{name: "no start time", rec: record("e-1", "WEB-1", time.Time{}, 5400, "x"), wantStatus: 0},
		{
			name: "wrong token", rec: record("e-1", "WEB-1", started, 5400, "x"),
			wantStatus: -1, wantAPIStatus: http.StatusUnauthorized,
			edit: func(c *connectors.Config) { c.Conn["api_token"] = connectors.Secret(wrongToken) },
		},
		{
			name: "server unavailable", rec: record("e-1", "WEB-1", started, 5400, "x"),
			wantStatus: -1, wantAPIStatus: http.StatusServiceUnavailable,
			setup: func(t *testing.T, e *env, _ *jira.Sink) { e.sim.FailNext(1, http.StatusServiceUnavailable, 0) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts)
			s := e.sink(t, tc.edit)
			if tc.setup != nil {
				tc.setup(t, e, s)
			}
			id, err := s.Create(t.Context(), tc.rec)
			if err == nil {
				t.Fatalf("Create succeeded with %q", id)
			}
			var rej *connectors.RejectedError
			switch {
			case tc.wantStatus < 0 && errors.As(err, &rej):
				t.Errorf("Create: %v is a rejection, want an error that stops the run", err)
			case tc.wantStatus >= 0 && !errors.As(err, &rej):
				t.Errorf("Create: %v (%T), want a *connectors.RejectedError", err, err)
			case tc.wantStatus >= 0 && rej.Status != tc.wantStatus:
				t.Errorf("rejected with status %d, want %d: %v", rej.Status, tc.wantStatus, err)
			}
			if tc.wantAPIStatus != 0 {
				var ae *jira.APIError
				if !errors.As(err, &ae) || ae.Status != tc.wantAPIStatus {
					t.Errorf("Create: %v, want a *jira.APIError with status %d", err, tc.wantAPIStatus)
				}
			}
			if strings.Contains(err.Error(), apiToken) || strings.Contains(err.Error(), wrongToken) {
				t.Errorf("error reveals the token: %v", err)
			}
			if tc.wantStatus == 0 && e.tap.count() != 0 {
				t.Errorf("%d requests sent for a record the sink can refuse itself", e.tap.count())
			}
			if n := len(e.sim.AllWorklogs()); n != tc.wantWorklogs {
				t.Errorf("%d worklogs, want %d", n, tc.wantWorklogs)
			}
		})
	}
}

func TestSinkLostResponse(t *testing.T) {
	e := newEnv(t, jirasim.Options{})
	s := e.sink(t, nil)
	rec := record("e-1", "WEB-1", started, 5400, "x")
	e.sim.LoseNextResponse(1)

	id, err := s.Create(t.Context(), rec)
	if err == nil {
		t.Fatalf("Create succeeded with %q though the answer was lost", id)
	}
	var rej *connectors.RejectedError
	if errors.As(err, &rej) {
		t.Errorf("Create: %v is a rejection; a lost answer must stop the run", err)
	}
	if lost := e.sim.Stats().Lost; lost != 1 {
		t.Fatalf("simulator lost %d responses, want 1", lost)
	}
	w := e.only(t, "WEB-1")

	got, found, err := s.Find(t.Context(), rec)
	if err != nil || !found {
		t.Fatalf("Find after the lost answer: %q, %v, %v; want the applied worklog", got, found, err)
	}
	if want := "WEB-1/" + w.ID; got != want {
		t.Errorf("Find returned %q, want %q", got, want)
	}
}

func TestSpecCheckSink(t *testing.T) {
	tests := []struct {
		timezone string
		wantErr  bool
	}{
		{"UTC", false},
		{"Europe/Berlin", false},
		{"Mars/Olympus_Mons", true},
		{"+0100", true},
	}
	for _, tc := range tests {
		t.Run(tc.timezone, func(t *testing.T) {
			errs := jira.Spec.CheckSink(connectors.Values{"notify_users": false, "adjust_estimate": "auto", "timezone": tc.timezone})
			if !tc.wantErr {
				if len(errs) != 0 {
					t.Errorf("CheckSink: %v, want no errors", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != "timezone" || !strings.Contains(errs[0].Msg, tc.timezone) {
				t.Errorf("CheckSink: %v, want one error about timezone %q", errs, tc.timezone)
			}
			cfg := connectors.Config{
				BaseURL: "http://127.0.0.1:1",
				Conn:    connectors.Values{"email": email, "api_token": connectors.Secret(apiToken)},
				Values:  connectors.Values{"timezone": tc.timezone},
			}
			if _, err := jira.Spec.NewSink(cfg, connectors.Deps{HTTP: http.DefaultClient}); err == nil {
				t.Errorf("NewSink accepted timezone %q", tc.timezone)
			}
		})
	}
}
