package scheduler_test

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/sluicehq/sluice/engine/scheduler"
)

// t0 is the fake clock's start: Monday 7 January 2030, 10:07 UTC.
var t0 = time.Date(2030, time.January, 7, 10, 7, 0, 0, time.UTC)

// guard bounds how long a test waits for something that should happen at once. It only
// fires when the code under test is broken.
const guard = 10 * time.Second

// maxJitter is the default Options.MaxJitter.
const maxJitter = 10 * time.Second

// at is a time on 7 January 2030, UTC.
func at(h, m, s int) time.Time { return time.Date(2030, time.January, 7, h, m, s, 0, time.UTC) }

// run is one call of Options.Run, as a test sees it.
type run struct {
	name string
	at   time.Time // the fake clock when the run began
	ctx  context.Context
}

// recorder returns a Run that reports each call on runs, then returns.
func recorder(fc *clockwork.FakeClock, runs chan<- run) scheduler.Func {
	return func(ctx context.Context, name string) { runs <- run{name, fc.Now(), ctx} }
}

// newScheduler returns a Scheduler that is shut down when the test ends.
func newScheduler(t *testing.T, o scheduler.Options) *scheduler.Scheduler {
	t.Helper()
	s, err := scheduler.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		done := make(chan error, 1)
		go func() { done <- s.Shutdown() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		case <-time.After(guard):
			t.Error("Shutdown did not return")
		}
	})
	return s
}

func set(t *testing.T, s *scheduler.Scheduler, jobs ...scheduler.Job) {
	t.Helper()
	if err := s.Set(jobs); err != nil {
		t.Fatalf("Set: %v", err)
	}
}

// timers waits until at least n timers are armed on the fake clock.
func timers(t *testing.T, fc *clockwork.FakeClock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := fc.BlockUntilContext(ctx, n); err != nil {
		t.Fatalf("waiting for %d timers: %v", n, err)
	}
}

// exactTimers checks that exactly n timers are armed on the fake clock. Call it when no
// timer is being armed or stopped.
func exactTimers(t *testing.T, fc *clockwork.FakeClock, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // BlockUntilContext then only answers whether there are enough already
	if fc.BlockUntilContext(ctx, n) != nil {
		t.Fatalf("fewer than %d timers armed", n)
	}
	if fc.BlockUntilContext(ctx, n+1) == nil {
		t.Fatalf("more than %d timers armed", n)
	}
}

// next returns the job's next run; the job must have one.
func next(t *testing.T, s *scheduler.Scheduler, name string) time.Time {
	t.Helper()
	n, ok := s.Next(name)
	if !ok {
		t.Fatalf("Next(%s): no next run", name)
	}
	return n
}

// advanceTo moves the fake clock forward to when.
func advanceTo(fc *clockwork.FakeClock, when time.Time) { fc.Advance(when.Sub(fc.Now())) }

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(guard):
		t.Fatalf("no %s", what)
		panic("unreachable")
	}
}

// ran receives a run of a job that returns at once, then waits until the scheduler is
// done with it: the run's ctx ends once the job is free to run again.
func ran(t *testing.T, runs <-chan run) run {
	t.Helper()
	r := receive(t, runs, "run")
	receive(t, r.ctx.Done(), "end of the run")
	return r
}

// logWatch is a slog.Handler that passes on the records with one message.
type logWatch struct {
	msg  string
	seen chan slog.Record
}

func newLogWatch(msg string) *logWatch { return &logWatch{msg: msg, seen: make(chan slog.Record, 16)} }

func (w *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *logWatch) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *logWatch) WithGroup(string) slog.Handler            { return w }
func (w *logWatch) Handle(_ context.Context, r slog.Record) error {
	if r.Message == w.msg {
		select {
		case w.seen <- r.Clone():
		default:
		}
	}
	return nil
}

// attr returns the value of the record's attribute called key.
func attr(r slog.Record, key string) string {
	var v string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}

func TestNewNeedsRun(t *testing.T) {
	if _, err := scheduler.New(scheduler.Options{}); err == nil {
		t.Fatal("New without Run: no error")
	}
}

