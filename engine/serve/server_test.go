package serve_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	_ "github.com/sluicehq/sluice/connectors/all"
	"github.com/sluicehq/sluice/connectors/jira/jirasim"
	"github.com/sluicehq/sluice/connectors/toggl/togglsim"
	"github.com/sluicehq/sluice/demo"
	"github.com/sluicehq/sluice/engine/serve"
	"github.com/sluicehq/sluice/engine/store"
	"github.com/sluicehq/sluice/engine/store/sqlite"
)

// guard bounds every wait for something that happens in another goroutine.
const guard = 10 * time.Second

// monday 08:00 UTC: every schedule of the examples is due within the hour.
var t0 = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

// env is the demo's data in both simulators and a server on a fake clock.
type env struct {
	t      *testing.T
	clock  *clockwork.FakeClock
	dir    string
	config string
	jira   *jirasim.Server
	db     *sqlite.DB
	srv    *serve.Server
	runs   chan store.Run
	// hold, when set, makes Jira writes wait until it is closed.
	holdMu sync.Mutex
	hold   chan struct{}
	held   chan struct{}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, clock: clockwork.NewFakeClockAt(t0), dir: t.TempDir(), runs: make(chan store.Run, 100),
		held: make(chan struct{}, 100)}
	toggl := togglsim.New(togglsim.Options{Clock: e.clock, ThrottleRate: -1})
	e.jira = jirasim.New(jirasim.Options{Clock: e.clock, BurstRate: -1, IssueWriteRate: -1})
	demo.SeedToggl(toggl, t0)
	demo.SeedJira(e.jira)
	ts := httptest.NewServer(toggl)
	js := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.holdMu.Lock()
		hold := e.hold
		e.holdMu.Unlock()
		if hold != nil && r.Method != http.MethodGet {
			e.held <- struct{}{}
			<-hold
		}
		e.jira.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(js.Close)
	var err error
	site := &demo.Site{TogglURL: ts.URL, JiraURL: js.URL}
	if e.config, _, err = site.WriteConfig(e.dir); err != nil {
		t.Fatal(err)
	}
	e.start()
	return e
}

