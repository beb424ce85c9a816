package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"
)

// Job is one workflow's place in the schedule.
type Job struct {
	Name string
	// Every runs the job on a grid aligned to the Unix epoch: at multiples of Every, each
	// plus the job's jitter.
	Every time.Duration
	// Cron (5 fields, as robfig/cron standard) and Location run it on a cron schedule
	// instead, plus the jitter. A nil Location means UTC; a TZ= or CRON_TZ= prefix in Cron
	// wins over Location.
	Cron     string
	Location *time.Location
}

// Func runs one job. ctx ends when the scheduler shuts down (after StopTimeout) or the job
// is removed by Set; a job whose schedule changes keeps its context. ctx is also
// cancelled once Func returns, after the job is free to run again. Calls for different
// jobs may run concurrently; calls for one job never overlap: a tick that falls while
// the job runs is skipped.
type Func func(ctx context.Context, name string)

// Options configure a Scheduler.
type Options struct {
	Clock clockwork.Clock // nil: real time
	Log   *slog.Logger    // nil: discard
	// MaxJitter bounds each job's jitter: default 10s; negative: none. A job's jitter is
	// fixed per name (hash of the name) in [0, MaxJitter), so workflows on one token don't
	// fire in the same second, yet stay within the quota engine's 1-minute read cache.
	MaxJitter time.Duration
	// StopTimeout is how long Shutdown lets running jobs finish before cancelling their
	// ctx: default 30s; negative: cancel at once. It is measured on Clock.
	StopTimeout time.Duration
	Run         Func
}

const (
	defaultMaxJitter   = 10 * time.Second
	defaultStopTimeout = 30 * time.Second
	// gocronStopTimeout is how long gocron's own Shutdown waits for running tasks. gocron
	// waits by spinning on the real clock, so it is kept short: Scheduler.Shutdown does
	// the waiting, on the injected clock.
	gocronStopTimeout = 10 * time.Millisecond
)

// Scheduler runs Options.Run for each job on its schedule. Its methods may be called
// from any goroutine.
type Scheduler struct {
	gs          gocron.Scheduler
	clock       clockwork.Clock
	log         *slog.Logger
	maxJitter   time.Duration
	stopTimeout time.Duration
	run         Func

	// opMu serialises Set and Shutdown, which change gocron's jobs. Only Set writes
	// jobs, holding both opMu and mu; readers hold mu.
	opMu sync.Mutex

	mu      sync.Mutex
	jobs    map[string]*entry
	started bool
	closed  bool
	// runs holds the cancel func of each run in progress, by job name. A job whose name
	// is here is busy: its ticks are skipped.
	runs map[string]context.CancelFunc
	// running counts runs in progress. Add is called only under mu while !closed, so
	// that Shutdown's Wait never races an Add from zero.
	running sync.WaitGroup
}

// entry is a job in the schedule.
type entry struct {
	plan *plan
	gj   gocron.Job
}