func TestEveryRunsOnTheGridPlusJitter(t *testing.T) {
	const name = "toggl-to-jira"
	fc := clockwork.NewFakeClockAt(t0)
	runs := make(chan run, 4)
	s := newScheduler(t, scheduler.Options{Clock: fc, Run: recorder(fc, runs)})
	set(t, s, scheduler.Job{Name: name, Every: 15 * time.Minute})
	if n, ok := s.Next(name); ok {
		t.Errorf("Next before Start = %s, want none", n)
	}
	s.Start()
	timers(t, fc, 1)

	// Started at 10:07, a 15-minute job first runs at 10:15 plus its jitter.
	grid := at(10, 15, 0)
	jitter := next(t, s, name).Sub(grid)
	if jitter < 0 || jitter >= maxJitter {
		t.Fatalf("first run at %s: jitter %s, want within [0, %s) after %s", grid.Add(jitter), jitter, maxJitter, grid)
	}
	for i := range 3 {
		want := grid.Add(time.Duration(i)*15*time.Minute + jitter)
		if got := next(t, s, name); !got.Equal(want) {
			t.Fatalf("before run %d: Next = %s, want %s", i+1, got, want)
		}
		// In two steps: a run that fired early would show the earlier time.
		advanceTo(fc, want.Add(-time.Millisecond))
		advanceTo(fc, want)
		r := ran(t, runs)
		if r.name != name || !r.at.Equal(want) {
			t.Fatalf("run %d: %s at %s, want %s at %s", i+1, r.name, r.at, name, want)
		}
		timers(t, fc, 1)
	}
	exactTimers(t, fc, 1)
}

func TestJitterIsFixedPerName(t *testing.T) {
	fc := clockwork.NewFakeClockAt(t0)
	names := []string{"a", "b", "toggl-to-jira", "weekly-report"}
	// offsets starts a scheduler with an hourly job per name, and returns how far after
	// 11:00 each first runs.
	offsets := func(limit time.Duration) map[string]time.Duration {
		s := newScheduler(t, scheduler.Options{Clock: fc, MaxJitter: limit, Run: func(context.Context, string) {}})
		var jobs []scheduler.Job
		for _, n := range names {
			jobs = append(jobs, scheduler.Job{Name: n, Every: time.Hour})
		}
		set(t, s, jobs...)
		s.Start()
		out := map[string]time.Duration{}
		for _, n := range names {
			out[n] = next(t, s, n).Sub(at(11, 0, 0))
			if out[n] < 0 || out[n] >= limit {
				t.Errorf("MaxJitter %s: %s has jitter %s", limit, n, out[n])
			}
		}
		return out
	}
	first, again := offsets(maxJitter), offsets(maxJitter)
	if !reflect.DeepEqual(first, again) {
		t.Errorf("jitter changed between schedulers: %v, then %v", first, again)
	}
	if first["a"] == first["b"] {
		t.Errorf("a and b share the jitter %s", first["a"])
	}
	offsets(2 * time.Second)
}

func TestNegativeMaxJitterRunsOnTheGrid(t *testing.T) {
	fc := clockwork.NewFakeClockAt(t0)
	runs := make(chan run, 4)
	s := newScheduler(t, scheduler.Options{Clock: fc, MaxJitter: -1, Run: recorder(fc, runs)})
	set(t, s, scheduler.Job{Name: "every", Every: 15 * time.Minute}, scheduler.Job{Name: "cron", Cron: "0 11 * * *"})
	s.Start()
	timers(t, fc, 2)
	if got, want := next(t, s, "every"), at(10, 15, 0); !got.Equal(want) {
		t.Errorf("every: Next = %s, want %s", got, want)
	}
	if got, want := next(t, s, "cron"), at(11, 0, 0); !got.Equal(want) {
		t.Errorf("cron: Next = %s, want %s", got, want)
	}
	advanceTo(fc, at(10, 15, 0))
	if r := receive(t, runs, "run"); r.name != "every" || !r.at.Equal(at(10, 15, 0)) {
		t.Errorf("ran %s at %s, want every at 10:15:00", r.name, r.at)
	}
}

func TestCronRunsInItsTimeZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(mo time.Month, d, h int) time.Time { return time.Date(2030, mo, d, h, 0, 0, 0, time.UTC) }
	// Friday 29 March 2030, 12:00 UTC. Berlin moves to summer time on Sunday 31 March,
	// New York moved on 10 March.
	start := utc(time.March, 29, 12)
	tests := []struct {
		name string
		job  scheduler.Job
		want []time.Time
	}{
		{"Berlin, across the clock change", scheduler.Job{Name: "standup", Cron: "0 9 * * 1-5", Location: berlin},
			[]time.Time{utc(time.April, 1, 7), utc(time.April, 2, 7)}},
		{"no location is UTC", scheduler.Job{Name: "standup", Cron: "0 9 * * 1-5"},
			[]time.Time{utc(time.April, 1, 9), utc(time.April, 2, 9)}},
		{"CRON_TZ wins over Location", scheduler.Job{Name: "standup", Cron: "CRON_TZ=America/New_York 0 9 * * 1-5", Location: berlin},
			[]time.Time{utc(time.March, 29, 13), utc(time.April, 1, 13)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fc := clockwork.NewFakeClockAt(start)
			runs := make(chan run, 4)
			s := newScheduler(t, scheduler.Options{Clock: fc, Run: recorder(fc, runs)})
			set(t, s, tc.job)
			s.Start()
			timers(t, fc, 1)
			jitter := next(t, s, tc.job.Name).Sub(tc.want[0])
			if jitter < 0 || jitter >= maxJitter {
				t.Fatalf("Next = %s, want within [0, %s) after %s", tc.want[0].Add(jitter), maxJitter, tc.want[0])
			}
			for i, w := range tc.want {
				want := w.Add(jitter)
				if got := next(t, s, tc.job.Name); !got.Equal(want) {
					t.Fatalf("before run %d: Next = %s, want %s", i+1, got, want)
				}
				advanceTo(fc, want)
				if r := ran(t, runs); !r.at.Equal(want) {
					t.Fatalf("run %d at %s, want %s", i+1, r.at, want)
				}
				timers(t, fc, 1)
			}
		})
	}
}

func TestBusyJobSkipsTicks(t *testing.T) {
	fc := clockwork.NewFakeClockAt(t0)
	logs := newLogWatch("scheduler: job busy, tick skipped")
	var active, most, calls atomic.Int32
	started := make(chan run, 4)
	release := make(chan struct{})
	s := newScheduler(t, scheduler.Options{Clock: fc, Log: slog.New(logs), MaxJitter: -1, Run: func(ctx context.Context, name string) {
		n := active.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		first := calls.Add(1) == 1
		started <- run{name, fc.Now(), ctx}
		if first {
			<-release // the first run is slow
		}
		active.Add(-1)
	}})
	set(t, s, scheduler.Job{Name: "a", Every: time.Minute})
	s.Start()
	timers(t, fc, 1)

	advanceTo(fc, at(10, 8, 0))
	first := receive(t, started, "first run")
	timers(t, fc, 1)
	advanceTo(fc, at(10, 9, 0)) // falls while the first run is busy
	if r := receive(t, logs.seen, "log of the skipped tick"); attr(r, "workflow") != "a" {
		t.Errorf("skipped a tick of %q, want a", attr(r, "workflow"))
	}
	timers(t, fc, 1)
	if got, want := next(t, s, "a"), at(10, 10, 0); !got.Equal(want) {
		t.Errorf("after the skipped tick, Next = %s, want %s", got, want)
	}
	close(release)
	receive(t, first.ctx.Done(), "end of the first run")

	advanceTo(fc, at(10, 10, 0))
	// Had the 10:09 tick been queued rather than skipped, this run would have begun at
	// 10:09, as soon as the first ended.
	if r := ran(t, started); !r.at.Equal(at(10, 10, 0)) {
		t.Errorf("second run began at %s, want 10:10:00", r.at)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d runs, want 2", n)
	}
	if n := most.Load(); n != 1 {
		t.Errorf("%d runs at once, want 1", n)
	}
}

