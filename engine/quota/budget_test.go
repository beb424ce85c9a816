package quota_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/engine/quota"
	"github.com/sluicehq/sluice/engine/store"
	"github.com/sluicehq/sluice/engine/store/sqlite"
)

// t0 is the fake clock's start. It lies after the real time the tests run at, so that a
// context deadline taken from the fake clock is still in the future for the context itself.
var t0 = time.Date(2030, time.January, 7, 9, 0, 0, 0, time.UTC)

// guard bounds how long a test waits for something that should happen at once. It only
// fires when the code under test is broken.
const guard = 10 * time.Second

var (
	userKey = quota.Key{Connection: "toggl-main", Bucket: "user"}
	orgKey  = quota.Key{Connection: "toggl-main", Bucket: "org"}
)

// memStore keeps what a Budget saves, in memory.
type memStore struct {
	mu       sync.Mutex
	saved    []store.Quota
	external []store.ExternalUsage
	// load is what Quotas returns.
	load []store.Quota
}

func (m *memStore) SaveQuota(_ context.Context, q store.Quota) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saved = append(m.saved, q)
	return nil
}

func (m *memStore) Quotas(context.Context) ([]store.Quota, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.Quota(nil), m.load...), nil
}

func (m *memStore) RecordExternalUsage(_ context.Context, u store.ExternalUsage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.external = append(m.external, u)
	return nil
}

func (m *memStore) externalUsage() []store.ExternalUsage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.ExternalUsage(nil), m.external...)
}

// testClock is a fake clock that also tells how often the budget read the time and what
// waits it asked for.
type testClock struct {
	*clockwork.FakeClock
	nows  atomic.Int64
	nowed chan struct{}

	mu    sync.Mutex
	waits []time.Duration
}

func newTestClock() *testClock {
	return &testClock{FakeClock: clockwork.NewFakeClockAt(t0), nowed: make(chan struct{}, 1)}
}

func (c *testClock) Now() time.Time {
	c.nows.Add(1)
	select {
	case c.nowed <- struct{}{}:
	default:
	}
	return c.FakeClock.Now()
}

func (c *testClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	return c.FakeClock.After(d)
}

func (c *testClock) waited() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// awaitNows returns once the clock has been read n times in all.
func (c *testClock) awaitNows(t *testing.T, n int64) {
	t.Helper()
	for c.nows.Load() < n {
		select {
		case <-c.nowed:
		case <-time.After(guard):
			t.Fatalf("the clock was read %d times, want %d", c.nows.Load(), n)
		}
	}
}

// readAtLeast reports, from any goroutine, whether the clock is read n times in all before
// the guard's time is up.
func (c *testClock) readAtLeast(n int64) bool {
	timeout := time.After(guard)
	for c.nows.Load() < n {
		select {
		case <-c.nowed:
		case <-timeout:
			return false
		}
	}
	return true
}

// awaitWaiters returns once n callers wait on the clock.
func (c *testClock) awaitWaiters(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), guard)
	defer cancel()
	if err := c.BlockUntilContext(ctx, n); err != nil {
		t.Fatalf("%d callers do not wait on the clock: %v", n, err)
	}
}

func newBudget(o quota.Options) (*quota.Budget, *testClock, *memStore) {
	c, st := newTestClock(), &memStore{}
	o.Clock, o.Store = c, st
	return quota.New(o), c, st
}

// known makes k's state known, as a probe would: remaining left of total, resetting in
// resetsIn.
func known(t *testing.T, b *quota.Budget, k quota.Key, total, remaining int, resetsIn time.Duration) {
	t.Helper()
	b.Report(t.Context(), k, connectors.Quota{Remaining: remaining, ResetsIn: resetsIn, Total: total})
}

// acquired is what an Acquire returned.
type acquired struct {
	ticket *quota.Ticket
	err    error
}

// start runs Acquire in a goroutine.
func start(ctx context.Context, b *quota.Budget, k quota.Key, p quota.Priority) <-chan acquired {
	done := make(chan acquired, 1)
	go func() {
		tk, err := b.Acquire(ctx, k, p)
		done <- acquired{tk, err}
	}()
	return done
}

// acquire calls Acquire and fails the test if it does not return at once.
func acquire(t *testing.T, ctx context.Context, b *quota.Budget, k quota.Key, p quota.Priority) (*quota.Ticket, error) {
	t.Helper()
	r := result(t, start(ctx, b, k, p))
	return r.ticket, r.err
}

// result waits for an Acquire started with start.
func result(t *testing.T, done <-chan acquired) acquired {
	t.Helper()
	select {
	case r := <-done:
		if (r.ticket == nil) == (r.err == nil) {
			t.Fatalf("Acquire returned ticket %v and error %v; want exactly one", r.ticket, r.err)
		}
		return r
	case <-time.After(guard):
		t.Fatal("Acquire did not return")
	}
	return acquired{}
}