// start opens the store and starts a server, as `sluice serve` does.
func (e *env) start() {
	e.t.Helper()
	var err error
	if e.db, err = sqlite.Open(context.Background(), filepath.Join(e.dir, "sluice.db")); err != nil {
		e.t.Fatal(err)
	}
	e.srv, err = serve.New(context.Background(), serve.Options{
		Config: e.config, Env: func(string) (string, bool) { return "", false }, Store: e.db, Clock: e.clock,
		WatchEvery: -1, MaxJitter: -1, StopTimeout: 5 * time.Second,
		AfterRun: func(r store.Run) { e.runs <- r },
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.srv.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	srv, db := e.srv, e.db
	e.t.Cleanup(func() {
		_ = srv.Shutdown()
		db.Close()
	})
}

// stop shuts the server down and closes the store, as SIGTERM does.
func (e *env) stop() {
	e.t.Helper()
	if err := e.srv.Shutdown(); err != nil {
		e.t.Fatalf("shutdown: %v", err)
	}
	e.db.Close()
}

// next returns a workflow's next run as the workflows page shows it.
func (e *env) next(name string) time.Time {
	e.t.Helper()
	for _, w := range e.workflows() {
		if w.Name == name {
			return w.NextRun
		}
	}
	e.t.Fatalf("no workflow %s", name)
	return time.Time{}
}

func (e *env) workflows() []serve.WorkflowState {
	e.t.Helper()
	ws, err := e.srv.Workflows(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return ws
}

// advanceTo moves the clock to when, once the scheduler has armed its timers.
func (e *env) advanceTo(when time.Time) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := e.clock.BlockUntilContext(ctx, 2); err != nil {
		e.t.Fatalf("no timers armed: %v", err)
	}
	e.clock.Advance(when.Sub(e.clock.Now()))
}

// ran waits for n runs and returns them by workflow.
func (e *env) ran(n int) map[string]store.Run {
	e.t.Helper()
	got := map[string]store.Run{}
	for range n {
		select {
		case r := <-e.runs:
			got[r.Workflow] = r
		case <-time.After(guard):
			e.t.Fatalf("waited for %d runs, got %v", n, got)
		}
	}
	return got
}

// quiet checks that no run happens now.
func (e *env) quiet() {
	e.t.Helper()
	select {
	case r := <-e.runs:
		e.t.Fatalf("unexpected run of %s (%s)", r.Workflow, r.Trigger)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestSchedulesFollowThePlan(t *testing.T) {
	e := newEnv(t)
	// The user bucket's grid is 15 minutes (the shortest wish); every schedule is on it.
	for name, want := range map[string]time.Time{
		"website-worklogs":    t0.Add(15 * time.Minute),
		"billable-mobile":     t0.Add(30 * time.Minute),
		"internal-by-project": t0.Add(time.Hour),
		"team-support":        t0.Add(time.Hour),
		"support-rounded":     t0.Add(time.Hour), // cron hourly, Berlin
	} {
		if got := e.next(name); !got.Equal(want) {
			t.Errorf("%s: next run %s, want %s", name, got, want)
		}
	}
	e.advanceTo(t0.Add(15 * time.Minute))
	if got := e.ran(1); got["website-worklogs"].Trigger != "schedule" || got["website-worklogs"].Status == store.RunFailed {
		t.Fatalf("runs at 08:15: %+v", got)
	}
	e.quiet()
	e.advanceTo(t0.Add(30 * time.Minute))
	got := e.ran(2)
	if _, ok := got["billable-mobile"]; !ok {
		t.Fatalf("runs at 08:30: %v", got)
	}
	e.advanceTo(t0.Add(45 * time.Minute))
	if got := e.ran(1); got["website-worklogs"].ID == 0 {
		t.Fatalf("runs at 08:45: %v", got)
	}
	e.advanceTo(t0.Add(time.Hour))
	if got := e.ran(5); len(got) != 5 {
		t.Fatalf("runs at 09:00: %v", got)
	}
	// Workflows on one token polled together share one read.
	counts, err := e.db.CallCounts(context.Background(), t0.Add(59*time.Minute), t0.Add(61*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	hits := 0
	for _, c := range counts {
		hits += c.CacheHits
	}
	if hits < 2 {
		t.Errorf("at 09:00 the four mine workflows read once and the others hit the cache; cache hits %d", hits)
	}
}

func TestEnableDisableLiveAndAfterRestart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.srv.SetEnabled(ctx, "website-worklogs", false); err != nil {
		t.Fatal(err)
	}
	if !e.next("website-worklogs").IsZero() {
		t.Fatal("a disabled workflow still has a next run")
	}
	e.advanceTo(t0.Add(15 * time.Minute))
	e.quiet()
	if err := e.srv.SetEnabled(ctx, "no-such", true); !errors.Is(err, serve.ErrUnknownWorkflow) {
		t.Fatalf("enable an unknown workflow: %v", err)
	}

	e.stop()
	e.start()
	for _, w := range e.workflows() {
		if w.Name == "website-worklogs" && (w.Enabled || !w.EnabledInFile) {
			t.Fatalf("after a restart: %+v", w)
		}
	}
	if err := e.srv.SetEnabled(ctx, "website-worklogs", true); err != nil {
		t.Fatal(err)
	}
	if got := e.next("website-worklogs"); !got.Equal(t0.Add(30 * time.Minute)) {
		t.Fatalf("enabled again: next run %s", got)
	}
}

func TestRunNow(t *testing.T) {
	e := newEnv(t)
	if err := e.srv.SetEnabled(context.Background(), "billable-mobile", false); err != nil {
		t.Fatal(err)
	}
	// A disabled workflow runs when asked to.
	if err := e.srv.RunNow(context.Background(), "billable-mobile"); err != nil {
		t.Fatal(err)
	}
	got := e.ran(1)["billable-mobile"]
	if got.Trigger != "manual" || got.Created == 0 {
		t.Fatalf("manual run: %+v", got)
	}
	if err := e.srv.RunNow(context.Background(), "nope"); !errors.Is(err, serve.ErrUnknownWorkflow) {
		t.Fatalf("run an unknown workflow: %v", err)
	}
}

func TestRunNowWhileRunning(t *testing.T) {
	e := newEnv(t)
	e.holdJira()
	if err := e.srv.RunNow(context.Background(), "website-worklogs"); err != nil {
		t.Fatal(err)
	}
	e.waitHeld()
	if err := e.srv.RunNow(context.Background(), "website-worklogs"); !errors.Is(err, serve.ErrBusy) {
		t.Fatalf("second run while the first runs: %v", err)
	}
	if ws := e.workflows(); !running(ws, "website-worklogs") {
		t.Fatal("the workflows page does not show the run")
	}
	e.releaseJira()
	e.ran(1)
}

func running(ws []serve.WorkflowState, name string) bool {
	for _, w := range ws {
		if w.Name == name {
			return w.Running
		}
	}
	return false
}

func (e *env) holdJira() {
	e.holdMu.Lock()
	e.hold = make(chan struct{})
	e.holdMu.Unlock()
}

func (e *env) waitHeld() {
	e.t.Helper()
	select {
	case <-e.held:
	case <-time.After(guard):
		e.t.Fatal("no Jira write arrived")
	}
}

func (e *env) releaseJira() {
	e.holdMu.Lock()
	close(e.hold)
	e.hold = nil
	e.holdMu.Unlock()
}

func TestReloadKeepsTheLastGoodVersion(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	file := filepath.Join(e.dir, "workflows", "website-worklogs.yaml")
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// A valid change: every 30 minutes instead of 15.
	changed := strings.Replace(string(orig), "every: 15m", "every: 30m", 1)
	if err := os.WriteFile(file, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.next("website-worklogs"); !got.Equal(t0.Add(30 * time.Minute)) {
		t.Fatalf("after a valid change: next run %s, want 08:30", got)
	}
	// A broken change: the 30-minute version keeps running and the page says why.
	broken := strings.Replace(changed, "filter: entry.project", "filter: entry.projet", 1)
	if err := os.WriteFile(file, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := e.srv.Workflow(ctx, "website-worklogs", 5)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.ReloadError, `entry has no field "projet"`) || !strings.Contains(d.YAML, "every: 30m") ||
		strings.Contains(d.YAML, "projet") {
		t.Fatalf("after a broken change: reload error %q, running YAML %q", d.ReloadError, d.YAML)
	}
	e.advanceTo(t0.Add(30 * time.Minute))
	if got := e.ran(2); got["website-worklogs"].Status != store.RunOK && got["website-worklogs"].Status != store.RunPartial {
		t.Fatalf("the previous version should run: %+v", got)
	}
	// A broken sluice.yaml changes nothing.
	if err := os.WriteFile(e.config, []byte("connections: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if q, _ := e.srv.Quota(ctx); q.ConfigError == "" {
		t.Fatal("an invalid sluice.yaml is not reported")
	}
	if len(e.workflows()) != 5 {
		t.Fatal("an invalid sluice.yaml dropped workflows")
	}
}

func TestGracefulShutdownMidRun(t *testing.T) {
	e := newEnv(t)
	e.holdJira()
	if err := e.srv.RunNow(context.Background(), "website-worklogs"); err != nil {
		t.Fatal(err)
	}
	e.waitHeld()
	done := make(chan error, 1)
	go func() { done <- e.srv.Shutdown() }()
	// Shutdown waits for the running push to finish.
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned while a push was running: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	e.releaseJira()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(guard):
		t.Fatal("Shutdown did not return")
	}
	r := e.ran(1)["website-worklogs"]
	if r.Status == store.RunFailed || r.Created == 0 {
		t.Fatalf("the run cut by shutdown: %+v", r)
	}
	// The ledger is consistent: every worklog in Jira is recorded, no write left unsettled.
	ctx := context.Background()
	intents, err := e.db.Intents(ctx, "website-worklogs")
	if err != nil || len(intents) != 0 {
		t.Fatalf("intents left: %v %v", intents, err)
	}
	n, err := e.db.LedgerCount(ctx, "website-worklogs")
	if err != nil {
		t.Fatal(err)
	}
	inJira := 0
	for _, l := range e.jira.AllWorklogs() {
		if raw, ok := l.Property("sluice"); ok && strings.Contains(string(raw), "website-worklogs") {
			inJira++
		}
	}
	if n[store.Synced] != inJira || n[store.Pending] != 0 {
		t.Fatalf("ledger %v, Jira holds %d worklogs of the workflow", n, inJira)
	}
}

func TestReadModels(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.srv.RunNow(ctx, "website-worklogs"); err != nil {
		t.Fatal(err)
	}
	e.ran(1)
	d, err := e.srv.Workflow(ctx, "website-worklogs", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Runs) != 1 || d.Runs[0].Failed != 1 || len(d.Runs[0].Failures) != 1 ||
		!strings.Contains(d.Runs[0].Failures[0].Title, "WEB-404") || d.Calls24h == 0 || d.Source != "toggl: your entries" {
		t.Fatalf("detail: %+v", d)
	}
	if _, err := e.srv.Workflow(ctx, "nope", 10); !errors.Is(err, serve.ErrUnknownWorkflow) {
		t.Fatalf("unknown workflow: %v", err)
	}
	q, err := e.srv.Quota(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var user *serve.BucketReport
	for i := range q.Buckets {
		if q.Buckets[i].Bucket == "user" {
			user = &q.Buckets[i]
		}
	}
	if user == nil || user.Total != 30 || !user.Known || user.Used < 1 || len(user.Hourly) != 24 || user.Hourly[23] < 1 {
		t.Fatalf("user bucket: %+v", user)
	}
	var b strings.Builder
	if err := e.srv.WriteMetrics(ctx, &b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`sluice_runs_total{workflow="website-worklogs",status="partial"} 1`,
		`sluice_quota_total{connection="toggl",bucket="user"} 30`, `sluice_workflow_enabled{workflow="team-support"} 1`,
		`sluice_connection_up{connection="jira"} 1`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, b.String())
		}
	}
}