func TestSetAddsJobsAndKeepsTheOthers(t *testing.T) {
	fc := clockwork.NewFakeClockAt(t0)
	runs := make(chan run, 4)
	s := newScheduler(t, scheduler.Options{Clock: fc, Run: recorder(fc, runs)})
	a := scheduler.Job{Name: "a", Every: 15 * time.Minute}
	set(t, s, a)
	s.Start()
	timers(t, fc, 1)
	nextA := next(t, s, "a")

	advanceTo(fc, at(10, 10, 0))
	b := scheduler.Job{Name: "b", Cron: "30 * * * *"}
	set(t, s, b, a)
	exactTimers(t, fc, 2)
	if got := next(t, s, "a"); !got.Equal(nextA) {
		t.Errorf("a: Next = %s after Set, was %s", got, nextA)
	}
	if got := next(t, s, "b").Sub(at(10, 30, 0)); got < 0 || got >= maxJitter {
		t.Errorf("b: Next = %s, want within [0, %s) after 10:30", at(10, 30, 0).Add(got), maxJitter)
	}
	if got, want := s.Jobs(), []scheduler.Job{a, b}; !reflect.DeepEqual(got, want) {
		t.Errorf("Jobs = %v, want %v", got, want)
	}
}

func TestSetUpdateMovesNextRunAndKeepsTheRunningContext(t *testing.T) {
	fc := clockwork.NewFakeClockAt(t0)
	runs := make(chan run, 4)
	release := make(chan struct{})
	s := newScheduler(t, scheduler.Options{Clock: fc, Run: func(ctx context.Context, name string) {
		runs <- run{name, fc.Now(), ctx}
		<-release
	}})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	set(t, s, scheduler.Job{Name: "a", Every: 15 * time.Minute})
	s.Start()
	timers(t, fc, 1)
	first := next(t, s, "a")
	jitter := first.Sub(at(10, 15, 0))
	advanceTo(fc, first)
	running := receive(t, runs, "first run")
	timers(t, fc, 1) // gocron has rescheduled it

	set(t, s, scheduler.Job{Name: "a", Every: time.Hour})
	if err := running.ctx.Err(); err != nil {
		t.Errorf("the running job's ctx ended on update: %v", err)
	}
	if got, want := next(t, s, "a"), at(11, 0, 0).Add(jitter); !got.Equal(want) {
		t.Errorf("after the update, Next = %s, want %s", got, want)
	}
	exactTimers(t, fc, 1) // the 15-minute timer is gone
	if got := s.Jobs(); len(got) != 1 || got[0].Every != time.Hour {
		t.Errorf("Jobs = %v, want a every 1h", got)
	}

	close(release)
	receive(t, running.ctx.Done(), "end of the first run")
	advanceTo(fc, at(11, 0, 0).Add(jitter))
	if r := receive(t, runs, "run after the update"); !r.at.Equal(at(11, 0, 0).Add(jitter)) {
		t.Errorf("ran at %s, want %s", r.at, at(11, 0, 0).Add(jitter))
	}
}

func TestSetRemoveCancelsTheRunningJob(t *testing.T) {
	fc := clockwork.NewFakeClockAt(t0)
	runs := make(chan run, 4)
	ended := make(chan error, 1)
	s := newScheduler(t, scheduler.Options{Clock: fc, Run: func(ctx context.Context, name string) {
		runs <- run{name, fc.Now(), ctx}
		if name == "a" {
			<-ctx.Done()
			ended <- ctx.Err()
		}
	}})
	b := scheduler.Job{Name: "b", Every: time.Hour}
	set(t, s, scheduler.Job{Name: "a", Every: 15 * time.Minute}, b)
	s.Start()
	timers(t, fc, 2)
	advanceTo(fc, next(t, s, "a"))
	receive(t, runs, "run of a")
	timers(t, fc, 2)

	set(t, s, b)
	if err := receive(t, ended, "end of a's run"); !errors.Is(err, context.Canceled) {
		t.Errorf("a's ctx ended with %v, want context.Canceled", err)
	}
	if n, ok := s.Next("a"); ok {
		t.Errorf("Next(a) = %s after removal", n)
	}
	exactTimers(t, fc, 1) // only b's
	if got, want := s.Jobs(), []scheduler.Job{b}; !reflect.DeepEqual(got, want) {
		t.Errorf("Jobs = %v, want %v", got, want)
	}
	set(t, s)
	exactTimers(t, fc, 0)
}

