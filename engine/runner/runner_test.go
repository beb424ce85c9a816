package runner_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/engine/runner"
	"github.com/sluicehq/sluice/engine/store"
	"github.com/sluicehq/sluice/engine/store/sqlite"
	"github.com/sluicehq/sluice/engine/workflow"
)

// harness is one workflow over a memory source and sink, with a real SQLite store.
type harness struct {
	t     testing.TB
	src   *memSource
	sink  *memSink
	db    *sqlite.DB
	wf    *workflow.Workflow
	r     *runner.Runner
	clock *clockwork.FakeClock
}

// newHarness loads a workflow whose body (filter, map, policies) is given.
func newHarness(t testing.TB, body string, opts ...func(*runner.Options)) *harness {
	t.Helper()
	dir := t.TempDir()
	cfg := "workflows: w.yaml\nconnections:\n" +
		"  src: {type: mem_source, base_url: 'http://127.0.0.1:9'}\n" +
		"  dst: {type: mem_sink, base_url: 'http://127.0.0.1:9'}\n"
	wf := "name: test-flow\nsource: {connection: src}\nsink: {connection: dst}\n" + body
	for name, text := range map[string]string{"sluice.yaml": cfg, "w.yaml": wf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := workflow.Load(filepath.Join(dir, "sluice.yaml"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := &harness{t: t, src: newMemSource(), sink: newMemSink(), db: db, wf: p.Workflows[0],
		clock: clockwork.NewFakeClockAt(day.Add(30 * 24 * time.Hour))}
	o := runner.Options{Store: db, Clock: h.clock, Deps: noDeps}
	for _, f := range opts {
		f(&o)
	}
	h.r = runner.New(o)
	return h
}

// noDeps gives the memory connectors nothing: they make no requests.
func noDeps(*workflow.Connection) connectors.Deps { return connectors.Deps{} }

// run runs the workflow once with this harness's source and sink installed.
func (h *harness) run() (store.Run, error) {
	h.t.Helper()
	current.Lock()
	current.src, current.sink = h.src, h.sink
	current.Unlock()
	return h.r.Run(context.Background(), h.wf, "test")
}

// mustRun runs and checks the run's status and counts.
func (h *harness) mustRun(status store.RunStatus, want store.Counts) store.Run {
	h.t.Helper()
	r, err := h.run()
	if (err != nil) != (status == store.RunFailed) {
		h.t.Fatalf("run error = %v with status %s", err, r.Status)
	}
	if r.Status != status {
		h.t.Fatalf("status = %s (error %q, counts %+v), want %s", r.Status, r.Error, r.Counts, status)
	}
	got := r.Counts
	got.Calls = 0
	if got != want {
		h.t.Fatalf("counts = %+v, want %+v", got, want)
	}
	return r
}

// atSink returns the sink's records by key, failing on duplicates.
func (h *harness) atSink() map[string]connectors.Record {
	h.t.Helper()
	m, err := h.sink.byKey()
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

func (h *harness) ledger() map[store.State]int {
	h.t.Helper()
	n, err := h.db.LedgerCount(context.Background(), h.wf.Name)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func TestPushOnceUpdateDelete(t *testing.T) {
	h := newHarness(t, "filter: entry.billable\n")
	h.src.put(entry(1, "write docs", 30))
	h.src.put(entry(2, "review", 45))
	nb := entry(3, "lunch", 60)
	nb.Billable = false
	h.src.put(nb)

	h.mustRun(store.RunOK, store.Counts{Read: 3, Created: 2, Skipped: 1})
	if got := h.atSink(); len(got) != 2 || got["1"].Fields.String("title") != "write docs" || got["2"].Fields["seconds"] != 2700 {
		t.Fatalf("sink holds %+v", got)
	}
	// Nothing changed: the source sends nothing, nothing is written.
	h.mustRun(store.RunOK, store.Counts{})

	h.src.edit("1", func(e *connectors.Entry) { e.Description = "write more docs" })
	h.src.edit("2", func(e *connectors.Entry) { e.Tags = []string{"x"} }) // not a mapped field
	h.src.remove("3")                                                     // never pushed
	h.mustRun(store.RunOK, store.Counts{Read: 3, Updated: 1, Skipped: 2})
	if got := h.atSink()["1"].Fields.String("title"); got != "write more docs" {
		t.Fatalf("title after update = %q", got)
	}

	h.src.remove("2")
	h.src.edit("1", func(e *connectors.Entry) { e.Billable = false }) // no longer matches the filter
	h.mustRun(store.RunOK, store.Counts{Read: 2, Deleted: 2})
	if got := h.atSink(); len(got) != 0 {
		t.Fatalf("sink still holds %v", got)
	}
	if n := h.ledger(); len(n) != 0 {
		t.Fatalf("ledger keeps %v after deletions", n)
	}
	if h.sink.ops["create"] != 2 || h.sink.ops["update"] != 1 || h.sink.ops["delete"] != 2 {
		t.Fatalf("sink operations = %v", h.sink.ops)
	}
}

func TestPoliciesIgnore(t *testing.T) {
	h := newHarness(t, "on_update: ignore\non_delete: ignore\n")
	h.src.put(entry(1, "a", 10))
	h.mustRun(store.RunOK, store.Counts{Read: 1, Created: 1})
	h.src.edit("1", func(e *connectors.Entry) { e.Description = "b" })
	h.mustRun(store.RunOK, store.Counts{Read: 1, Skipped: 1})
	h.src.remove("1")
	h.mustRun(store.RunOK, store.Counts{Read: 1, Skipped: 1})
	if got := h.atSink()["1"].Fields.String("title"); got != "a" {
		t.Fatalf("sink holds %q, want the first version kept", got)
	}
}

func TestRunningAndIncompleteEntriesWait(t *testing.T) {
	h := newHarness(t, "map:\n  title: jiraKey(entry.description)\n")
	running := entry(1, "WEB-1 still going", 0)
	running.Duration, running.Stop = -1, time.Time{}
	h.src.put(running)
	h.src.put(entry(2, "no key", 10))
	h.mustRun(store.RunOK, store.Counts{Read: 2, Skipped: 2})

	h.src.edit("1", func(e *connectors.Entry) { e.Duration = 600; e.Stop = e.Start.Add(10 * time.Minute) })
	h.src.edit("2", func(e *connectors.Entry) { e.Description = "WEB-2 now with key" })
	h.mustRun(store.RunOK, store.Counts{Read: 2, Created: 2})
	if got := h.atSink()["2"].Fields.String("title"); got != "WEB-2" {
		t.Fatalf("title = %q", got)
	}
	// The key is removed again: the record is incomplete, so what was pushed goes.
	h.src.edit("2", func(e *connectors.Entry) { e.Description = "key gone" })
	h.mustRun(store.RunOK, store.Counts{Read: 1, Deleted: 1})
}

func TestRejectedEntriesAreRetriedFromTheLedger(t *testing.T) {
	h := newHarness(t, "")
	h.src.put(entry(1, "fine", 10))
	h.src.put(entry(2, "refused", 10))
	h.sink.reject["2"] = "issue WEB-999 does not exist"

	r := h.mustRun(store.RunPartial, store.Counts{Read: 2, Created: 1, Failed: 1})
	items, err := h.db.RunItems(context.Background(), r.ID)
	if err != nil || len(items) != 1 || items[0].Key != "2" || !strings.Contains(items[0].Error, "WEB-999") {
		t.Fatalf("run items = %+v, %v", items, err)
	}
	if n := h.ledger(); n[store.Failed] != 1 || n[store.Synced] != 1 {
		t.Fatalf("ledger = %v", n)
	}
	// The source sends nothing new; the failed entry comes from the ledger and fails again.
	h.mustRun(store.RunPartial, store.Counts{Failed: 1})
	delete(h.sink.reject, "2")
	h.mustRun(store.RunOK, store.Counts{Created: 1})
	if got := h.atSink(); len(got) != 2 {
		t.Fatalf("sink holds %d records, want 2", len(got))
	}
	if n := h.ledger(); n[store.Synced] != 2 || len(n) != 1 {
		t.Fatalf("ledger = %v", n)
	}
}

func TestFailedEntriesBackOff(t *testing.T) {
	h := newHarness(t, "")
	h.src.put(entry(1, "refused", 10))
	h.sink.reject["1"] = "no"
	for range 3 {
		h.mustRun(store.RunPartial, store.Counts{Read: 0 + boolInt(h.src.pulls == 0), Failed: 1})
	}
	// After three attempts the entry rests for 15 minutes.
	h.mustRun(store.RunOK, store.Counts{})
	h.clock.Advance(16 * time.Minute)
	h.mustRun(store.RunPartial, store.Counts{Failed: 1})
	// A change at the source is tried at once, whatever the pause.
	delete(h.sink.reject, "1")
	h.src.edit("1", func(e *connectors.Entry) { e.Description = "fixed" })
	h.mustRun(store.RunOK, store.Counts{Read: 1, Created: 1})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestExpressionErrorsFailTheEntryOnly(t *testing.T) {
	h := newHarness(t, "map:\n  title: 'entry.tags[0]'\n")
	ok := entry(1, "tagged", 10)
	ok.Tags = []string{"docs"}
	h.src.put(ok)
	h.src.put(entry(2, "untagged", 10))
	r := h.mustRun(store.RunPartial, store.Counts{Read: 2, Created: 1, Failed: 1})
	items, _ := h.db.RunItems(context.Background(), r.ID)
	if len(items) != 1 || items[0].Key != "2" || !strings.Contains(items[0].Error, "map.title") {
		t.Fatalf("items = %+v", items)
	}
}

func TestLostAnswerIsSettledWithoutDuplicate(t *testing.T) {
	h := newHarness(t, "")
	for i := 1; i <= 5; i++ {
		h.src.put(entry(i, "e", 10))
	}
	h.sink.failAfter = 3 // the third create is applied, but its answer is lost
	r, err := h.run()
	if err == nil || r.Status != store.RunFailed || r.Created != 2 {
		t.Fatalf("run = %+v, %v; want failed after 2 creates", r.Counts, err)
	}
	if n := h.ledger(); n[store.Synced] != 2 || len(n) != 1 {
		t.Fatalf("ledger = %v, want the 2 acknowledged creates synced", n)
	}
	intents, err := h.db.Intents(context.Background(), h.wf.Name)
	if err != nil || len(intents) != 1 || len(intents[0].Rows) != 5 {
		t.Fatalf("intents = %+v, %v; want the run's one record announcing 5 creates", intents, err)
	}
	h.sink.failAfter = 0
	// The cursor did not move: the source sends all five again. The applied one is found by
	// its marker; the other two are created.
	h.mustRun(store.RunOK, store.Counts{Read: 5, Created: 2, Skipped: 3})
	if got := h.atSink(); len(got) != 5 {
		t.Fatalf("sink holds %d records, want 5", len(got))
	}
	if h.sink.finds != 3 {
		t.Fatalf("finds = %d, want one per pending create", h.sink.finds)
	}
	if n := h.ledger(); n[store.Synced] != 5 || len(n) != 1 {
		t.Fatalf("ledger = %v", n)
	}
	if intents, _ := h.db.Intents(context.Background(), h.wf.Name); len(intents) != 0 {
		t.Fatalf("intent records left: %+v", intents)
	}
}

func TestCrashBetweenAcceptAndLedger(t *testing.T) {
	// The process dies right after the sink accepted the second create: simulate it by
	// cancelling everything at that moment; the ledger write of the outcome never happens.
	crash := errors.New("crash")
	h := newHarness(t, "", func(o *runner.Options) {
		n := 0
		o.AfterWrite = func(string, store.Op) {
			n++
			if n == 2 {
				panic(crash)
			}
		}
	})
	for i := 1; i <= 4; i++ {
		h.src.put(entry(i, "e", 10))
	}
	func() {
		defer func() {
			if r := recover(); r != crash {
				t.Fatalf("recovered %v", r)
			}
		}()
		h.run()
	}()
	// A new process: a fresh runner on the same database.
	h.r = runner.New(runner.Options{Store: h.db, Clock: h.clock, Deps: noDeps})
	h.mustRun(store.RunOK, store.Counts{Read: 4, Created: 2, Skipped: 2})
	if got := h.atSink(); len(got) != 4 {
		t.Fatalf("sink holds %d, want 4 without duplicates", len(got))
	}
}

func TestFatalSinkErrorKeepsTheCursor(t *testing.T) {
	h := newHarness(t, "")
	h.src.put(entry(1, "a", 10))
	h.src.put(entry(2, "b", 10))
	h.sink.fatal = errors.New("401 unauthorized")
	r, err := h.run()
	if err == nil || r.Status != store.RunFailed || !strings.Contains(r.Error, "401") {
		t.Fatalf("run = %+v %q, %v", r.Counts, r.Error, err)
	}
	h.sink.fatal = nil
	h.mustRun(store.RunOK, store.Counts{Read: 2, Created: 2})
}

func TestPullFailure(t *testing.T) {
	h := newHarness(t, "")
	h.src.failPull = errors.New("toggl: GET /api/v9/me/time_entries: HTTP 500")
	r, err := h.run()
	if !errors.Is(err, runner.ErrRunFailed) || r.Status != store.RunFailed || !strings.Contains(r.Error, "pull from src") {
		t.Fatalf("run = %s %q, %v", r.Status, r.Error, err)
	}
	runs, _ := h.db.Runs(context.Background(), "test-flow", 10)
	if len(runs) != 1 || runs[0].Status != store.RunFailed || runs[0].FinishedAt.IsZero() {
		t.Fatalf("recorded runs = %+v", runs)
	}
}

func TestSnapshotFindsDeletions(t *testing.T) {
	h := newHarness(t, "")
	h.src.snapshot = &connectors.Window{From: day, To: day.Add(7 * 24 * time.Hour)}
	for i := 1; i <= 3; i++ {
		h.src.put(entry(i, "e", 10))
	}
	h.mustRun(store.RunOK, store.Counts{Read: 3, Created: 3})
	h.mustRun(store.RunOK, store.Counts{Read: 3, Skipped: 3})
	h.src.remove("2") // gone from the snapshot: no tombstone is sent
	h.mustRun(store.RunOK, store.Counts{Read: 2, Deleted: 1, Skipped: 2})
	if _, ok := h.atSink()["2"]; ok {
		t.Fatal("entry 2 is still at the sink")
	}
}

func TestCancelledRun(t *testing.T) {
	h := newHarness(t, "")
	h.src.put(entry(1, "a", 10))
	ctx, cancel := context.WithCancel(context.Background())
	h.src.onPull = cancel // the user presses Ctrl-C while the source is read
	current.Lock()
	current.src, current.sink = h.src, h.sink
	current.Unlock()
	r, err := h.r.Run(ctx, h.wf, "test")
	if err == nil || r.Status != store.RunCancelled {
		t.Fatalf("run = %s, %v; want cancelled", r.Status, err)
	}
	runs, _ := h.db.Runs(context.Background(), "", 1)
	if len(runs) != 1 || runs[0].Status != store.RunCancelled {
		t.Fatalf("recorded = %+v", runs)
	}
}
