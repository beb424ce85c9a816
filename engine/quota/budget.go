package quota

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/engine/store"
)

// Key names one budget: a bucket of one connection's credential.
type Key struct{ Connection, Bucket string }

func (k Key) String() string { return k.Connection + "/" + k.Bucket }

// Priority orders workflows when a budget is short: the lower, the earlier deferred.
type Priority int

// Priorities.
const (
	Low    Priority = -1
	Normal Priority = 0
	High   Priority = 1
)

// ParsePriority reads a workflow's priority: "high", "normal" or "low"; anything else is
// normal.
func ParsePriority(s string) Priority {
	switch s {
	case "high":
		return High
	case "low":
		return Low
	}
	return Normal
}

// lowShare is the share of a bucket, above the reserve, that low-priority calls leave to the
// others: they are deferred once less than this is left.
const lowShare = 0.15

// Window is how long a quota window lasts when a service does not say.
const Window = time.Hour

// Store keeps budgets across restarts and records external usage; the store implements it.
type Store interface {
	SaveQuota(ctx context.Context, q store.Quota) error
	Quotas(ctx context.Context) ([]store.Quota, error)
	RecordExternalUsage(ctx context.Context, u store.ExternalUsage) error
}

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// Options configure a Budget.
type Options struct {
	Store Store
	Clock Clock
	Log   *slog.Logger
	// Reserve is the share of every bucket left for the user's own use of the service; 0.10
	// when zero, none when negative.
	Reserve float64
	// MaxWait is the longest a call waits for its bucket to reset, when the caller's
	// deadline allows; beyond it the call is deferred. 10 minutes when zero.
	MaxWait time.Duration
}

// Budget decides, before every metered call, whether it may be sent. It holds one state per
// bucket, learned from every answer's quota report and kept in the store, so that it
// survives restarts. It is safe for concurrent use.
type Budget struct {
	o  Options
	mu sync.Mutex
	// changed is closed and replaced whenever a bucket may have room again.
	changed chan struct{}
	buckets map[Key]*bucket
}

// bucket is what is known of one bucket.
type bucket struct {
	// total is the bucket's size per window; 0 while unknown.
	total int
	// known is false until a service reported the bucket; remaining and resetsAt are then
	// its last report, less our calls answered since.
	known     bool
	remaining int
	resetsAt  time.Time
	observed  time.Time
	// inflight counts calls granted and not yet answered.
	inflight int
	// Accounting for the current window: our charged calls, the remaining we saw lowest,
	// and external usage already recorded.
	ours, lowest, external int
	// base is the bucket's size as first seen in this window when total is unknown.
	base int
}

