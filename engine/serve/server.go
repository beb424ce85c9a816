// Package serve runs a project as the service users leave running: each enabled workflow on
// its effective schedule (engine/scheduler), enabling and disabling at run time (kept in the
// store), reloading changed files without stopping, manual runs, and the read models that
// the web UI and the JSON API show (views.go) with Prometheus metrics (metrics.go).
//
//	files ──load──▶ project ──plan──▶ jobs ──scheduler──▶ run (one at a time per workflow)
//	  ▲ SIGHUP / changed mtime          ▲ enable, disable, external usage: plan again
//
// A reload that finds a file invalid keeps that workflow's previous version running and
// says why (WorkflowState.ReloadError); an invalid sluice.yaml keeps everything as it was.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/sluicehq/sluice/engine/scheduler"
	"github.com/sluicehq/sluice/engine/service"
	"github.com/sluicehq/sluice/engine/store"
	"github.com/sluicehq/sluice/engine/workflow"
)

// Errors callers tell apart.
var (
	ErrUnknownWorkflow = errors.New("no such workflow")
	ErrBusy            = errors.New("the workflow is running already")
)

// Options configure a Server.
type Options struct {
	// Config is the path of sluice.yaml; Env reads ${VARS} in it.
	Config string
	Env    workflow.LookupEnv
	Store  store.Store
	Clock  clockwork.Clock
	Log    *slog.Logger
	// Service adjusts the service built on every (re)load; its Clock and Log are set here.
	Service service.Options
	// WatchEvery is how often files are checked for changes; 2 s when zero, never when
	// negative (SIGHUP and Reload still work).
	WatchEvery time.Duration
	// PlanEvery is how often the plan is made again, to follow the quota; 10 min when zero.
	PlanEvery time.Duration
	// StopTimeout bounds how long Shutdown lets running workflows finish; 30 s when zero.
	StopTimeout time.Duration
	// MaxJitter is passed to the scheduler.
	MaxJitter time.Duration
	// AfterRun, when set, is told of every run once it is recorded; tests wait on it.
	AfterRun func(store.Run)
}

// Server runs a project's workflows on their schedules.
type Server struct {
	o     Options
	sched *scheduler.Scheduler

	mu      sync.RWMutex
	svc     *service.Service
	project *workflow.Project
	// broken holds each file's problems from the last reload that found it invalid.
	broken map[string]string
	// configError is the problem with sluice.yaml from the last reload, if it was invalid.
	configError string
	mtimes      map[string]time.Time
	plan        planView
	locks       map[string]*sync.Mutex
	// settings is the last enabled/disabled state read from the store, to notice switches
	// made by other processes (`sluice enable`).
	settings map[string]bool

	// base is the context of runs started by the server; cancelled by Shutdown once they
	// have had StopTimeout to finish. The loop has its own, cancelled first.
	base       context.Context
	cancelBase context.CancelFunc
	stopLoop   context.CancelFunc
	loopDone   chan struct{}
	runs       sync.WaitGroup // manual runs
	metrics    *metrics
}

// New loads the project and wires it. The project must be valid to start.
func New(ctx context.Context, o Options) (*Server, error) {
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.WatchEvery == 0 {
		o.WatchEvery = 2 * time.Second
	}
	if o.PlanEvery == 0 {
		o.PlanEvery = 10 * time.Minute
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 30 * time.Second
	}
	o.Service.Clock, o.Service.Log = o.Clock, o.Log
	s := &Server{o: o, broken: map[string]string{}, locks: map[string]*sync.Mutex{}, metrics: newMetrics()}
	s.base, s.cancelBase = context.WithCancel(context.WithoutCancel(ctx))
	p, err := workflow.Load(o.Config, o.Env)
	if err != nil {
		return nil, err
	}
	svc, err := s.newService(ctx, p)
	if err != nil {
		return nil, err
	}
	s.project, s.svc = p, svc
	s.mtimes = fileTimes(p.Config.File, p)
	s.sched, err = scheduler.New(scheduler.Options{Clock: o.Clock, Log: o.Log, MaxJitter: o.MaxJitter,
		StopTimeout: o.StopTimeout, Run: s.scheduled})
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return s, nil
}

func (s *Server) newService(ctx context.Context, p *workflow.Project) (*service.Service, error) {
	return service.New(ctx, p, countingStore{Store: s.o.Store, m: s.metrics}, s.o.Service)
}

// Start schedules the enabled workflows and starts watching the files.
func (s *Server) Start(ctx context.Context) error {
	if err := s.schedule(ctx); err != nil {
		return err
	}
	s.sched.Start()
	loopCtx, stop := context.WithCancel(s.base)
	s.stopLoop, s.loopDone = stop, make(chan struct{})
	go s.loop(loopCtx)
	return nil
}