// pending fails the test if an Acquire started with start has returned.
func pending(t *testing.T, done <-chan acquired, what string) {
	t.Helper()
	select {
	case r := <-done:
		t.Fatalf("%s: Acquire returned (%v, %v), want it to wait", what, r.ticket, r.err)
	default:
	}
}

// mustGrant acquires a ticket or fails the test.
func mustGrant(t *testing.T, b *quota.Budget, k quota.Key, p quota.Priority) *quota.Ticket {
	t.Helper()
	tk, err := acquire(t, t.Context(), b, k, p)
	if err != nil {
		t.Fatalf("Acquire(%v, %d) = %v, want a ticket", k, p, err)
	}
	return tk
}

// mustDefer checks that Acquire returns a *connectors.QuotaError for k until until.
func mustDefer(t *testing.T, ctx context.Context, b *quota.Budget, k quota.Key, p quota.Priority, until time.Time) *connectors.QuotaError {
	t.Helper()
	tk, err := acquire(t, ctx, b, k, p)
	var qe *connectors.QuotaError
	if !errors.As(err, &qe) {
		if tk != nil {
			tk.Cancel()
		}
		t.Fatalf("Acquire(%v, %d) = %v, %v; want a *connectors.QuotaError", k, p, tk, err)
	}
	if !qe.Until.Equal(until) || qe.Reason == "" || qe.Connection != k.Connection || qe.Bucket != k.Bucket {
		t.Errorf("QuotaError = %+v; want %s/%s until %s with a reason", qe, k.Connection, k.Bucket, until)
	}
	return qe
}

// mustBlock checks that Acquire would not grant a call now: with a context that is already
// cancelled, a caller that must wait returns the context's error.
func mustBlock(t *testing.T, b *quota.Budget, k quota.Key, p quota.Priority) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tk, err := acquire(t, ctx, b, k, p)
	if !errors.Is(err, context.Canceled) {
		if tk != nil {
			tk.Cancel()
		}
		t.Fatalf("Acquire(%v, %d) = %v, %v; want it to wait (context.Canceled)", k, p, tk, err)
	}
}

// show prints a state field by field (State's embedded Key would print only itself).
func show(s quota.State) string {
	return fmt.Sprintf("{%s total %d, %d left, reserve %d, known %v, resets %s, ours %d, external %d}",
		s.Key, s.Total, s.Remaining, s.Reserve, s.Known, s.ResetsAt.Format(time.TimeOnly), s.Ours, s.External)
}

func stateOf(t *testing.T, b *quota.Budget, k quota.Key) quota.State {
	t.Helper()
	for _, s := range b.States() {
		if s.Key == k {
			return s
		}
	}
	t.Fatalf("no state for %v", k)
	return quota.State{}
}

func TestParsePriority(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want quota.Priority
	}{
		{"high", quota.High},
		{"normal", quota.Normal},
		{"low", quota.Low},
		{"", quota.Normal},
		{"HIGH", quota.Normal},
		{"urgent", quota.Normal},
	} {
		if got := quota.ParsePriority(tc.in); got != tc.want {
			t.Errorf("ParsePriority(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
	if !(quota.Low < quota.Normal && quota.Normal < quota.High) {
		t.Errorf("priorities Low %d, Normal %d, High %d are not in order", quota.Low, quota.Normal, quota.High)
	}
}

// TestReserveBoundary: with the bucket's state known, calls are granted while one more leaves
// at least the floor (the reserve, and for low priority a further 15%), and deferred after.
func TestReserveBoundary(t *testing.T) {
	for _, tc := range []struct {
		name             string
		reserve          float64
		total, remaining int
		prio             quota.Priority
		// grants is how many calls go before the first is deferred.
		grants int
	}{
		{"30, reserve 10%: the last grant leaves 3", 0, 30, 30, quota.Normal, 27},
		{"high has the same floor as normal", 0, 30, 30, quota.High, 27},
		{"low leaves 3 + 5", 0, 30, 30, quota.Low, 22},
		{"normal at 4 left: one", 0, 30, 4, quota.Normal, 1},
		{"normal at 3 left: none", 0, 30, 3, quota.Normal, 0},
		{"high at 3 left: none", 0, 30, 3, quota.High, 0},
		{"low at 9 left: one", 0, 30, 9, quota.Low, 1},
		{"low at 8 left: none, where normal gets 5", 0, 30, 8, quota.Low, 0},
		{"normal at 8 left", 0, 30, 8, quota.Normal, 5},
		{"starter 240, 30 left", 0, 240, 30, quota.Normal, 6},
		{"starter 240, low at 60 left", 0, 240, 60, quota.Low, 0},
		{"starter 240, low at 61 left", 0, 240, 61, quota.Low, 1},
		{"reserve 20%", 0.2, 30, 30, quota.Normal, 24},
		{"25: the reserve rounds up to 3", 0, 25, 25, quota.Normal, 22},
		{"25: the low share rounds up to 4", 0, 25, 25, quota.Low, 18},
		{"no reserve", -1, 30, 30, quota.Normal, 30},
		{"no reserve, low keeps its share", -1, 30, 30, quota.Low, 25},
		{"nothing left", 0, 30, 0, quota.High, 0},
		{"not enforced, below zero", 0, 30, -4, quota.High, 0},
		{"size unknown: estimated from the report", 0, 0, 20, quota.Normal, 18},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _, _ := newBudget(quota.Options{Reserve: tc.reserve})
			resets := t0.Add(30 * time.Minute) // beyond MaxWait: deferred, not waited for
			known(t, b, userKey, tc.total, tc.remaining, 30*time.Minute)
			var tickets []*quota.Ticket
			for range tc.grants {
				tickets = append(tickets, mustGrant(t, b, userKey, tc.prio))
			}
			mustDefer(t, t.Context(), b, userKey, tc.prio, resets)
			// Giving one back makes room for exactly one again.
			if len(tickets) > 0 {
				tickets[0].Cancel()
				mustGrant(t, b, userKey, tc.prio)
				mustDefer(t, t.Context(), b, userKey, tc.prio, resets)
			}
		})
	}
}