func TestSetRejectsInvalidJobs(t *testing.T) {
	tests := []struct {
		name string
		jobs []scheduler.Job
		want []string // in the error
	}{
		{"bad cron", []scheduler.Job{{Name: "standup", Cron: "0 9 * *"}}, []string{`"standup"`, `"0 9 * *"`, "expected exactly 5 fields"}},
		{"cron that never fires", []scheduler.Job{{Name: "feb30", Cron: "0 0 30 2 *"}}, []string{`"feb30"`, "never fires"}},
		{"every and cron", []scheduler.Job{{Name: "x", Every: time.Hour, Cron: "0 9 * * *"}}, []string{`"x"`, "both"}},
		{"neither", []scheduler.Job{{Name: "x"}}, []string{`"x"`, "neither"}},
		{"negative every", []scheduler.Job{{Name: "x", Every: -time.Minute}}, []string{`"x"`, "not positive"}},
		{"no name", []scheduler.Job{{Every: time.Hour}}, []string{"#2", "no name"}},
		{"a name twice", []scheduler.Job{{Name: "x", Every: time.Hour}, {Name: "x", Every: 2 * time.Hour}}, []string{`"x"`, "twice"}},
		{"every problem is told", []scheduler.Job{{Name: "x", Cron: "nope"}, {Name: "y"}}, []string{`"x"`, `"y"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newScheduler(t, scheduler.Options{Run: func(context.Context, string) {}})
			keep := []scheduler.Job{{Name: "keep", Every: time.Hour}}
			set(t, s, keep...)
			err := s.Set(append([]scheduler.Job{{Name: "new", Every: time.Hour}}, tc.jobs...))
			if !errors.Is(err, scheduler.ErrInvalidJob) {
				t.Fatalf("Set = %v, want ErrInvalidJob", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %s", err, w)
				}
			}
			if got := s.Jobs(); !reflect.DeepEqual(got, keep) {
				t.Errorf("after a refused Set, Jobs = %v, want %v", got, keep)
			}
		})
	}
}

func TestShutdownWaitsForRunningJobs(t *testing.T) {
	fc := clockwork.NewFakeClockAt(t0)
	logs := newLogWatch("scheduler: waiting for running jobs")
	runs := make(chan run, 4)
	release := make(chan struct{})
	ended := make(chan error, 1)
	s := newScheduler(t, scheduler.Options{Clock: fc, Log: slog.New(logs), Run: func(ctx context.Context, name string) {
		runs <- run{name, fc.Now(), ctx}
		<-release
		ended <- ctx.Err()
	}})
	set(t, s, scheduler.Job{Name: "a", Every: 15 * time.Minute}, scheduler.Job{Name: "b", Every: time.Hour})
	s.Start()
	timers(t, fc, 2)
	advanceTo(fc, next(t, s, "a"))
	receive(t, runs, "run of a")

	done := make(chan error, 1)
	go func() { done <- s.Shutdown() }()
	if r := receive(t, logs.seen, "log of the wait"); attr(r, "workflow") != "a" || attr(r, "wait") != "30s" {
		t.Errorf("logged workflow=%s wait=%s, want a and 30s", attr(r, "workflow"), attr(r, "wait"))
	}
	timers(t, fc, 1) // the stop timeout; the jobs' timers are gone
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a job was running", err)
	default:
	}
	if n, ok := s.Next("b"); ok {
		t.Errorf("Next(b) = %s during Shutdown", n)
	}
	if err := s.Set(nil); !errors.Is(err, scheduler.ErrClosed) {
		t.Errorf("Set during Shutdown = %v, want ErrClosed", err)
	}

	close(release)
	if err := receive(t, ended, "end of the run"); err != nil {
		t.Errorf("the run's ctx ended with %v before the stop timeout", err)
	}
	if err := receive(t, done, "return from Shutdown"); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	exactTimers(t, fc, 0)
	if err := s.Set([]scheduler.Job{{Name: "c", Every: time.Hour}}); !errors.Is(err, scheduler.ErrClosed) {
		t.Errorf("Set after Shutdown = %v, want ErrClosed", err)
	}
}

func TestShutdownCancelsJobsAfterStopTimeout(t *testing.T) {
	fc := clockwork.NewFakeClockAt(t0)
	logs := newLogWatch("scheduler: waiting for running jobs")
	runs := make(chan run, 4)
	release := make(chan struct{})
	defer close(release)
	s := newScheduler(t, scheduler.Options{Clock: fc, Log: slog.New(logs), StopTimeout: time.Minute,
		Run: func(ctx context.Context, name string) {
			runs <- run{name, fc.Now(), ctx}
			<-release // ignores ctx
		}})
	set(t, s, scheduler.Job{Name: "a", Every: 15 * time.Minute})
	s.Start()
	timers(t, fc, 1)
	advanceTo(fc, next(t, s, "a"))
	r := receive(t, runs, "run of a")

	done := make(chan error, 1)
	go func() { done <- s.Shutdown() }()
	receive(t, logs.seen, "log of the wait")
	timers(t, fc, 1)
	fc.Advance(time.Minute - time.Nanosecond)
	exactTimers(t, fc, 1) // the stop timeout has not expired
	if err := r.ctx.Err(); err != nil {
		t.Fatalf("ctx ended with %v before the stop timeout", err)
	}
	fc.Advance(time.Nanosecond)
	err := receive(t, done, "return from Shutdown")
	if !errors.Is(err, scheduler.ErrStopTimeout) || !strings.Contains(err.Error(), "a") {
		t.Errorf("Shutdown = %v, want ErrStopTimeout naming a", err)
	}
	if err := r.ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("after the stop timeout, ctx.Err() = %v, want context.Canceled", err)
	}
}

func TestPanickingJobIsLoggedAndRunsAgain(t *testing.T) {
	fc := clockwork.NewFakeClockAt(t0)
	logs := newLogWatch("scheduler: job panicked")
	runs := make(chan run, 4)
	var calls atomic.Int32
	s := newScheduler(t, scheduler.Options{Clock: fc, Log: slog.New(logs), MaxJitter: -1, Run: func(ctx context.Context, name string) {
		runs <- run{name, fc.Now(), ctx}
		if calls.Add(1) == 1 {
			panic("boom")
		}
	}})
	set(t, s, scheduler.Job{Name: "a", Every: time.Minute})
	s.Start()
	timers(t, fc, 1)
	advanceTo(fc, at(10, 8, 0))
	ran(t, runs)
	if r := receive(t, logs.seen, "log of the panic"); attr(r, "workflow") != "a" || !strings.Contains(attr(r, "error"), "boom") {
		t.Errorf("logged workflow=%s error=%.40s", attr(r, "workflow"), attr(r, "error"))
	}
	timers(t, fc, 1)
	advanceTo(fc, at(10, 9, 0))
	if r := ran(t, runs); !r.at.Equal(at(10, 9, 0)) {
		t.Errorf("ran at %s, want 10:09:00", r.at)
	}
}

// TestShutdownLeavesNoGoroutines counts goroutines; goleak is not in go.mod. gocron's
// goroutines end just after Shutdown returns, so the count is retried for a while, as
// goleak would.
func TestShutdownLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	fc := clockwork.NewFakeClockAt(t0)
	runs := make(chan run, 4)
	s, err := scheduler.New(scheduler.Options{Clock: fc, MaxJitter: -1, Run: recorder(fc, runs)})
	if err != nil {
		t.Fatal(err)
	}
	set(t, s, scheduler.Job{Name: "a", Every: time.Minute}, scheduler.Job{Name: "b", Cron: "*/2 * * * *"})
	s.Start()
	for _, min := range []int{8, 9, 10} {
		timers(t, fc, 2)
		advanceTo(fc, at(10, min, 0))
		ran(t, runs)
		if min%2 == 0 {
			ran(t, runs)
		}
	}
	set(t, s, scheduler.Job{Name: "a", Every: time.Hour})
	if err := s.Shutdown(); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}

	deadline := time.Now().Add(guard)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before New, %d after Shutdown:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}