// loop checks the files for changes and makes the plan again now and then, until Shutdown.
func (s *Server) loop(ctx context.Context) {
	defer close(s.loopDone)
	nextPlan := s.o.Clock.Now().Add(s.o.PlanEvery)
	every := s.o.WatchEvery
	if every < 0 {
		every = s.o.PlanEvery
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.o.Clock.After(every):
		}
		if s.o.WatchEvery > 0 && s.changed() {
			if err := s.Reload(s.base); err != nil {
				s.o.Log.Warn("reload", "error", err)
			}
		}
		if set, err := s.o.Store.Enabled(s.base); err == nil {
			s.mu.RLock()
			same := maps.Equal(set, s.settings)
			s.mu.RUnlock()
			if !same {
				if err := s.schedule(s.base); err != nil {
					s.o.Log.Warn("follow a workflow switched elsewhere", "error", err)
				}
			}
		}
		if now := s.o.Clock.Now(); !now.Before(nextPlan) {
			nextPlan = now.Add(s.o.PlanEvery)
			if err := s.schedule(s.base); err != nil {
				s.o.Log.Warn("plan again", "error", err)
			}
		}
	}
}

// Shutdown stops scheduling, lets running workflows (scheduled or manual) finish up to
// StopTimeout, then cancels what still runs (its outcomes are saved all the same) and stops
// the server's goroutines.
func (s *Server) Shutdown() error {
	if s.stopLoop != nil {
		s.stopLoop()
		<-s.loopDone
	}
	deadline := time.Now().Add(s.o.StopTimeout)
	err := s.sched.Shutdown()
	manual := make(chan struct{})
	go func() {
		s.runs.Wait()
		close(manual)
	}()
	select {
	case <-manual:
	case <-time.After(time.Until(deadline)):
		s.o.Log.Warn("running workflows did not finish in time; cancelling them", "waited", s.o.StopTimeout)
	}
	s.cancelBase()
	<-manual
	return err
}

// changed reports whether sluice.yaml or any workflow file changed, appeared or went.
func (s *Server) changed() bool {
	s.mu.RLock()
	p, old := s.project, s.mtimes
	s.mu.RUnlock()
	now := fileTimes(p.Config.File, p)
	_, files, _ := workflow.LoadConfig(p.Config.File, s.o.Env)
	for _, f := range files {
		if _, ok := now[f]; !ok {
			if info, err := os.Stat(f); err == nil {
				now[f] = info.ModTime()
			}
		}
	}
	if len(now) != len(old) {
		return true
	}
	for f, t := range now {
		if !old[f].Equal(t) {
			return true
		}
	}
	return false
}

// fileTimes returns the modification times of the config and the workflow files.
func fileTimes(config string, p *workflow.Project) map[string]time.Time {
	out := map[string]time.Time{}
	files := []string{config}
	for _, w := range p.Workflows {
		files = append(files, w.File)
	}
	for _, f := range files {
		if info, err := os.Stat(f); err == nil {
			out[f] = info.ModTime()
		}
	}
	return out
}

// Reload reads the files again. Valid workflow files replace their running versions; an
// invalid one keeps its previous version (if it had one) and its problems are shown; an
// invalid sluice.yaml changes nothing. The schedule follows.
func (s *Server) Reload(ctx context.Context) error {
	s.mu.RLock()
	old := s.project
	s.mu.RUnlock()
	cfg, files, err := workflow.LoadConfig(old.Config.File, s.o.Env)
	var diags workflow.Diagnostics
	if err != nil && !errors.As(err, &diags) {
		return s.keepConfig(fmt.Sprintf("%v", err))
	}
	if len(diags) > 0 {
		return s.keepConfig(diags.Error())
	}
	previous := map[string]*workflow.Workflow{}
	for _, w := range old.Workflows {
		previous[w.File] = w
	}
	p := &workflow.Project{Config: cfg}
	broken := map[string]string{}
	seen := map[string]string{}
	for _, f := range files {
		var fd workflow.Diagnostics
		w := workflow.LoadWorkflow(f, cfg, &fd)
		if w != nil {
			if first, dup := seen[w.Name]; dup {
				fd = append(fd, workflow.Diagnostic{File: f, Line: 1, Col: 1,
					Msg: fmt.Sprintf("workflow name %q is already used by %s; names must be unique", w.Name, first)})
				w = nil
			}
		}
		if w == nil {
			broken[f] = fd.Error()
			if prev := previous[f]; prev != nil && cfg.Connections[prev.Source.Connection.Name] != nil &&
				cfg.Connections[prev.Sink.Connection.Name] != nil {
				w = prev
			}
		}
		if w != nil {
			seen[w.Name] = f
			p.Workflows = append(p.Workflows, w)
		}
	}
	svc, err := s.newService(ctx, p)
	if err != nil {
		return fmt.Errorf("serve: reload: %w", err)
	}
	s.mu.Lock()
	s.project, s.svc, s.broken, s.configError = p, svc, broken, ""
	s.mtimes = fileTimes(cfg.File, p)
	for f := range broken {
		if info, err := os.Stat(f); err == nil {
			s.mtimes[f] = info.ModTime()
		}
	}
	s.mu.Unlock()
	for f, msg := range broken {
		s.o.Log.Warn("workflow file invalid; its previous version keeps running", "file", f, "error", msg)
	}
	s.o.Log.Info("reloaded", "workflows", len(p.Workflows), "invalid_files", len(broken))
	return s.schedule(ctx)
}