// TestLowDeferredFirst: at the boundary of the low-priority share, normal and high calls
// still go while low ones are deferred.
func TestLowDeferredFirst(t *testing.T) {
	b, _, _ := newBudget(quota.Options{})
	known(t, b, orgKey, 30, 8, 30*time.Minute)
	mustDefer(t, t.Context(), b, orgKey, quota.Low, t0.Add(30*time.Minute))
	mustGrant(t, b, orgKey, quota.Normal)
	mustGrant(t, b, orgKey, quota.High)
	mustDefer(t, t.Context(), b, orgKey, quota.Low, t0.Add(30*time.Minute))
	// Another bucket is not affected.
	known(t, b, userKey, 30, 30, 30*time.Minute)
	mustGrant(t, b, userKey, quota.Low)
}

// TestUnknownStateOneCall: while nothing is known of the current window, one call goes and
// the others wait for its answer.
func TestUnknownStateOneCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, tk *quota.Ticket)
		// known is whether the first answer makes the state known, so that everyone goes.
		known bool
	}{
		{"settled with a report", func(t *testing.T, tk *quota.Ticket) {
			tk.Settle(t.Context(), connectors.Quota{Remaining: 20, ResetsIn: time.Hour}, true, true)
		}, true},
		{"settled without a report", func(t *testing.T, tk *quota.Ticket) {
			tk.Settle(t.Context(), connectors.Quota{}, false, true)
		}, false},
		{"cancelled", func(_ *testing.T, tk *quota.Ticket) { tk.Cancel() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, c, _ := newBudget(quota.Options{})
			first := mustGrant(t, b, userKey, quota.Normal)
			mustBlock(t, b, userKey, quota.Normal)
			mustBlock(t, b, userKey, quota.High)
			// Other buckets are not held up.
			mustGrant(t, b, orgKey, quota.Normal).Cancel()

			reads := c.nows.Load()
			second := start(t.Context(), b, userKey, quota.Normal)
			c.awaitNows(t, reads+1) // the second caller has looked at the state
			pending(t, second, "before the first call's answer")
			tc.end(t, first)
			r := result(t, second)
			if r.err != nil {
				t.Fatalf("second Acquire after the first answer = %v, want a ticket", r.err)
			}
			if tc.known {
				mustGrant(t, b, userKey, quota.Normal)
			} else {
				// Still nothing known: the second call is now the one in flight.
				mustBlock(t, b, userKey, quota.Normal)
			}
		})
	}
}

// TestWaitForReset: a call the bucket cannot afford waits for the window's reset when it
// comes within MaxWait and the context's deadline, and goes exactly then.
func TestWaitForReset(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxWait  time.Duration
		resetsIn time.Duration
		// deadline, when set, is the context's deadline after t0.
		deadline time.Duration
		prio     quota.Priority
		left     int
	}{
		{"normal, reserve reached", 0, 5 * time.Minute, 0, quota.Normal, 3},
		{"high, nothing left", 0, 9 * time.Minute, 0, quota.High, 0},
		{"low, its share reached", 0, time.Minute, 0, quota.Low, 8},
		{"reset exactly at MaxWait", 0, 10 * time.Minute, 0, quota.Normal, 3},
		{"a longer MaxWait", time.Hour, 50 * time.Minute, 0, quota.Normal, 3},
		{"deadline exactly at the reset", 0, 5 * time.Minute, 5 * time.Minute, quota.Normal, 3},
		{"deadline after the reset", 0, 5 * time.Minute, 6 * time.Minute, quota.Normal, 3},
		{"sub-second reset", 0, 1500 * time.Millisecond, 0, quota.Normal, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, c, _ := newBudget(quota.Options{MaxWait: tc.maxWait})
			known(t, b, userKey, 30, tc.left, tc.resetsIn)
			ctx := t.Context()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, t0.Add(tc.deadline))
				defer cancel()
			}
			done := start(ctx, b, userKey, tc.prio)
			c.awaitWaiters(t, 1)
			c.Advance(tc.resetsIn - time.Nanosecond)
			pending(t, done, "a nanosecond before the reset")
			c.Advance(time.Nanosecond)
			r := result(t, done)
			if r.err != nil {
				t.Fatalf("Acquire at the reset = %v, want a ticket", r.err)
			}
			if got := c.waited(); !reflect.DeepEqual(got, []time.Duration{tc.resetsIn}) {
				t.Errorf("waits asked of the clock = %v, want one of %s", got, tc.resetsIn)
			}
			// The call opened the new window: nothing is known of it yet.
			if s := stateOf(t, b, userKey); s.Known {
				t.Errorf("state after the reset = %s, want unknown", show(s))
			}
			mustBlock(t, b, userKey, tc.prio)
		})
	}
}