// New returns a Budget; Load fills it from the store.
func New(o Options) *Budget {
	if o.Reserve == 0 {
		o.Reserve = 0.10
	}
	if o.Reserve < 0 {
		o.Reserve = 0
	}
	if o.MaxWait == 0 {
		o.MaxWait = 10 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Budget{o: o, buckets: map[Key]*bucket{}, changed: make(chan struct{})}
}

// Load reads the budgets kept by earlier processes. A window that has not reset yet keeps
// what was left of it, so a restart does not start with a burst of refused calls.
func (b *Budget) Load(ctx context.Context) error {
	qs, err := b.o.Store.Quotas(ctx)
	if err != nil {
		return fmt.Errorf("quota: load budgets: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, q := range qs {
		s := b.state(Key{q.Connection, q.Bucket})
		if q.Total > 0 {
			s.total = q.Total
		}
		if q.ObservedAt.After(s.observed) {
			s.known, s.remaining, s.resetsAt, s.observed = true, q.Remaining, q.ResetsAt, q.ObservedAt
			s.lowest = q.Remaining
			// What was used before the restart is not ours to explain again.
			s.ours, s.base = max(s.size()-q.Remaining, 0), s.size()
		}
	}
	return nil
}

// SetTotal records a bucket's size per window, from settings or a probe.
func (b *Budget) SetTotal(k Key, total int) {
	if total <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.state(k).total = total
}

// Total returns a bucket's size per window, 0 when unknown.
func (b *Budget) Total(k Key) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state(k).total
}

func (b *Budget) state(k Key) *bucket {
	s, ok := b.buckets[k]
	if !ok {
		s = &bucket{}
		b.buckets[k] = s
	}
	return s
}

// size is the bucket's total, or its estimate from this window's first report.
func (s *bucket) size() int {
	if s.total > 0 {
		return s.total
	}
	return s.base
}

// projected estimates what other applications spent since the last report, at the rate
// they spent this window so far, so that a call is not sent into a bucket they emptied.
func (s *bucket) projected(now time.Time) int {
	if !s.known || s.external == 0 {
		return 0
	}
	elapsed := now.Sub(s.resetsAt.Add(-Window))
	if elapsed < time.Minute {
		elapsed = time.Minute
	}
	rate := float64(s.external) / elapsed.Minutes()
	return int(math.Ceil(rate * now.Sub(s.observed).Minutes()))
}

// roll starts a new window when the last one has reset.
func (s *bucket) roll(now time.Time) {
	if s.known && !now.Before(s.resetsAt) {
		s.known = false
		s.ours, s.external = 0, 0
	}
}

// reserve is how many calls of the bucket are kept for the user.
func (b *Budget) reserve(s *bucket) int {
	return int(math.Ceil(float64(s.size()) * b.o.Reserve))
}

// floor is how many calls must stay left after a call of priority p: the reserve, and for
// low priority a further share.
func (b *Budget) floor(s *bucket, p Priority) int {
	f := b.reserve(s)
	if p <= Low {
		f += int(math.Ceil(float64(s.size()) * lowShare))
	}
	return f
}

// Report records a bucket's state learned other than from a granted call's answer, such as
// a probe of the service's quota endpoint.
func (b *Budget) Report(ctx context.Context, k Key, q connectors.Quota) {
	b.mu.Lock()
	b.state(k).inflight++ // settle counts it back
	b.mu.Unlock()
	b.settle(ctx, k, q, true, false)
}

// Ticket is one granted call. Settle it with the answer's report, or Cancel it.
type Ticket struct {
	b    *Budget
	k    Key
	once sync.Once
}

// Acquire asks for one call on bucket k by a caller of priority p. It returns at once when
// the bucket can afford the call; when it cannot, it waits for the bucket to reset if that
// is soon enough (MaxWait, and ctx's deadline), and otherwise returns a
// *connectors.QuotaError saying until when the call must wait.
func (b *Budget) Acquire(ctx context.Context, k Key, p Priority) (*Ticket, error) {
	for {
		b.mu.Lock()
		s := b.state(k)
		now := b.o.Clock.Now()
		s.roll(now)
		if !s.known && s.inflight == 0 {
			// Nothing known (a new window, or never seen): one call goes, and its answer
			// tells the others.
			s.inflight++
			b.mu.Unlock()
			return &Ticket{b: b, k: k}, nil
		}
		if !s.known {
			changed := b.changed
			b.mu.Unlock()
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-changed:
			}
			continue
		}
		left := s.remaining - s.inflight - s.projected(now)
		if left-1 >= b.floor(s, p) {
			s.inflight++
			b.mu.Unlock()
			return &Ticket{b: b, k: k}, nil
		}
		until, changed := s.resetsAt, b.changed
		reason := fmt.Sprintf("%d of %d left, %d kept in reserve", max(s.remaining, 0), s.size(), b.reserve(s))
		if p <= Low && left > 0 {
			reason = fmt.Sprintf("%d of %d left, which low-priority workflows leave to the others", left, s.size())
		}
		b.mu.Unlock()

		wait := until.Sub(now)
		deadline, hasDeadline := ctx.Deadline()
		if wait > b.o.MaxWait || (hasDeadline && now.Add(wait).After(deadline)) {
			return nil, &connectors.QuotaError{Connection: k.Connection, Bucket: k.Bucket, Until: until, Reason: reason}
		}
		b.o.Log.Info("waiting for quota", "connector", k.Connection, "bucket", k.Bucket, "wait", wait, "reason", reason)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-b.o.Clock.After(max(wait, 0)):
		case <-changed:
		}
	}
}

// Settle records the answer to a granted call: q is what it reported, when it did.
// charged says whether the service counted the call (a refusal for quota or rate does not).
func (t *Ticket) Settle(ctx context.Context, q connectors.Quota, reported, charged bool) {
	t.once.Do(func() { t.b.settle(ctx, t.k, q, reported, charged) })
}

