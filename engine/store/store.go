package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// ErrNotFound means the row asked for does not exist.
var ErrNotFound = errors.New("store: not found")

// State is where a ledger entry stands with the sink.
type State string

// Ledger states.
const (
	// Synced: the sink holds the record whose hash is stored, under RemoteID.
	Synced State = "synced"
	// Pending: Op was started and its outcome is unknown (a crash, a lost answer). The next
	// run settles it before anything else.
	Pending State = "pending"
	// Failed: the sink refused Op; the entry is kept so the next run tries again.
	Failed State = "failed"
)

// Op is a change a run makes at a sink.
type Op string

// Operations.
const (
	Create Op = "create"
	Update Op = "update"
	Delete Op = "delete"
)

// LedgerEntry records what a workflow wrote for one source entry: the dedup ledger's row.
type LedgerEntry struct {
	Workflow string `json:"workflow,omitempty"`
	Key      string `json:"key"`
	// Hash is the content hash of the record the sink holds (Synced) or is being given.
	Hash string `json:"hash"`
	// RemoteID is the sink's id for the object; empty until created.
	RemoteID string `json:"remote_id,omitempty"`
	State    State  `json:"state"`
	// Op is the pending or failed operation.
	Op Op `json:"op,omitempty"`
	// Start is when the source entry starts, for finding deletions in snapshot windows.
	Start    time.Time `json:"start"`
	Attempts int       `json:"attempts,omitempty"`
	Error    string    `json:"error,omitempty"`
	// Entry is the source entry (JSON) while Pending or Failed, so it can be retried without
	// reading the source again.
	Entry     json.RawMessage `json:"entry,omitempty"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// LedgerWrite is one transaction on a workflow's ledger.
type LedgerWrite struct {
	// Save inserts or replaces rows by key; Remove deletes rows.
	Save   []LedgerEntry
	Remove []string
	// Intents announces the operations a run is about to send to the sink, as Pending rows
	// kept together in one intent record rather than written into the ledger one by one.
	// Should the run stop before saving their outcomes, the next run finds the record
	// (Intents) and turns each operation whose outcome is missing into a Pending row.
	Intents []LedgerEntry
	// Done deletes the intent record with this id: every outcome it announced is saved.
	Done int64
}

// Intent is an intent record: operations announced together by one run.
type Intent struct {
	ID   int64
	At   time.Time
	Rows []LedgerEntry
}

// RunStatus is how a run ended.
type RunStatus string

// Run statuses.
const (
	RunRunning   RunStatus = "running"
	RunOK        RunStatus = "ok"
	RunPartial   RunStatus = "partial" // some entries failed; the rest went through
	RunFailed    RunStatus = "failed"
	RunDeferred  RunStatus = "deferred" // not run: the quota could not afford it
	RunCancelled RunStatus = "cancelled"
)

// Run is one execution of a workflow.
type Run struct {
	ID         int64
	Workflow   string
	Trigger    string
	StartedAt  time.Time
	FinishedAt time.Time
	Status     RunStatus
	Counts
	Error string
}

// Counts tallies what a run did.
type Counts struct {
	Read, Created, Updated, Deleted, Skipped, Failed, Calls int
}

// RunItem is one entry that failed in a run, and why.
type RunItem struct {
	RunID int64
	Key   string
	// Title says which entry it is to a person: its description and start.
	Title string
	Op    Op
	Error string
}

// Call is one audited API request.
type Call struct {
	At         time.Time
	Workflow   string
	RunID      int64
	Connection string
	Method     string
	// Route is the path template; concrete ids, names and query values never appear.
	Route    string
	Status   int
	Duration time.Duration
	Bucket   string
	// QuotaRemaining is what the answer said was left, or -1 when it said nothing.
	QuotaRemaining int
	CacheHit       bool
	Retry          int
	Error          string
}

// CallCount is a workflow's audited calls: requests sent and reads answered from a cache.
type CallCount struct{ Calls, CacheHits int }

// Quota is the last state a service reported for one of a connection's buckets.
type Quota struct {
	Connection string
	Bucket     string
	Remaining  int
	// Total is the bucket's size per window; 0 while unknown.
	Total      int
	ResetsAt   time.Time
	ObservedAt time.Time
}

// ExternalUsage is quota that a connection's bucket lost to calls sluice did not make:
// another application using the same credentials.
type ExternalUsage struct {
	Connection, Bucket string
	At                 time.Time
	// Calls is how many calls were spent by others since the last record.
	Calls int
	// WindowResetsAt is when the quota window of these calls resets.
	WindowResetsAt time.Time
}

// Store is everything sluice keeps. Implementations are safe for concurrent use.
type Store interface {
	// Cursor returns the cursor saved for a workflow's source, "" when there is none.
	Cursor(ctx context.Context, workflow, source string) (string, error)
	SetCursor(ctx context.Context, workflow, source, cursor string) error

	// Ledger returns the ledger entries of a workflow for the given keys, by key.
	Ledger(ctx context.Context, workflow string, keys []string) (map[string]LedgerEntry, error)
	// LedgerWindow returns a workflow's entries whose source entries start in [from, to).
	LedgerWindow(ctx context.Context, workflow string, from, to time.Time) ([]LedgerEntry, error)
	// LedgerUnsettled returns a workflow's Pending and Failed entries.
	LedgerUnsettled(ctx context.Context, workflow string) ([]LedgerEntry, error)
	// WriteLedger applies w to a workflow's ledger in one transaction and returns the id of
	// the intent record it wrote, if w has intents.
	WriteLedger(ctx context.Context, workflow string, w LedgerWrite) (intentID int64, err error)
	// Intents returns a workflow's intent records that were never marked done: the runs that
	// wrote them stopped before saving every outcome.
	Intents(ctx context.Context, workflow string) ([]Intent, error)
	// ResetSync forgets what a workflow pushed: its cursors, ledger and intent records, so
	// that its next run starts over. Run history and the audit stay.
	ResetSync(ctx context.Context, workflow string) error
	// LedgerCount returns how many entries a workflow has, by state.
	LedgerCount(ctx context.Context, workflow string) (map[State]int, error)

	// StartRun saves a new run and sets its ID.
	StartRun(ctx context.Context, r *Run) error
	// FinishRun saves a run's outcome with the entries that failed in it.
	FinishRun(ctx context.Context, r Run, items []RunItem) error
	// Runs returns a workflow's latest runs, newest first; all workflows' when workflow is "".
	Runs(ctx context.Context, workflow string, limit int) ([]Run, error)
	// RunItems returns the failed entries of a run.
	RunItems(ctx context.Context, runID int64) ([]RunItem, error)

	// RecordCalls appends audited calls.
	RecordCalls(ctx context.Context, calls []Call) error
	// Calls returns the calls made in [from, to), oldest first, of one workflow when set.
	Calls(ctx context.Context, from, to time.Time, workflow string) ([]Call, error)

	// CallCounts returns, per workflow, the requests made and the reads answered from a
	// cache in [from, to).
	CallCounts(ctx context.Context, from, to time.Time) (map[string]CallCount, error)

	// Enabled returns the workflows whose enabled state was set at run time (UI, API, CLI);
	// the workflow file's `enabled` is only the default.
	Enabled(ctx context.Context) (map[string]bool, error)
	// SetEnabled records a workflow's enabled state.
	SetEnabled(ctx context.Context, workflow string, enabled bool) error

	// SaveQuota keeps the latest quota seen for a bucket.
	SaveQuota(ctx context.Context, q Quota) error
	// Quotas returns the latest quota of every bucket seen.
	Quotas(ctx context.Context) ([]Quota, error)
	// RecordExternalUsage appends a record of quota spent by other applications.
	RecordExternalUsage(ctx context.Context, u ExternalUsage) error
	// ExternalUsage returns the records made in [from, to), oldest first.
	ExternalUsage(ctx context.Context, from, to time.Time) ([]ExternalUsage, error)

	Close() error
}