// TestDefer: a call that would wait beyond MaxWait or the context's deadline is deferred at
// once with a *connectors.QuotaError saying until when.
func TestDefer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxWait  time.Duration
		resetsIn time.Duration
		deadline time.Duration
		prio     quota.Priority
		left     int
	}{
		{"reset a second beyond MaxWait", 0, 10*time.Minute + time.Second, 0, quota.Normal, 3},
		{"reset in half an hour", 0, 30 * time.Minute, 0, quota.High, 0},
		{"a shorter MaxWait", time.Minute, time.Minute + time.Nanosecond, 0, quota.Normal, 3},
		{"deadline before the reset", 0, 5 * time.Minute, 4 * time.Minute, quota.Normal, 3},
		{"deadline a nanosecond before the reset", 0, 5 * time.Minute, 5*time.Minute - time.Nanosecond, quota.Normal, 3},
		{"low beyond MaxWait", 0, 45 * time.Minute, 0, quota.Low, 8},
		{"low, deadline before the reset", 0, 2 * time.Minute, time.Minute, quota.Low, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, c, _ := newBudget(quota.Options{MaxWait: tc.maxWait})
			known(t, b, userKey, 30, tc.left, tc.resetsIn)
			ctx := t.Context()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, t0.Add(tc.deadline))
				defer cancel()
			}
			mustDefer(t, ctx, b, userKey, tc.prio, t0.Add(tc.resetsIn))
			if w := c.waited(); len(w) > 0 {
				t.Errorf("a deferred call asked the clock to wait %v", w)
			}
		})
	}
}

// TestCancelWhileWaiting: a waiting caller returns its context's error as soon as the
// context is cancelled, whether it waits for a reset or for the first answer of a window.
func TestCancelWhileWaiting(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, b *quota.Budget)
		await func(t *testing.T, c *testClock, reads int64)
	}{
		{
			name:  "waiting for the reset",
			setup: func(t *testing.T, b *quota.Budget) { known(t, b, userKey, 30, 2, 5*time.Minute) },
			await: func(t *testing.T, c *testClock, _ int64) { c.awaitWaiters(t, 1) },
		},
		{
			name:  "waiting for the first answer",
			setup: func(t *testing.T, b *quota.Budget) { mustGrant(t, b, userKey, quota.Normal) },
			await: func(t *testing.T, c *testClock, reads int64) { c.awaitNows(t, reads+1) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, c, _ := newBudget(quota.Options{})
			tc.setup(t, b)
			ctx, cancel := context.WithCancel(t.Context())
			reads := c.nows.Load()
			done := start(ctx, b, userKey, quota.Normal)
			tc.await(t, c, reads)
			pending(t, done, "before the cancel")
			cancel()
			if r := result(t, done); !errors.Is(r.err, context.Canceled) {
				t.Errorf("Acquire after cancel = %v, %v; want context.Canceled", r.ticket, r.err)
			}
		})
	}
}

// TestWindowRoll: when the window's reset time passes, what was known of it is dropped: one
// call goes to learn the new window, and the accounting starts over.
func TestWindowRoll(t *testing.T) {
	b, c, st := newBudget(quota.Options{})
	b.SetTotal(userKey, 30)
	tk := mustGrant(t, b, userKey, quota.Normal)
	tk.Settle(t.Context(), connectors.Quota{Remaining: 29, ResetsIn: time.Hour}, true, true)
	known(t, b, userKey, 0, 10, time.Hour) // a probe: someone else spent 19
	if s := stateOf(t, b, userKey); !s.Known || s.Remaining != 10 || s.Ours != 1 || s.External != 19 ||
		!s.ResetsAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("state in the first window = %s", show(s))
	}

	c.Advance(time.Hour - time.Nanosecond)
	if s := stateOf(t, b, userKey); !s.Known {
		t.Fatalf("state a nanosecond before the reset = %s, want still known", show(s))
	}
	c.Advance(time.Nanosecond)
	want := quota.State{Key: userKey, Total: 30, Remaining: 30, Reserve: 3}
	if s := stateOf(t, b, userKey); s != want {
		t.Fatalf("state at the reset = %s, want %s", show(s), show(want))
	}
	first := mustGrant(t, b, userKey, quota.Normal)
	mustBlock(t, b, userKey, quota.Normal)
	// Another application spent 2 of the new window before our first call.
	first.Settle(t.Context(), connectors.Quota{Remaining: 27, ResetsIn: 59 * time.Minute}, true, true)
	want = quota.State{Key: userKey, Total: 30, Remaining: 27, Reserve: 3, Known: true,
		ResetsAt: t0.Add(time.Hour + 59*time.Minute), Ours: 1, External: 2}
	if s := stateOf(t, b, userKey); s != want {
		t.Errorf("state in the second window = %s, want %s", show(s), show(want))
	}
	ext := st.externalUsage()
	if len(ext) != 2 || ext[0].Calls != 19 || ext[1].Calls != 2 || !ext[1].WindowResetsAt.Equal(want.ResetsAt) {
		t.Errorf("external usage recorded = %+v, want 19 in the first window and 2 in the second", ext)
	}
	mustGrant(t, b, userKey, quota.Normal)
}

