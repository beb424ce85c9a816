package connectors

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Entry is one time entry as a source reports it, normalised across services. Workflow
// expressions see it as `entry`, with the snake_case names of the expr tags.
type Entry struct {
	ID          string    `expr:"id" json:"id"`
	WorkspaceID int64     `expr:"workspace_id" json:"workspace_id,omitempty"`
	ProjectID   int64     `expr:"project_id" json:"project_id,omitempty"`
	Project     string    `expr:"project" json:"project,omitempty"`
	Client      string    `expr:"client" json:"client,omitempty"`
	TaskID      int64     `expr:"task_id" json:"task_id,omitempty"`
	Task        string    `expr:"task" json:"task,omitempty"`
	UserID      int64     `expr:"user_id" json:"user_id,omitempty"`
	User        string    `expr:"user" json:"user,omitempty"`
	Email       string    `expr:"email" json:"email,omitempty"`
	Description string    `expr:"description" json:"description,omitempty"`
	Start       time.Time `expr:"start" json:"start"`
	Stop        time.Time `expr:"stop" json:"stop,omitzero"`
	// Duration is in seconds; negative while the entry is running.
	Duration  int       `expr:"duration" json:"duration"`
	Billable  bool      `expr:"billable" json:"billable,omitempty"`
	Tags      []string  `expr:"tags" json:"tags,omitempty"`
	UpdatedAt time.Time `expr:"updated_at" json:"updated_at,omitzero"`
	// Deleted marks a tombstone: the entry was deleted at the source.
	Deleted bool `expr:"deleted" json:"deleted,omitempty"`
}

// Running reports whether the entry is still being timed.
func (e *Entry) Running() bool { return e.Duration < 0 }

// Cursor is a source's opaque bookmark: where the next pull starts. The engine stores it per
// workflow and source. The zero Cursor means "never pulled": the source backfills.
type Cursor string

// Window is a half-open time range [From, To).
type Window struct{ From, To time.Time }

// Contains reports whether t lies in the window.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.From) && t.Before(w.To) }

// Batch is what one pull returns.
type Batch struct {
	// Entries changed since the cursor, deletions included as tombstones.
	Entries []Entry
	// Next is the cursor for the following pull.
	Next Cursor
	// Snapshot, when set, says Entries hold every live entry starting inside it: an entry the
	// workflow pushed earlier from this window and missing now was deleted at the source.
	Snapshot *Window
}

// Source reads time entries from a service.
//
// Pull is called by one goroutine at a time per Source. It returns entries changed since the
// cursor; a zero cursor means the first pull, which backfills the configured window. Pull must
// return promptly with ctx's error when ctx ends, and must not advance any state of its own:
// the engine stores Next only after the batch has been handled, so a failed run re-reads.
type Source interface {
	Pull(ctx context.Context, cursor Cursor) (Batch, error)
}

// Record is one mapped entry on its way to a sink.
type Record struct {
	// Workflow is the name of the workflow pushing the record.
	Workflow string
	// Key identifies the source entry; with Workflow it is the record's idempotency key.
	Key string
	// Entry is the source entry the record was mapped from.
	Entry Entry
	// Fields holds the sink's map fields, typed as the sink's Spec declares them.
	Fields Values
}

// Sink writes records to a service.
//
// The engine calls a Sink from one goroutine at a time. Create returns the remote object's id,
// which the engine stores and passes back to Update and Delete. Update may return a new id when
// the service cannot change an object in place (a worklog moving to another issue). Delete of
// an object that is already gone succeeds. A *RejectedError means the service refused this
// record and the run goes on; any other error stops the run.
type Sink interface {
	Create(ctx context.Context, rec Record) (remoteID string, err error)
	Update(ctx context.Context, remoteID string, rec Record) (newRemoteID string, err error)
	Delete(ctx context.Context, remoteID string) error
}

// Finder is implemented by sinks that mark what they create with the record's idempotency key.
// The engine asks Find before re-creating a record whose earlier create may have been applied
// without being acknowledged (a crash, a lost response), so that no duplicate is made.
type Finder interface {
	Find(ctx context.Context, rec Record) (remoteID string, found bool, err error)
}

// Closer is implemented by sources and sinks that hold resources.
type Closer interface{ Close() error }

// Clock tells the time. The engine passes its own, so tests can control it.
type Clock interface{ Now() time.Time }

