// Package service wires a loaded configuration to what runs it: the store, the quota budget,
// one HTTP client per connection (with its health and shared state) and the runner. The
// commands `run`, `demo`, `plan` and `serve` all start from a Service.
package service

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/engine/httpx"
	"github.com/sluicehq/sluice/engine/quota"
	"github.com/sluicehq/sluice/engine/runner"
	"github.com/sluicehq/sluice/engine/store"
	"github.com/sluicehq/sluice/engine/workflow"
)

// Clock tells the time and waits; clockwork's clocks implement it.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// Options configure a Service.
type Options struct {
	Clock Clock
	Log   *slog.Logger
	// Reserve overrides the share of every quota bucket left for the user's own use, which
	// sluice.yaml sets (quota.reserve); zero keeps the config's.
	Reserve float64
	// Transport sends the requests; http.DefaultTransport when nil.
	Transport http.RoundTripper
	// Naive makes every workflow read on its own and unbudgeted, as tools that poll each
	// automation separately do: the baseline of the quota benchmark. Never in production.
	Naive bool
	// AfterWrite is passed to the runner (tests crash there).
	AfterWrite func(key string, op store.Op)
}

// Service runs a project's workflows.
type Service struct {
	Project *workflow.Project
	Store   store.Store
	Budget  *quota.Budget
	Runner  *runner.Runner
	o       Options

	mu    sync.Mutex
	conns map[string]*conn
}

// conn is one connection's runtime.
type conn struct {
	c      *workflow.Connection
	client *http.Client
	health *httpx.Health
	shared *connectors.Shared
	// probed is set once the quota totals are known or were asked for.
	probed bool
}

// New wires p to st. It loads the budgets kept by earlier processes.
func New(ctx context.Context, p *workflow.Project, st store.Store, o Options) (*Service, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	if o.Reserve == 0 {
		o.Reserve = p.Config.Reserve
	}
	if o.Reserve == 0 {
		o.Reserve = -1 // none: quota.Options reads zero as its default
	}
	s := &Service{Project: p, Store: st, o: o, conns: map[string]*conn{}}
	s.Budget = quota.New(quota.Options{Store: st, Clock: o.Clock, Log: o.Log, Reserve: o.Reserve})
	if err := s.Budget.Load(ctx); err != nil {
		return nil, err
	}
	for _, name := range p.Config.ConnectionNames() {
		c := p.Config.Connections[name]
		cn := &conn{c: c, health: &httpx.Health{}}
		var budget httpx.Gate = s.Budget
		if o.Naive {
			budget = nil
		} else {
			cn.shared = &connectors.Shared{}
		}
		cn.client = httpx.NewClient(httpx.Options{
			Connection: name,
			Quota:      c.Spec.Quota,
			Budget:     budget,
			Recorder:   st,
			Health:     cn.health,
			Clock:      o.Clock,
			Log:        o.Log,
			Base:       o.Transport,
		})
		if c.Spec.QuotaTotals != nil {
			totals := c.Spec.QuotaTotals(c.Values)
			for bucket, n := range totals {
				s.Budget.SetTotal(quota.Key{Connection: name, Bucket: bucket}, n)
			}
			cn.probed = len(totals) > 0
		}
		s.conns[name] = cn
	}
	s.Runner = runner.New(runner.Options{Store: st, Clock: o.Clock, Log: o.Log, Deps: s.deps, AfterWrite: o.AfterWrite})
	return s, nil
}

// deps gives a connection's connectors their client and shared state.
func (s *Service) deps(c *workflow.Connection) connectors.Deps {
	cn := s.conn(c.Name)
	d := connectors.Deps{HTTP: cn.client, Shared: cn.shared}
	if cn.shared != nil {
		d.CacheHit = httpx.CacheHits(c.Name, c.Spec.Quota, s.Store, s.o.Clock, s.o.Log)
		d.QuotaLeft = func(bucket string) (int, bool) {
			return s.Budget.Left(quota.Key{Connection: c.Name, Bucket: bucket}, quota.Normal)
		}
	}
	return d
}

func (s *Service) conn(name string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[name]
}

// Client returns a connection's HTTP client.
func (s *Service) Client(name string) *http.Client { return s.conn(name).client }

// Health returns a connection's standing.
func (s *Service) Health(name string) httpx.HealthState {
	return s.conn(name).health.State(s.o.Clock.Now())
}

// Run runs a workflow once.
func (s *Service) Run(ctx context.Context, wf *workflow.Workflow, trigger string) (store.Run, error) {
	s.learnTotals(ctx, wf.Source.Connection)
	return s.Runner.Run(ctx, wf, trigger)
}

// learnTotals asks the service for a metered connection's bucket sizes once, when neither
// its settings nor an earlier answer tell them: planning needs them, and the answer also
// shows what other applications have spent.
func (s *Service) learnTotals(ctx context.Context, c *workflow.Connection) {
	cn := s.conn(c.Name)
	s.mu.Lock()
	if cn.probed || c.Spec.ProbeQuota == nil {
		s.mu.Unlock()
		return
	}
	cn.probed = true
	s.mu.Unlock()
	if s.totalsKnown(c.Name) {
		return
	}
	cfg := connectors.Config{Connection: c.Name, BaseURL: c.BaseURL, Conn: c.Values}
	deps := s.deps(c)
	deps.Log, deps.Clock = s.o.Log, s.o.Clock
	qs, err := c.Spec.ProbeQuota(ctx, cfg, deps)
	if err != nil {
		var qe *connectors.QuotaError
		if !errors.As(err, &qe) {
			s.o.Log.Warn("ask the service for its quota", "connector", c.Name, "error", err)
		}
		return
	}
	for bucket, q := range qs {
		k := quota.Key{Connection: c.Name, Bucket: bucket}
		s.Budget.SetTotal(k, q.Total)
		s.Budget.Report(ctx, k, q)
	}
}

// totalsKnown reports whether every bucket of a connection seen so far has a known total.
func (s *Service) totalsKnown(name string) bool {
	seen := false
	for _, st := range s.Budget.States() {
		if st.Connection == name {
			seen = true
			if st.Total == 0 {
				return false
			}
		}
	}
	return seen
}