// TestUnchargedAnswers: answers the service did not count (a 402 over quota, a 429) do not
// count as our calls, so that what others spend is still told apart.
func TestUnchargedAnswers(t *testing.T) {
	for _, tc := range []struct {
		name string
		// refused is the uncharged answer's report.
		refused connectors.Quota
	}{
		{"429 with the quota unchanged", connectors.Quota{Remaining: 29, ResetsIn: 59 * time.Minute}},
		{"402 over quota", connectors.Quota{Remaining: 0, ResetsIn: 59 * time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, c, st := newBudget(quota.Options{})
			b.SetTotal(orgKey, 30)
			mustGrant(t, b, orgKey, quota.Normal).Settle(t.Context(),
				connectors.Quota{Remaining: 29, ResetsIn: time.Hour}, true, true)
			c.Advance(time.Minute)
			mustGrant(t, b, orgKey, quota.Normal).Settle(t.Context(), tc.refused, true, false)
			s := stateOf(t, b, orgKey)
			if s.Ours != 1 || s.Remaining != tc.refused.Remaining {
				t.Fatalf("after an uncharged answer: %s; want 1 call of ours, %d left", show(s), tc.refused.Remaining)
			}
			// All that the window lost beyond our one call went to others.
			wantExt := 29 - tc.refused.Remaining
			if got := st.externalUsage(); wantExt > 0 && (len(got) != 1 || got[0].Calls != wantExt) {
				t.Errorf("external usage = %+v, want %d calls", got, wantExt)
			} else if wantExt == 0 && len(got) != 0 {
				t.Errorf("external usage = %+v, want none", got)
			}
			if tc.refused.Remaining < 20 {
				return
			}
			// Another application spends 3; our next call's answer shows it.
			mustGrant(t, b, orgKey, quota.Normal).Settle(t.Context(),
				connectors.Quota{Remaining: 25, ResetsIn: 59 * time.Minute}, true, true)
			if got := st.externalUsage(); len(got) != 1 || got[0].Calls != 3 {
				t.Errorf("external usage = %+v, want one record of 3 calls", got)
			}
		})
	}
}

// TestSettleOnce: a ticket counts once, however often it is settled or cancelled.
func TestSettleOnce(t *testing.T) {
	b, _, _ := newBudget(quota.Options{})
	known(t, b, userKey, 30, 5, 30*time.Minute)
	a := mustGrant(t, b, userKey, quota.Normal)
	bt := mustGrant(t, b, userKey, quota.Normal)
	mustDefer(t, t.Context(), b, userKey, quota.Normal, t0.Add(30*time.Minute))
	a.Settle(t.Context(), connectors.Quota{}, false, true)
	a.Settle(t.Context(), connectors.Quota{}, false, true)
	a.Cancel()
	bt.Cancel()
	bt.Cancel()
	// 4 left, nothing in flight: one more call.
	if s := stateOf(t, b, userKey); s.Remaining != 4 || s.Ours != 1 {
		t.Fatalf("state = %s, want 4 left and 1 call of ours", show(s))
	}
	mustGrant(t, b, userKey, quota.Normal)
	mustDefer(t, t.Context(), b, userKey, quota.Normal, t0.Add(30*time.Minute))
}