// New returns a Scheduler with no jobs. Call Shutdown when done with it, started or not:
// gocron runs a goroutine from the start.
func New(o Options) (*Scheduler, error) {
	if o.Run == nil {
		return nil, errors.New("scheduler: Options.Run is nil")
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxJitter == 0 {
		o.MaxJitter = defaultMaxJitter
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = defaultStopTimeout
	}
	gs, err := gocron.NewScheduler(
		gocron.WithClock(o.Clock),
		gocron.WithLocation(time.UTC),
		gocron.WithLogger(o.Log),
		gocron.WithStopTimeout(gocronStopTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	return &Scheduler{
		gs:          gs,
		clock:       o.Clock,
		log:         o.Log,
		maxJitter:   o.MaxJitter,
		stopTimeout: o.StopTimeout,
		run:         o.Run,
		jobs:        map[string]*entry{},
		runs:        map[string]context.CancelFunc{},
	}, nil
}

// Start arms the timers of the jobs set so far; jobs set later are armed as they come.
// It does not block. Calling it again, or after Shutdown, does nothing.
func (s *Scheduler) Start() {
	s.mu.Lock()
	if s.started || s.closed {
		s.mu.Unlock()
		return
	}
	s.started = true
	s.mu.Unlock()
	s.gs.Start()
}

// Set makes the schedule exactly these jobs: new names added, changed ones (interval,
// cron, location) updated in place, missing ones removed. Unchanged jobs keep their next
// run. Safe while running.
//
// A run in progress when its job is updated goes on with its context. One whose job is
// removed has its context cancelled; Set does not wait for it to return, and the name
// stays busy (a job added again under it skips its ticks) until it does.
//
// Set checks every job before it changes anything: if one is invalid, it returns all the
// problems, each wrapping ErrInvalidJob and naming its job, and the schedule stays as it
// was. After Shutdown it returns ErrClosed.
func (s *Scheduler) Set(jobs []Job) error {
	now := s.clock.Now()
	plans := make(map[string]*plan, len(jobs))
	var errs []error
	for i, j := range jobs {
		p, err := compile(i, j, s.maxJitter, now)
		switch {
		case err != nil:
			errs = append(errs, err)
		case plans[j.Name] != nil:
			errs = append(errs, fmt.Errorf("%w %q: named twice", ErrInvalidJob, j.Name))
		default:
			plans[j.Name] = p
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	// Checked before opMu too, which Shutdown holds while it waits for running jobs.
	if s.isClosed() {
		return ErrClosed
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if s.isClosed() {
		return ErrClosed
	}
	for _, name := range slices.Sorted(maps.Keys(s.jobs)) {
		if plans[name] == nil {
			errs = append(errs, s.remove(name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(plans)) {
		errs = append(errs, s.put(plans[name]))
	}
	return errors.Join(errs...)
}

func (s *Scheduler) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// put adds the job or, when its schedule changed, updates it. The caller holds opMu.
func (s *Scheduler) put(p *plan) error {
	name := p.job.Name
	e := s.jobs[name]
	if e != nil && e.plan.key == p.key {
		s.mu.Lock()
		e.plan = p
		s.mu.Unlock()
		return nil
	}
	def, opts := p.definition(s.clock.Now())
	opts = append(opts, gocron.WithName(name))
	task := gocron.NewTask(s.fire, name)

	if e == nil {
		gj, err := s.gs.NewJob(def, task, opts...)
		if err == nil && gj == nil { // gocron answers so once it is shut down
			err = ErrClosed
		}
		if err != nil {
			return fmt.Errorf("scheduler: add job %q: %w", name, err)
		}
		s.mu.Lock()
		s.jobs[name] = &entry{plan: p, gj: gj}
		s.mu.Unlock()
		s.log.Info("scheduler: job added", "workflow", name)
		return nil
	}

	// gocron's Update removes the job and adds it again under the same ID, and waits
	// for both. A run in progress is not gocron's concern: see fire.
	gj, err := s.gs.Update(e.gj.ID(), def, task, opts...)
	if err == nil && gj == nil {
		err = ErrClosed
	}
	if err != nil {
		// The old job may be gone from gocron already: forget it here too.
		_ = s.remove(name)
		return fmt.Errorf("scheduler: update job %q: %w", name, err)
	}
	s.mu.Lock()
	e.plan, e.gj = p, gj
	s.mu.Unlock()
	s.log.Info("scheduler: job updated", "workflow", name)
	return nil
}

// remove takes the job out of the schedule and cancels its run in progress. The caller
// holds opMu.
func (s *Scheduler) remove(name string) error {
	s.mu.Lock()
	e := s.jobs[name]
	delete(s.jobs, name) // a tick that fires from here on finds no job
	cancel := s.runs[name]
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.log.Info("scheduler: job removed", "workflow", name)
	if err := s.gs.RemoveJob(e.gj.ID()); err != nil {
		return fmt.Errorf("scheduler: remove job %q: %w", name, err)
	}
	// RemoveJob returns once gocron's loop has the request, before it stops the job's
	// timer.
	s.sync()
	return nil
}

// sync returns once gocron's loop has acted on every request it has received: it answers
// them in order, and this is one more.
func (s *Scheduler) sync() { _ = s.gs.Jobs() }

// fire is gocron's task: one tick of the job called name. It runs the job unless the
// job is busy, in which case the tick is skipped.
//
// gocron's WithSingletonMode(LimitModeReschedule) is not used: it frees the job in
// gocron's own goroutine after the task returns, so a tick can be skipped after the run
// has ended, and nothing tells when it is free. Here the job is free before the run's
// ctx is cancelled.
//
// gocron v2 would also pass its own context to a task that takes one, but cancels it at
// once on Shutdown (not after the stop timeout) and on Update; runs get a context from
// here instead.
func (s *Scheduler) fire(name string) {
	if !s.live(name) {
		return
	}
	// gocron has handed this tick's bookkeeping (the next tick, the one done) to its loop
	// but may not have applied it. If the clock passes the next tick before it does (a
	// fake clock moved on as soon as a run is seen), gocron v2.21.2 drops that tick and
	// fires the job again and again at the same instant.
	s.sync()
	s.mu.Lock()
	if s.jobs[name] == nil || s.closed {
		s.mu.Unlock()
		return
	}
	if s.runs[name] != nil {
		s.mu.Unlock()
		s.log.Info("scheduler: job busy, tick skipped", "workflow", name)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.runs[name] = cancel
	s.running.Add(1)
	s.mu.Unlock()
	defer cancel() // last: the job is free by the time ctx ends
	defer func() {
		s.mu.Lock()
		delete(s.runs, name)
		s.mu.Unlock()
		s.running.Done()
	}()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("scheduler: job panicked", "workflow", name, "error", fmt.Sprintf("%v\n%s", r, debug.Stack()))
		}
	}()
	s.log.Debug("scheduler: job fired", "workflow", name)
	s.run(ctx, name)
}

// live reports whether the job called name is in the schedule and the scheduler open.
func (s *Scheduler) live(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs[name] != nil && !s.closed
}

// Next returns the job's next run. It is false for an unknown job, and while the
// scheduler is not running (before Start, after Shutdown).
func (s *Scheduler) Next(name string) (time.Time, bool) {
	s.mu.Lock()
	e := s.jobs[name]
	live := s.started && !s.closed
	var gj gocron.Job
	if e != nil {
		gj = e.gj
	}
	s.mu.Unlock()
	if gj == nil || !live {
		return time.Time{}, false
	}
	// gocron's list of next runs can still start with a tick that has just fired (with
	// WithSingletonMode, with a skipped one until the next run): take the first future one.
	runs, err := gj.NextRuns(3)
	if err != nil {
		return time.Time{}, false
	}
	now := s.clock.Now()
	for _, t := range runs {
		if t.After(now) {
			return t, true
		}
	}
	return time.Time{}, false
}

// Jobs returns the jobs in the schedule, sorted by name.
func (s *Scheduler) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Job, 0, len(s.jobs))
	for _, e := range s.jobs {
		out = append(out, e.plan.job)
	}
	slices.SortFunc(out, func(a, b Job) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Shutdown stops scheduling at once, waits for running jobs up to StopTimeout, then
// cancels their contexts and returns. It does not wait for a job that ignores its
// cancelled context; it returns ErrStopTimeout when it had to cancel any. Calling it
// again returns nil at once.
func (s *Scheduler) Shutdown() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true // from here no run starts
	s.mu.Unlock()
	s.opMu.Lock() // let a Set in progress finish
	defer s.opMu.Unlock()

	var errs []error
	// gocron stops its timers and waits briefly for its tasks; ours may still be running.
	if err := s.gs.Shutdown(); err != nil && !errors.Is(err, gocron.ErrStopJobsTimedOut) {
		errs = append(errs, fmt.Errorf("scheduler: stop gocron: %w", err))
	}
	if late, ok := s.drain(); !ok {
		err := ErrStopTimeout
		if len(late) > 0 {
			err = fmt.Errorf("%w: %s", ErrStopTimeout, strings.Join(late, ", "))
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// drain waits up to the stop timeout for the runs in progress. If some are left, it
// cancels them and returns false with the names of their jobs (a removed job's run that
// is still going is named too).
func (s *Scheduler) drain() (late []string, ok bool) {
	s.mu.Lock()
	running := slices.Sorted(maps.Keys(s.runs))
	s.mu.Unlock()
	if len(running) > 0 {
		s.log.Info("scheduler: waiting for running jobs", "workflow", strings.Join(running, ","), "wait", max(s.stopTimeout, 0))
	}
	done := make(chan struct{})
	go func() {
		s.running.Wait()
		close(done)
	}()
	if s.stopTimeout > 0 {
		t := s.clock.NewTimer(s.stopTimeout)
		defer t.Stop()
		select {
		case <-done:
			return nil, true
		case <-t.Chan():
		}
	} else {
		select {
		case <-done:
			return nil, true
		default:
		}
	}
	s.mu.Lock()
	late = slices.Sorted(maps.Keys(s.runs))
	cancels := slices.Collect(maps.Values(s.runs))
	s.mu.Unlock()
	for _, cancel := range cancels {
		cancel()
	}
	return late, false
}