// Cancel gives back a granted call that was not answered (a network error, a cancelled
// context). It is assumed uncharged: a later report corrects that.
func (t *Ticket) Cancel() {
	t.once.Do(func() {
		t.b.mu.Lock()
		t.b.state(t.k).inflight--
		t.b.notify()
		t.b.mu.Unlock()
	})
}

// notify wakes the callers waiting for room. Callers hold b.mu.
func (b *Budget) notify() {
	close(b.changed)
	b.changed = make(chan struct{})
}

func (b *Budget) settle(ctx context.Context, k Key, q connectors.Quota, reported, charged bool) {
	b.mu.Lock()
	now := b.o.Clock.Now()
	s := b.state(k)
	s.inflight--
	s.roll(now)
	var ext store.ExternalUsage
	if reported {
		resets := now.Add(q.ResetsIn)
		if q.Total > 0 {
			s.total = q.Total
		}
		// A window is the same while its reset time stays put (answers round to seconds).
		same := s.known && absDuration(resets.Sub(s.resetsAt)) <= 2*time.Second
		if !same {
			s.ours, s.external, s.lowest = 0, 0, q.Remaining
			s.base = q.Remaining
			if charged {
				s.base++
			}
		}
		if charged {
			s.ours++
		}
		// Answers to concurrent calls may arrive out of order: within a window, the lowest
		// report is the latest.
		s.lowest = min(s.lowest, q.Remaining)
		s.known, s.remaining, s.resetsAt, s.observed = true, s.lowest, resets, now
		// What the window has used beyond our own calls, someone else used: another app on
		// the same token. Our calls still in flight may already be counted by the service.
		if used := s.size() - s.lowest - s.ours - s.inflight; used > s.external && s.size() > 0 {
			ext = store.ExternalUsage{Connection: k.Connection, Bucket: k.Bucket, At: now,
				Calls: used - s.external, WindowResetsAt: s.resetsAt}
			s.external = used
		}
	} else if charged && s.known {
		s.remaining--
		s.ours++
	}
	saved := store.Quota{Connection: k.Connection, Bucket: k.Bucket, Remaining: s.remaining,
		Total: s.total, ResetsAt: s.resetsAt, ObservedAt: s.observed}
	b.notify()
	b.mu.Unlock()

	ctx = context.WithoutCancel(ctx)
	if reported {
		if err := b.o.Store.SaveQuota(ctx, saved); err != nil {
			b.o.Log.Warn("save quota", "connector", k.Connection, "error", err)
		}
	}
	if ext.Calls > 0 {
		b.o.Log.Warn("another application is using this token's quota", "connector", k.Connection,
			"bucket", k.Bucket, "calls", ext.Calls, "advice", ExternalAdvice)
		if err := b.o.Store.RecordExternalUsage(ctx, ext); err != nil {
			b.o.Log.Warn("record external usage", "connector", k.Connection, "error", err)
		}
	}
}

// ExternalAdvice is Toggl's own advice when quota goes to other applications.
const ExternalAdvice = "find the application using this API token, lower its polling, or reset the token in Toggl's profile settings"

// Left returns how many calls of bucket k a caller of priority p may still make in the
// current window, and whether the bucket's state is known at all.
func (b *Budget) Left(k Key, p Priority) (int, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.state(k)
	s.roll(b.o.Clock.Now())
	if !s.known {
		return 0, false
	}
	return max(s.remaining-s.inflight-s.projected(b.o.Clock.Now())-b.floor(s, p), 0), true
}

// State is a bucket's state, for plans and the UI.
type State struct {
	Key
	Total, Remaining, Reserve int
	// Known is false while nothing was reported in the current window.
	Known    bool
	ResetsAt time.Time
	// Ours and External are the calls this window spent by sluice and by others.
	Ours, External int
}

// States returns every bucket's state.
func (b *Budget) States() []State {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.o.Clock.Now()
	out := make([]State, 0, len(b.buckets))
	for k, s := range b.buckets {
		s.roll(now)
		st := State{Key: k, Total: s.size(), Known: s.known, Reserve: b.reserve(s), Ours: s.ours, External: s.external}
		if s.known {
			st.Remaining, st.ResetsAt = s.remaining, s.resetsAt
		} else {
			st.Remaining = s.size()
		}
		out = append(out, st)
	}
	return out
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