// TestOutOfOrderAnswers: answers of concurrent calls may arrive in any order. An earlier,
// higher report must not give back calls a later one already spent, and our own calls in
// flight must not be taken for another application's.
func TestOutOfOrderAnswers(t *testing.T) {
	b, _, st := newBudget(quota.Options{})
	b.SetTotal(userKey, 30)
	mustGrant(t, b, userKey, quota.Normal).Settle(t.Context(),
		connectors.Quota{Remaining: 29, ResetsIn: time.Hour}, true, true)
	a := mustGrant(t, b, userKey, quota.Normal)
	c := mustGrant(t, b, userKey, quota.Normal)
	// The service answers a with 28 and c with 27, but c's answer is settled first.
	c.Settle(t.Context(), connectors.Quota{Remaining: 27, ResetsIn: time.Hour}, true, true)
	if got := st.externalUsage(); len(got) != 0 {
		t.Errorf("our own call in flight was recorded as external usage: %+v", got)
	}
	a.Settle(t.Context(), connectors.Quota{Remaining: 28, ResetsIn: time.Hour}, true, true)
	if s := stateOf(t, b, userKey); s.Remaining != 27 || s.Ours != 3 || s.External != 0 {
		t.Errorf("state = %s, want 27 left, 3 calls of ours, none external", show(s))
	}
	if got := st.externalUsage(); len(got) != 0 {
		t.Errorf("external usage = %+v, want none", got)
	}

	// At the boundary a stale report would let a call into the reserve.
	known(t, b, orgKey, 30, 5, 30*time.Minute)
	a = mustGrant(t, b, orgKey, quota.Normal)
	c = mustGrant(t, b, orgKey, quota.Normal)
	mustDefer(t, t.Context(), b, orgKey, quota.Normal, t0.Add(30*time.Minute))
	c.Settle(t.Context(), connectors.Quota{Remaining: 3, ResetsIn: 30 * time.Minute}, true, true)
	a.Settle(t.Context(), connectors.Quota{Remaining: 4, ResetsIn: 30 * time.Minute}, true, true)
	mustDefer(t, t.Context(), b, orgKey, quota.Normal, t0.Add(30*time.Minute))
}

// TestExternalUsageWithCallsInFlight: once others' usage is recorded, answers that arrive
// while our other calls are still in flight record nothing more.
func TestExternalUsageWithCallsInFlight(t *testing.T) {
	b, _, st := newBudget(quota.Options{})
	b.SetTotal(userKey, 30)
	mustGrant(t, b, userKey, quota.Normal).Settle(t.Context(),
		connectors.Quota{Remaining: 25, ResetsIn: time.Hour}, true, true) // others spent 4
	a := mustGrant(t, b, userKey, quota.Normal)
	c := mustGrant(t, b, userKey, quota.Normal)
	// The service counts a (24), then c (23), and the answers come in that order.
	a.Settle(t.Context(), connectors.Quota{Remaining: 24, ResetsIn: time.Hour}, true, true)
	c.Settle(t.Context(), connectors.Quota{Remaining: 23, ResetsIn: time.Hour}, true, true)
	got := st.externalUsage()
	if len(got) != 1 || got[0].Calls != 4 {
		t.Errorf("external usage = %+v, want one record of 4 calls", got)
	}
	if s := stateOf(t, b, userKey); s.External != 4 || s.Ours != 3 || s.Remaining != 23 {
		t.Errorf("state = %s, want 23 left, 3 calls of ours, 4 external", show(s))
	}
}

// logCounter counts the records logged at Warn.
type logCounter struct {
	mu    sync.Mutex
	warns []slog.Record
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }

func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn {
		l.mu.Lock()
		l.warns = append(l.warns, r)
		l.mu.Unlock()
	}
	return nil
}

func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }

func (l *logCounter) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.warns)
}

// TestExternalUsage: what a window loses beyond our own calls is recorded, once, with the
// amount spent since the last record, and logged.
func TestExternalUsage(t *testing.T) {
	type call struct {
		// spent is what another application spends before the call.
		spent int
		// advance moves the clock before the call.
		advance time.Duration
		// want is the record the call's answer makes, 0 for none.
		want int
	}
	for _, tc := range []struct {
		name  string
		total int
		calls []call
	}{
		{"only our calls", 30, []call{{}, {}, {}, {advance: 10 * time.Minute}}},
		{"others spend between our calls", 30, []call{{}, {spent: 4, want: 4}, {}, {spent: 2, want: 2}, {}, {}}},
		{"others spent before our first call", 240, []call{{spent: 40, want: 40}, {}, {spent: 1, want: 1}}},
		{"a new window starts the count again", 30, []call{{}, {spent: 5, want: 5},
			{advance: time.Hour}, {spent: 3, want: 3}, {}}},
		{"size unknown: only what is seen within the window", 0, []call{{spent: 7}, {spent: 2, want: 2}, {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logCounter{}
			b, c, st := newBudget(quota.Options{Log: slog.New(logs)})
			b.SetTotal(orgKey, tc.total)
			size := max(tc.total, 30)
			used, windowStart := 0, t0
			var want []store.ExternalUsage
			for i, cl := range tc.calls {
				c.Advance(cl.advance)
				now := c.Now()
				if !now.Before(windowStart.Add(time.Hour)) {
					used, windowStart = 0, now
				}
				used += cl.spent + 1
				tk := mustGrant(t, b, orgKey, quota.Normal)
				tk.Settle(t.Context(), connectors.Quota{Remaining: size - used, ResetsIn: windowStart.Add(time.Hour).Sub(now)}, true, true)
				if cl.want > 0 {
					want = append(want, store.ExternalUsage{Connection: orgKey.Connection, Bucket: orgKey.Bucket,
						At: now, Calls: cl.want, WindowResetsAt: windowStart.Add(time.Hour)})
				}
				if got := st.externalUsage(); !equalUsage(got, want) {
					t.Fatalf("after call %d: external usage\n got %+v\nwant %+v", i+1, got, want)
				}
			}
			if logs.count() != len(want) {
				t.Errorf("%d warnings logged, want one per record (%d)", logs.count(), len(want))
			}
		})
	}
}

func equalUsage(a, b []store.ExternalUsage) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Connection != b[i].Connection || a[i].Bucket != b[i].Bucket || !a[i].At.Equal(b[i].At) ||
			a[i].Calls != b[i].Calls || !a[i].WindowResetsAt.Equal(b[i].WindowResetsAt) {
			return false
		}
	}
	return true
}

