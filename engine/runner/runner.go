// Package runner executes one run of a workflow: pull from the source, evaluate the filter
// and map, let engine/dedup decide per entry against the ledger, and apply the decisions
// through the sink, recording each step in the store so that a crash at any point is
// recovered on the next run without a duplicate.
//
// The ledger protocol, per chunk of entries:
//
//	read ledger rows -> settle pending creates (Finder) -> decide
//	-> record every write as an intent (one transaction) -> call the sink
//	-> save each outcome Synced / Failed / removed (one transaction per flush)
//	-> with the last flush, mark the intent record done
//	-> after the whole batch: save the source cursor
//
// A run that finds intent records left by a run that stopped (a crash, a kill) first turns
// each announced write whose outcome is missing into a Pending ledger row. Pending rows are
// settled before anything else: a create is looked up at the sink by its idempotency marker,
// an update or delete is simply sent again.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/engine/dedup"
	"github.com/sluicehq/sluice/engine/httpx"
	"github.com/sluicehq/sluice/engine/quota"
	"github.com/sluicehq/sluice/engine/store"
	"github.com/sluicehq/sluice/engine/workflow"
)

// Store is what a run reads and writes.
type Store interface {
	Cursor(ctx context.Context, workflow, source string) (string, error)
	SetCursor(ctx context.Context, workflow, source, cursor string) error
	Ledger(ctx context.Context, workflow string, keys []string) (map[string]store.LedgerEntry, error)
	LedgerWindow(ctx context.Context, workflow string, from, to time.Time) ([]store.LedgerEntry, error)
	LedgerUnsettled(ctx context.Context, workflow string) ([]store.LedgerEntry, error)
	WriteLedger(ctx context.Context, workflow string, w store.LedgerWrite) (int64, error)
	Intents(ctx context.Context, workflow string) ([]store.Intent, error)
	StartRun(ctx context.Context, r *store.Run) error
	FinishRun(ctx context.Context, r store.Run, items []store.RunItem) error
	Runs(ctx context.Context, workflow string, limit int) ([]store.Run, error)
}

// Clock tells the time.
type Clock interface{ Now() time.Time }

// Options configure a Runner.
type Options struct {
	Store Store
	Clock Clock
	Log   *slog.Logger
	// Deps returns what a connection's connectors get: its HTTP client (see engine/httpx) and
	// shared state. The runner adds the logger and the clock.
	Deps func(*workflow.Connection) connectors.Deps
	// ChunkSize is how many entries are decided and marked pending together; 500 when zero.
	ChunkSize int
	// FlushEvery bounds how long sink outcomes wait before the ledger records them; 2 s when zero.
	FlushEvery time.Duration
	// AfterWrite, when set, is called after the sink accepted an operation and before the
	// ledger records it. Tests use it to crash at the worst moment.
	AfterWrite func(key string, op store.Op)
}

// Runner runs workflows. It is safe for concurrent use; one workflow must not run twice at
// once (the scheduler's singleton mode sees to it).
type Runner struct {
	o Options
}