// Deps is what the engine gives a connector.
type Deps struct {
	// HTTP is the connection's client: quota, backoff and auditing are already applied.
	HTTP *http.Client
	// Log is scoped to the workflow and connection.
	Log *slog.Logger
	// Clock tells the time.
	Clock Clock
	// Shared is state that every source and sink of the connection share for the life of
	// the process, such as what was read recently. Nil means nothing is shared.
	Shared *Shared
	// CacheHit records in the audit that a read was answered from Shared instead of the
	// API. Nil when nothing is shared.
	CacheHit func(ctx context.Context, method, route string)
	// QuotaLeft says how many calls of a bucket the connection may still make in the
	// current window (above the reserve), and whether that is known; a source with several
	// ways to read picks the one whose bucket can afford it. Nil when unmetered.
	QuotaLeft func(bucket string) (left int, known bool)
}

// Shared is a connection's shared state: values by key, made on first use.
type Shared struct {
	mu     sync.Mutex
	values map[string]any
}

// Value returns the value under key, making it with make the first time. Values must be
// safe for concurrent use.
func (s *Shared) Value(key string, make func() any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.values[key]; ok {
		return v
	}
	if s.values == nil {
		s.values = map[string]any{}
	}
	v := make()
	s.values[key] = v
	return v
}

// Config is a connection's settings plus those of the workflow's source or sink block.
type Config struct {
	// Workflow names the workflow the source or sink is built for.
	Workflow string
	// Connection is the connection's name in sluice.yaml.
	Connection string
	// BaseURL is the service's address, without a trailing slash.
	BaseURL string
	// Conn holds the connection's fields, Values those of the source or sink block.
	Conn, Values Values
}

// Spec describes a connector. It is data, so validation, docs and forms come from it.
type Spec struct {
	// Name is the connection `type:` in sluice.yaml, in snake_case.
	Name string
	// Doc is one sentence for listings.
	Doc string
	// BaseURL is the default base_url of a connection.
	BaseURL string
	// Connection lists the fields a connection of this type takes besides type and base_url.
	Connection []Field
	// Source and Sink list the fields of a workflow's source or sink block besides connection.
	Source, Sink []Field
	// Map lists the fields a sink's map block sets; Default holds expressions.
	Map []Field
	// CheckSource and CheckSink validate rules across fields, after each field was checked.
	CheckSource, CheckSink func(Values) []FieldError
	// Quota is the service's metering, or nil.
	Quota QuotaPolicy
	// QuotaTotals returns the buckets' sizes per window that a connection's settings imply
	// (a plan, say); buckets it leaves out are learned from the service.
	QuotaTotals func(conn Values) map[string]int
	// ProbeQuota asks the service for the state of every bucket of a connection. It costs a
	// call itself, so the engine makes it only when it needs totals it cannot know otherwise.
	ProbeQuota func(ctx context.Context, cfg Config, deps Deps) (map[string]Quota, error)
	// PollCost says what one poll of a source block costs in its connection's quota, for
	// planning; nil when polling is unmetered.
	PollCost func(source Values) PollCost
	// NewSource and NewSink build a source or a sink; nil when the connector is not one.
	NewSource func(Config, Deps) (Source, error)
	NewSink   func(Config, Deps) (Sink, error)
}

// PollCost is what one poll costs: Calls in Bucket. Polls of sources with the same non-empty
// Share key on one connection are answered by one read when they happen together.
type PollCost struct {
	Bucket, Share string
	Calls         float64
}

// FieldError is a problem with one field of a block.
type FieldError struct {
	Field string
	Msg   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

var (
	registryMu sync.RWMutex
	registry   = map[string]Spec{}
)

// Register adds a connector. Call it from init. It panics on an empty or duplicate name, or a
// spec that is neither source nor sink: those are programming errors found at start-up.
func Register(s Spec) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if s.Name == "" {
		panic("connectors: Register with an empty name")
	}
	if _, dup := registry[s.Name]; dup {
		panic(fmt.Sprintf("connectors: Register called twice for %q", s.Name))
	}
	if s.NewSource == nil && s.NewSink == nil {
		panic(fmt.Sprintf("connectors: %q is neither a source nor a sink", s.Name))
	}
	registry[s.Name] = s
}

// Lookup returns the connector registered under name.
func Lookup(name string) (Spec, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	s, ok := registry[name]
	return s, ok
}

// Names lists the registered connectors in order.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