// TestTotals: SetTotal keeps a positive size; a report's total replaces it.
func TestTotals(t *testing.T) {
	b, _, _ := newBudget(quota.Options{})
	if n := b.Total(userKey); n != 0 {
		t.Errorf("Total of an unseen bucket = %d, want 0", n)
	}
	for _, tc := range []struct{ set, want int }{{30, 30}, {0, 30}, {-5, 30}, {240, 240}} {
		b.SetTotal(userKey, tc.set)
		if n := b.Total(userKey); n != tc.want {
			t.Errorf("SetTotal(%d): Total = %d, want %d", tc.set, n, tc.want)
		}
	}
	known(t, b, userKey, 600, 500, time.Hour)
	if n := b.Total(userKey); n != 600 {
		t.Errorf("Total after a report of 600 = %d", n)
	}
	if s := stateOf(t, b, userKey); s.Reserve != 60 || s.Total != 600 {
		t.Errorf("state = %s, want total 600 and reserve 60", show(s))
	}
	if n := b.Total(orgKey); n != 0 {
		t.Errorf("Total of another bucket = %d, want 0", n)
	}
}

// TestRestart: a budget saved in SQLite and loaded by a new process keeps what was left of the
// window: no burst of calls, no refused calls, and the calls made before the restart are not
// taken for another application's.
func TestRestart(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sluice.db")
	c := newTestClock()

	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	before := quota.New(quota.Options{Store: db, Clock: c})
	before.SetTotal(userKey, 30)
	for i := range 25 { // 5 left of 30
		mustGrant(t, before, userKey, quota.Normal).Settle(ctx,
			connectors.Quota{Remaining: 29 - i, ResetsIn: time.Hour - time.Duration(i)*time.Minute}, true, true)
		c.Advance(time.Minute)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// The new process starts 5 minutes later in the same window.
	c.Advance(5 * time.Minute)
	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	after := quota.New(quota.Options{Store: db, Clock: c})
	if err := after.Load(ctx); err != nil {
		t.Fatal(err)
	}
	resets := t0.Add(time.Hour)
	want := quota.State{Key: userKey, Total: 30, Remaining: 5, Reserve: 3, Known: true, ResetsAt: resets, Ours: 25}
	if s := stateOf(t, after, userKey); s != want {
		t.Fatalf("state after Load = %s, want %s", show(s), show(want))
	}
	// 5 left, 3 kept: two calls at once, not one to learn the state, nor a burst.
	a := mustGrant(t, after, userKey, quota.Normal)
	bt := mustGrant(t, after, userKey, quota.Normal)
	mustDefer(t, ctx, after, userKey, quota.Normal, resets)
	a.Settle(ctx, connectors.Quota{Remaining: 4, ResetsIn: resets.Sub(c.Now())}, true, true)
	bt.Cancel()
	if got, err := db.ExternalUsage(ctx, t0, resets); err != nil || len(got) != 0 {
		t.Errorf("external usage after the restart = %+v, %v; want none", got, err)
	}
	// Another application spends 1: that is recorded.
	mustGrant(t, after, userKey, quota.High).Settle(ctx,
		connectors.Quota{Remaining: 2, ResetsIn: resets.Sub(c.Now())}, true, true)
	got, err := db.ExternalUsage(ctx, t0, resets)
	if err != nil || len(got) != 1 || got[0].Calls != 1 {
		t.Errorf("external usage = %+v, %v; want one record of 1 call", got, err)
	}
	mustDefer(t, ctx, after, userKey, quota.High, resets)

	// A process that starts after the window reset learns the new one first.
	c.Advance(time.Hour)
	third := quota.New(quota.Options{Store: db, Clock: c})
	if err := third.Load(ctx); err != nil {
		t.Fatal(err)
	}
	mustGrant(t, third, userKey, quota.Normal)
	mustBlock(t, third, userKey, quota.Normal)
}

// TestLoadKeepsNewerState: Load does not replace what the budget learned after the saved
// state was observed.
func TestLoadKeepsNewerState(t *testing.T) {
	b, c, st := newBudget(quota.Options{})
	st.load = []store.Quota{{Connection: userKey.Connection, Bucket: userKey.Bucket, Remaining: 4, Total: 30,
		ResetsAt: t0.Add(time.Hour), ObservedAt: t0.Add(-time.Minute)}}
	c.Advance(time.Minute)
	known(t, b, userKey, 30, 20, 50*time.Minute)
	if err := b.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(t, b, userKey); s.Remaining != 20 || !s.ResetsAt.Equal(t0.Add(51*time.Minute)) {
		t.Errorf("state = %s, want what was reported after the saved state", show(s))
	}
}

// TestConcurrentAcquire: 20 goroutines acquiring, settling and cancelling at once never get
// more calls than the bucket has above its floor, and while nothing is known only one call
// is out.
func TestConcurrentAcquire(t *testing.T) {
	for _, tc := range []struct {
		name   string
		total  int
		cancel bool
		prios  []quota.Priority
	}{
		{"normal", 30, false, []quota.Priority{quota.Normal}},
		{"mixed priorities", 30, false, []quota.Priority{quota.Low, quota.Normal, quota.High}},
		{"with cancels", 240, true, []quota.Priority{quota.Normal, quota.High}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, c, _ := newBudget(quota.Options{MaxWait: time.Minute})
			b.SetTotal(orgKey, tc.total)
			floor := (tc.total + 9) / 10
			resets := c.Now().Add(time.Hour)

			var (
				mu        sync.Mutex
				remaining = tc.total
				sent      bool
				answered  bool
				blind     int // calls sent before the first answer came
			)
			reads := c.nows.Load()
			var charged, denied atomic.Int64
			var wg sync.WaitGroup
			for g := range 20 {
				wg.Go(func() {
					prio := tc.prios[g%len(tc.prios)]
					for i := 0; ; i++ {
						tk, err := b.Acquire(t.Context(), orgKey, prio)
						if err != nil {
							var qe *connectors.QuotaError
							if !errors.As(err, &qe) {
								t.Errorf("Acquire = %v, want a ticket or a *QuotaError", err)
							}
							denied.Add(1)
							return
						}
						if tc.cancel && (g+i)%3 == 0 {
							tk.Cancel()
							continue
						}
						// The service counts the call; its answer is settled later, maybe after
						// answers to calls sent after it.
						mu.Lock()
						first := !sent
						sent = true
						if !answered {
							blind++
						}
						remaining--
						rem := remaining
						mu.Unlock()
						charged.Add(1)
						if first && !c.readAtLeast(reads+20) {
							// The first answer is held until every goroutine has looked at
							// the bucket: they all have to wait for it.
							t.Errorf("the goroutines did not all ask for a call")
						}
						mu.Lock()
						answered = true
						mu.Unlock()
						tk.Settle(t.Context(), connectors.Quota{Remaining: rem, ResetsIn: resets.Sub(c.Now())}, true, true)
					}
				})
			}
			wg.Wait()
			if n := int(charged.Load()); n > tc.total-floor || remaining < floor {
				t.Errorf("%d calls granted of %d with %d kept; %d left", n, tc.total, floor, remaining)
			}
			if denied.Load() != 20 {
				t.Errorf("%d goroutines were deferred, want all 20", denied.Load())
			}
			if blind != 1 {
				t.Errorf("%d calls were sent before the first answer, want 1", blind)
			}
		})
	}
}