// keepConfig records that sluice.yaml is invalid and changes nothing else.
func (s *Server) keepConfig(msg string) error {
	s.mu.Lock()
	s.configError = msg
	s.mtimes = fileTimes(s.project.Config.File, s.project)
	s.mu.Unlock()
	s.o.Log.Warn("sluice.yaml invalid; the running configuration stays", "error", msg)
	return nil
}

// schedule makes the plan and gives the scheduler the enabled workflows at their effective
// schedules.
func (s *Server) schedule(ctx context.Context) error {
	s.mu.RLock()
	svc, p := s.svc, s.project
	s.mu.RUnlock()
	enabled, err := s.enabled(ctx, p)
	if err != nil {
		return err
	}
	plan, err := svc.PlanFor(ctx, enabled)
	if err != nil {
		return err
	}
	pv := newPlanView(plan)
	var jobs []scheduler.Job
	for _, w := range p.Workflows {
		if !enabled[w.Name] {
			continue
		}
		j := scheduler.Job{Name: w.Name, Every: w.Schedule.Every, Cron: w.Schedule.Cron, Location: w.Schedule.Location}
		if e := pv.effective[w.Name]; e > 0 {
			j.Every = e
		}
		jobs = append(jobs, j)
	}
	s.mu.Lock()
	s.plan = pv
	s.mu.Unlock()
	return s.sched.Set(jobs)
}

// enabled says which workflows run: the store's setting, else the file's default.
func (s *Server) enabled(ctx context.Context, p *workflow.Project) (map[string]bool, error) {
	set, err := s.o.Store.Enabled(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.settings = set
	s.mu.Unlock()
	out := map[string]bool{}
	for _, w := range p.Workflows {
		on, ok := set[w.Name]
		if !ok {
			on = w.Enabled
		}
		out[w.Name] = on
	}
	return out, nil
}

// lookup returns the running version of a workflow and the service.
func (s *Server) lookup(name string) (*workflow.Workflow, *service.Service, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if w := s.project.Workflow(name); w != nil {
		return w, s.svc, nil
	}
	return nil, nil, fmt.Errorf("serve: %q: %w", name, ErrUnknownWorkflow)
}

// lock returns a workflow's run lock: one run at a time, scheduled or manual.
func (s *Server) lock(name string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.locks[name]
	if !ok {
		l = &sync.Mutex{}
		s.locks[name] = l
	}
	return l
}

// scheduled is the scheduler's job function.
func (s *Server) scheduled(ctx context.Context, name string) {
	if _, err := s.run(ctx, name, "schedule"); err != nil && !errors.Is(err, ErrBusy) {
		s.o.Log.Warn("scheduled run", "workflow", name, "error", err)
	}
}

// run runs a workflow unless it is running already.
func (s *Server) run(ctx context.Context, name, trigger string) (store.Run, error) {
	w, svc, err := s.lookup(name)
	if err != nil {
		return store.Run{}, err
	}
	l := s.lock(name)
	if !l.TryLock() {
		return store.Run{}, fmt.Errorf("serve: %s: %w", name, ErrBusy)
	}
	defer l.Unlock()
	run, err := svc.Run(ctx, w, trigger)
	s.metrics.run(run)
	if s.o.AfterRun != nil {
		s.o.AfterRun(run)
	}
	return run, err
}

// SetEnabled turns a workflow on or off, at once and across restarts.
func (s *Server) SetEnabled(ctx context.Context, name string, on bool) error {
	if _, _, err := s.lookup(name); err != nil {
		return err
	}
	if err := s.o.Store.SetEnabled(ctx, name, on); err != nil {
		return err
	}
	s.o.Log.Info("workflow switched", "workflow", name, "enabled", on)
	return s.schedule(ctx)
}

// RunNow starts a run of the workflow in the background, enabled or not. It returns
// ErrBusy when the workflow is running already.
func (s *Server) RunNow(_ context.Context, name string) error {
	if _, _, err := s.lookup(name); err != nil {
		return err
	}
	l := s.lock(name)
	if !l.TryLock() {
		return fmt.Errorf("serve: %s: %w", name, ErrBusy)
	}
	l.Unlock()
	s.runs.Add(1)
	go func() {
		defer s.runs.Done()
		if _, err := s.run(s.base, name, "manual"); err != nil && !errors.Is(err, ErrBusy) {
			s.o.Log.Warn("manual run", "workflow", name, "error", err)
		}
	}()
	return nil
}

// Running reports whether a workflow is running now.
func (s *Server) Running(name string) bool {
	l := s.lock(name)
	if l.TryLock() {
		l.Unlock()
		return false
	}
	return true
}

// names lists the workflows in order.
func (s *Server) names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.project.Workflows))
	for _, w := range s.project.Workflows {
		out = append(out, w.Name)
	}
	sort.Strings(out)
	return out
}
