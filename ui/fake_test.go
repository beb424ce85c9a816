package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sluicehq/sluice/engine/audit"
	"github.com/sluicehq/sluice/engine/httpx"
	"github.com/sluicehq/sluice/engine/serve"
	"github.com/sluicehq/sluice/engine/store"
)

func init() { gin.SetMode(gin.TestMode) }

// now is the fake clock's time in every test.
var now = time.Date(2025, 3, 10, 14, 0, 0, 0, time.UTC)

// fakeBackend answers with canned views and records what it was asked to do.
type fakeBackend struct {
	mu        sync.Mutex
	workflows []serve.WorkflowState
	details   map[string]serve.WorkflowDetail
	quota     serve.QuotaReport
	calls     []store.Call
	metrics   string

	runErr, readyErr, workflowsErr error
	panicOnQuota                   bool

	actions   []string // "enable x", "disable x", "run x"
	lastLimit int
	lastQuery *audit.Query
}

func (f *fakeBackend) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actions = append(f.actions, s)
}

func (f *fakeBackend) done() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.actions...)
}

func (f *fakeBackend) known(name string) error {
	for _, w := range f.workflows {
		if w.Name == name {
			return nil
		}
	}
	return fmt.Errorf("fake: %q: %w", name, serve.ErrUnknownWorkflow)
}

func (f *fakeBackend) Workflows(context.Context) ([]serve.WorkflowState, error) {
	return f.workflows, f.workflowsErr
}

func (f *fakeBackend) Workflow(_ context.Context, name string, limit int) (serve.WorkflowDetail, error) {
	f.mu.Lock()
	f.lastLimit = limit
	f.mu.Unlock()
	d, ok := f.details[name]
	if !ok {
		return serve.WorkflowDetail{}, fmt.Errorf("fake: %q: %w", name, serve.ErrUnknownWorkflow)
	}
	return d, nil
}

func (f *fakeBackend) SetEnabled(_ context.Context, name string, on bool) error {
	if err := f.known(name); err != nil {
		return err
	}
	if on {
		f.record("enable " + name)
	} else {
		f.record("disable " + name)
	}
	return nil
}

func (f *fakeBackend) RunNow(_ context.Context, name string) error {
	if err := f.known(name); err != nil {
		return err
	}
	if f.runErr != nil {
		return f.runErr
	}
	f.record("run " + name)
	return nil
}

func (f *fakeBackend) Quota(context.Context) (serve.QuotaReport, error) {
	if f.panicOnQuota {
		panic("fake: quota exploded")
	}
	return f.quota, nil
}

// Audit builds the report as the real backend does, from the canned calls.
func (f *fakeBackend) Audit(ctx context.Context, q audit.Query) (audit.Report, error) {
	f.mu.Lock()
	f.lastQuery = &q
	f.mu.Unlock()
	return audit.Build(ctx, f, q)
}