// TestProjectedExternalUsage: while another application spends a bucket, the budget assumes
// it goes on at this window's rate since the last report, and grants that much less.
func TestProjectedExternalUsage(t *testing.T) {
	b, c, _ := newBudget(quota.Options{})
	b.SetTotal(userKey, 30)
	settle := func(remaining int) {
		t.Helper()
		mustGrant(t, b, userKey, quota.Normal).Settle(t.Context(),
			connectors.Quota{Remaining: remaining, ResetsIn: t0.Add(time.Hour).Sub(c.Now())}, true, true)
	}
	left := func(p quota.Priority, want int) {
		t.Helper()
		if n, ok := b.Left(userKey, p); !ok || n != want {
			t.Errorf("at %s: Left(%d) = %d, %v; want %d", c.Now().Format(time.TimeOnly), p, n, ok, want)
		}
	}
	if _, ok := b.Left(userKey, quota.Normal); ok {
		t.Error("Left of an unknown bucket says it is known")
	}
	settle(29)
	c.Advance(10 * time.Minute)
	left(quota.Normal, 26) // no one else spends: nothing projected
	settle(18)             // others spent 10 in the window's first 10 minutes
	left(quota.Normal, 15)
	c.Advance(5 * time.Minute)
	// 10 calls in the window's 15 minutes: 5 minutes since the report project ceil(3.3) = 4.
	left(quota.Normal, 11)
	left(quota.Low, 6)
	for range 11 {
		mustGrant(t, b, userKey, quota.Normal)
	}
	mustDefer(t, t.Context(), b, userKey, quota.Normal, t0.Add(time.Hour))
	left(quota.High, 0)
}