// New returns a Runner.
func New(o Options) *Runner {
	if o.ChunkSize <= 0 {
		o.ChunkSize = 500
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = 2 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Runner{o: o}
}

// ErrRunFailed is wrapped by the error of a run that stopped before handling every entry.
var ErrRunFailed = errors.New("run failed")

// Run executes one run of wf and records it. It returns the run; the error is non-nil when
// the run failed as a whole (entries refused by the sink only make it partial).
func (r *Runner) Run(ctx context.Context, wf *workflow.Workflow, trigger string) (store.Run, error) {
	run := store.Run{Workflow: wf.Name, Trigger: trigger, StartedAt: r.o.Clock.Now(), Status: store.RunRunning}
	if err := r.o.Store.StartRun(ctx, &run); err != nil {
		return run, fmt.Errorf("runner: %s: %w", wf.Name, err)
	}
	caller := &httpx.Caller{Workflow: wf.Name, RunID: run.ID, Priority: r.priority(ctx, wf)}
	log := r.o.Log.With("workflow", wf.Name, "run_id", run.ID)
	x := &execution{r: r, wf: wf, log: log, run: &run, ev: wf.NewEvaluator()}

	runCtx, cancel := context.WithTimeout(httpx.WithCaller(ctx, caller), wf.Timeout)
	err := x.execute(runCtx)
	cancel()

	run.Calls = caller.Calls()
	run.FinishedAt = r.o.Clock.Now()
	var qe *connectors.QuotaError
	switch {
	case errors.As(err, &qe):
		// Not a failure: the budget kept the call back, or the service refused it for quota.
		run.Status, run.Error = store.RunDeferred, fmt.Sprintf("deferred until %s: %s %s bucket: %s",
			qe.Until.UTC().Format("15:04 UTC"), qe.Connection, qe.Bucket, qe.Reason)
		err = nil
	case err != nil && ctx.Err() != nil:
		run.Status, run.Error = store.RunCancelled, err.Error()
	case err != nil:
		run.Status, run.Error = store.RunFailed, err.Error()
	case run.Failed > 0:
		run.Status = store.RunPartial
	default:
		run.Status = store.RunOK
	}
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer fcancel()
	if ferr := r.o.Store.FinishRun(fctx, run, x.failures); ferr != nil {
		err = errors.Join(err, fmt.Errorf("runner: record the end of run %d: %w", run.ID, ferr))
	}
	attrs := []any{"status", run.Status, "read", run.Read, "created", run.Created, "updated", run.Updated,
		"deleted", run.Deleted, "skipped", run.Skipped, "failed", run.Failed, "calls", run.Calls,
		"duration", run.FinishedAt.Sub(run.StartedAt)}
	if err != nil {
		log.Error("run failed", append(attrs, "error", err)...)
		return run, fmt.Errorf("%w: %s: %w", ErrRunFailed, wf.Name, err)
	}
	if run.Status == store.RunDeferred {
		log.Warn("run deferred", append(attrs, "reason", run.Error)...)
		return run, nil
	}
	log.Info("run finished", attrs...)
	return run, nil
}

// priority is the workflow's priority for quota, raised one step for each of its latest
// runs that was deferred, so that no workflow starves.
func (r *Runner) priority(ctx context.Context, wf *workflow.Workflow) quota.Priority {
	p := quota.ParsePriority(wf.Priority)
	runs, err := r.o.Store.Runs(ctx, wf.Name, 2)
	if err != nil {
		return p
	}
	for _, run := range runs {
		if run.Status != store.RunDeferred || p >= quota.High {
			break
		}
		p++
	}
	return p
}

// execution is the state of one run.
type execution struct {
	r        *Runner
	wf       *workflow.Workflow
	log      *slog.Logger
	run      *store.Run
	ev       *workflow.Evaluator
	src      connectors.Source
	sink     connectors.Sink
	failures []store.RunItem
}

// item is one entry on its way through a run.
type item struct {
	entry connectors.Entry
	prev  *store.LedgerEntry
	// retry marks an entry taken from the ledger rather than from the source.
	retry bool

	want     bool
	rec      connectors.Record
	hash     string
	decision dedup.Decision
	// evalErr is an expression's runtime error: the entry fails without calling the sink.
	evalErr error
}

func (x *execution) execute(ctx context.Context) error {
	if err := x.open(); err != nil {
		return err
	}
	defer x.close()

	st := x.r.o.Store
	if err := x.recoverIntents(ctx); err != nil {
		return err
	}
	source := x.wf.Source.Connection.Name
	cursor, err := st.Cursor(ctx, x.wf.Name, source)
	if err != nil {
		return err
	}
	batch, err := x.src.Pull(ctx, connectors.Cursor(cursor))
	if err != nil {
		return fmt.Errorf("pull from %s: %w", source, err)
	}
	x.run.Read = len(batch.Entries)

	items := make([]item, 0, len(batch.Entries))
	seen := make(map[string]bool, len(batch.Entries))
	for _, e := range batch.Entries {
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		items = append(items, item{entry: e})
	}
	if w := batch.Snapshot; w != nil {
		rows, err := st.LedgerWindow(ctx, x.wf.Name, w.From, w.To)
		if err != nil {
			return err
		}
		for _, row := range rows {
			if !seen[row.Key] {
				seen[row.Key] = true
				items = append(items, item{entry: connectors.Entry{ID: row.Key, Start: row.Start, Deleted: true}})
			}
		}
	}
	retries, err := x.retries(ctx, seen)
	if err != nil {
		return err
	}
	items = append(items, retries...)

	for start := 0; start < len(items); start += x.r.o.ChunkSize {
		end := min(start+x.r.o.ChunkSize, len(items))
		if err := x.chunk(ctx, items[start:end]); err != nil {
			return err
		}
	}
	if err := st.SetCursor(ctx, x.wf.Name, source, string(batch.Next)); err != nil {
		return err
	}
	return nil
}

// recoverIntents turns the writes announced by an interrupted run, whose outcomes were never
// saved, into Pending ledger rows.
func (x *execution) recoverIntents(ctx context.Context) error {
	st := x.r.o.Store
	intents, err := st.Intents(ctx, x.wf.Name)
	if err != nil {
		return err
	}
	for _, in := range intents {
		keys := make([]string, len(in.Rows))
		for i, r := range in.Rows {
			keys[i] = r.Key
		}
		cur, err := st.Ledger(ctx, x.wf.Name, keys)
		if err != nil {
			return err
		}
		var pending []store.LedgerEntry
		for _, r := range in.Rows {
			c, ok := cur[r.Key]
			done := ok && c.State == store.Synced && c.Hash == r.Hash
			if r.Op == store.Delete {
				done = !ok
			}
			if !done {
				r.State = store.Pending
				pending = append(pending, r)
			}
		}
		if _, err := st.WriteLedger(ctx, x.wf.Name, store.LedgerWrite{Save: pending, Done: in.ID}); err != nil {
			return err
		}
		x.log.Warn("found writes of an interrupted run; settling them", "announced", len(in.Rows),
			"unsettled", len(pending), "since", in.At)
	}
	return nil
}

// retries returns the ledger's unsettled entries that the source did not send again and
// whose time has come: every Pending one, and Failed ones after a growing pause.
func (x *execution) retries(ctx context.Context, seen map[string]bool) ([]item, error) {
	rows, err := x.r.o.Store.LedgerUnsettled(ctx, x.wf.Name)
	if err != nil {
		return nil, err
	}
	now := x.r.o.Clock.Now()
	var out []item
	for _, row := range rows {
		if seen[row.Key] || (row.State == store.Failed && now.Before(row.UpdatedAt.Add(retryPause(row.Attempts)))) {
			continue
		}
		// Without a readable copy of the entry, all that can be done is to remove what was
		// pushed: treat it as deleted.
		it := item{retry: true, entry: connectors.Entry{ID: row.Key, Start: row.Start, Deleted: true}}
		if len(row.Entry) > 0 {
			var e connectors.Entry
			if err := json.Unmarshal(row.Entry, &e); err != nil || e.ID != row.Key {
				x.log.Warn("ledger copy of an entry unreadable; treating it as deleted", "entry_id", row.Key, "error", err)
			} else {
				it.entry = e
			}
		}
		seen[row.Key] = true
		out = append(out, it)
	}
	return out, nil
}

// retryPause is how long a failed entry rests before its next attempt: nothing for the
// first three tries, then 15 minutes doubling up to 6 hours.
func retryPause(attempts int) time.Duration {
	if attempts < 3 {
		return 0
	}
	d := 15 * time.Minute << min(attempts-3, 5)
	return min(d, 6*time.Hour)
}

func (x *execution) open() error {
	endpoint := func(ep workflow.Endpoint) (connectors.Config, connectors.Deps) {
		c := ep.Connection
		return connectors.Config{Workflow: x.wf.Name, Connection: c.Name, BaseURL: c.BaseURL, Conn: c.Values, Values: ep.Values},
			x.deps(c)
	}
	cfg, deps := endpoint(x.wf.Source)
	src, err := x.wf.Source.Connection.Spec.NewSource(cfg, deps)
	if err != nil {
		return fmt.Errorf("set up source %s: %w", cfg.Connection, err)
	}
	cfg, deps = endpoint(x.wf.Sink)
	sink, err := x.wf.Sink.Connection.Spec.NewSink(cfg, deps)
	if err != nil {
		closeIfCloser(src, x.log)
		return fmt.Errorf("set up sink %s: %w", cfg.Connection, err)
	}
	x.src, x.sink = src, sink
	return nil
}

func (x *execution) deps(c *workflow.Connection) connectors.Deps {
	d := x.r.o.Deps(c)
	d.Log, d.Clock = x.log.With("connector", c.Name), x.r.o.Clock
	return d
}

func (x *execution) close() {
	closeIfCloser(x.src, x.log)
	closeIfCloser(x.sink, x.log)
}

func closeIfCloser(v any, log *slog.Logger) {
	if c, ok := v.(connectors.Closer); ok {
		if err := c.Close(); err != nil {
			log.Warn("close connector", "error", err)
		}
	}
}