// Calls makes the fake an audit.Source.
func (f *fakeBackend) Calls(_ context.Context, from, to time.Time, workflow string) ([]store.Call, error) {
	var out []store.Call
	for _, c := range f.calls {
		if !c.At.Before(from) && c.At.Before(to) && (workflow == "" || c.Workflow == workflow) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeBackend) WriteMetrics(_ context.Context, w io.Writer) error {
	_, err := io.WriteString(w, f.metrics)
	return err
}

func (f *fakeBackend) Ready(context.Context) error { return f.readyErr }

// hourly is a day of requests per hour with a peak of 27.
var hourly = []int{0, 1, 2, 0, 0, 3, 5, 8, 13, 21, 27, 20, 14, 9, 4, 2, 1, 0, 0, 6, 7, 11, 12, 14}

func newFake() *fakeBackend {
	lastRun := store.Run{ID: 7, Workflow: "daily-sync", Trigger: "schedule", StartedAt: now.Add(-26 * time.Minute),
		FinishedAt: now.Add(-26*time.Minute + 3*time.Second), Status: store.RunOK,
		Counts: store.Counts{Read: 12, Created: 3, Updated: 1, Calls: 4}}
	failed := store.Run{ID: 8, Workflow: "daily-sync", Trigger: "manual", StartedAt: now.Add(-10 * time.Minute),
		FinishedAt: now.Add(-10*time.Minute + 1500*time.Millisecond), Status: store.RunPartial,
		Counts: store.Counts{Read: 5, Created: 3, Failed: 2, Calls: 6}, Error: "2 entries failed"}
	daily := serve.WorkflowState{
		Name: "daily-sync", Description: "<script>alert(1)</script> Toggl to Jira, every working day",
		File: "workflows/daily-sync.yaml", Source: "toggl: your entries", Sink: "jira",
		Wished: "every 5m", Effective: "every 15m", PlanWarning: "slowed to every 15m: the quota affords 4 runs an hour",
		Priority: "normal", Enabled: true, EnabledInFile: true, NextRun: now.Add(4*time.Minute + 10*time.Second),
		LastRun: &failed, Calls24h: 42, CacheHits24h: 9,
	}
	broken := serve.WorkflowState{
		Name: "weekly-report", Description: "Weekly summary", File: "workflows/weekly.yaml",
		Source: "toggl: workspace 42", Sink: "slack", Wished: "cron 0 9 * * MON", Effective: "cron 0 9 * * MON",
		Enabled: false, EnabledInFile: true, Running: true,
		ReloadError: `workflows/weekly.yaml:14:12: unknown field "chanel" in slack sink (did you mean "channel"?)`,
	}
	f := &fakeBackend{
		workflows: []serve.WorkflowState{daily, broken},
		details: map[string]serve.WorkflowDetail{
			"daily-sync": {WorkflowState: daily,
				YAML: "name: daily-sync\ndescription: \"<script>alert('yaml')</script>\"\nschedule: every 5m\n",
				Runs: []serve.RunDetail{
					{Run: failed, Failures: []store.RunItem{
						{RunID: 8, Key: "toggl:1001", Title: "Standup (2025-03-10 09:00)", Op: store.Create, Error: "jira: issue PROJ-1 does not exist"},
						{RunID: 8, Key: "toggl:1002", Title: "<b>Review</b> (2025-03-10 10:00)", Op: store.Create, Error: "jira: 400 worklog refused"},
					}},
					{Run: lastRun},
				}},
			"weekly-report": {WorkflowState: broken, YAML: "name: weekly-report\n"},
		},
		quota: serve.QuotaReport{
			Now: now,
			Buckets: []serve.BucketReport{
				{Connection: "jira", Bucket: "", Known: false, Level: "ok", Hourly: make([]int, 24),
					Health: httpx.HealthState{BadCredentials: true, RefusedAt: now.Add(-5 * time.Minute), RefusedStatus: 401}},
				{Connection: "toggl", Bucket: "org", Total: 240, Used: 230, Remaining: 10, Reserve: 24, Known: true,
					ResetsIn: 12 * time.Minute, Level: "critical", Advice: "sluice is spending most of it: lower the polling",
					Hourly: make([]int, 24), Health: httpx.HealthState{OpenUntil: now.Add(9 * time.Minute), Failures: 5}},
				{Connection: "toggl", Bucket: "user", Total: 30, Used: 14, Remaining: 16, Reserve: 3, Known: true,
					ResetsIn: 41*time.Minute + 20*time.Second, Level: "ok", Hourly: hourly, External: 2,
					Spenders: []audit.Spender{{Connection: "toggl", Bucket: "user", Workflow: "daily-sync", Calls: 40, CacheHits: 9}},
					Health:   httpx.HealthState{OpenUntil: now.Add(9 * time.Minute), Failures: 5}},
			},
			External: []store.ExternalUsage{{Connection: "toggl", Bucket: "user", At: now.Add(-2 * time.Hour), Calls: 5,
				WindowResetsAt: now.Add(-90 * time.Minute)}},
			ConfigError: `sluice.yaml:4:3: connection "toggl": token is empty`,
		},
		metrics: "# HELP sluice_runs_total Workflow runs, by status.\n# TYPE sluice_runs_total counter\nsluice_runs_total{workflow=\"daily-sync\",status=\"ok\"} 3\n",
	}
	for i, at := range []time.Duration{-3 * time.Hour, -150 * time.Minute, -2 * time.Hour, -30 * time.Minute, -30 * time.Hour} {
		c := store.Call{At: now.Add(at), Workflow: "daily-sync", RunID: int64(i), Connection: "toggl", Method: "GET",
			Route: "/api/v9/me/time_entries", Status: 200, Duration: 120 * time.Millisecond, Bucket: "user"}
		if i == 2 {
			c.Status, c.Error = 500, "server error"
		}
		if i == 3 {
			c.CacheHit, c.Duration, c.Bucket = true, 0, ""
		}
		f.calls = append(f.calls, c)
	}
	f.calls = append(f.calls, store.Call{At: now.Add(-time.Hour), Workflow: "daily-sync", Connection: "jira", Method: "POST",
		Route: "/rest/api/3/issue/{key}/worklog", Status: 201, Duration: 300 * time.Millisecond})
	return f
}

// server builds the handler over f with the fake clock.
func server(t *testing.T, f *fakeBackend, token string) http.Handler {
	t.Helper()
	h, err := New(f, Options{Token: token, Version: "v1.2.3-test", Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h
}

// req is a request with optional headers as "Name: value".
func req(method, target string, body io.Reader, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, body)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		r.Header.Add(k, v)
	}
	if body != nil && r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return r
}

func serve1(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func get(h http.Handler, target string, headers ...string) *httptest.ResponseRecorder {
	return serve1(h, req(http.MethodGet, target, nil, headers...))
}

var tokenField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// session loads the workflows page as a browser would and returns the token its forms
// carry.
func session(t *testing.T, h http.Handler, headers ...string) string {
	t.Helper()
	w := get(h, "/workflows", headers...)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /workflows = %d", w.Code)
	}
	m := tokenField.FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatal("no csrf_token field in the page")
	}
	return m[1]
}

var errBoom = errors.New("fake: database is on fire (secret detail)")
