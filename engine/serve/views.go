package serve

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine/audit"
	"github.com/sluicehq/sluice/engine/httpx"
	"github.com/sluicehq/sluice/engine/quota"
	"github.com/sluicehq/sluice/engine/store"
	"github.com/sluicehq/sluice/engine/workflow"
)

// WorkflowState is one workflow as the workflows page shows it.
type WorkflowState struct {
	Name, Description, File string
	// Source and Sink name the connections, with what is read ("toggl: your entries").
	Source, Sink string
	// Wished is the file's schedule, Effective what the quota plan allows.
	Wished, Effective string
	PlanWarning       string
	Priority          string
	// Enabled is what runs; EnabledInFile is the file's default.
	Enabled, EnabledInFile bool
	Running                bool
	// NextRun is zero when the workflow is not scheduled.
	NextRun time.Time
	LastRun *store.Run
	// Calls24h counts requests sent in the last 24 hours; CacheHits24h reads answered from
	// the cache instead.
	Calls24h, CacheHits24h int
	// ReloadError says why the file's current version is not running, while the previous
	// one is.
	ReloadError string
}

// WorkflowDetail is a workflow's page: its state, the YAML it runs, its latest runs.
type WorkflowDetail struct {
	WorkflowState
	YAML string
	Runs []RunDetail
}

// RunDetail is a run with the entries that failed in it.
type RunDetail struct {
	store.Run
	Failures []store.RunItem
}

// planView is the last plan, by workflow.
type planView struct {
	effective map[string]time.Duration
	warning   map[string]string
}

func newPlanView(p quota.Plan) planView {
	v := planView{effective: map[string]time.Duration{}, warning: map[string]string{}}
	for _, w := range p.Workflows {
		v.effective[w.Workflow] = w.Effective
		v.warning[w.Workflow] = w.Warning
	}
	return v
}

// Workflows returns every workflow's state, in name order.
func (s *Server) Workflows(ctx context.Context) ([]WorkflowState, error) {
	now := s.o.Clock.Now()
	counts, err := s.o.Store.CallCounts(ctx, now.Add(-24*time.Hour), now.Add(time.Second))
	if err != nil {
		return nil, err
	}
	runs, err := s.o.Store.Runs(ctx, "", 500)
	if err != nil {
		return nil, err
	}
	last := map[string]*store.Run{}
	for i := range runs {
		if _, ok := last[runs[i].Workflow]; !ok {
			last[runs[i].Workflow] = &runs[i]
		}
	}
	s.mu.RLock()
	p := s.project
	s.mu.RUnlock()
	enabled, err := s.enabled(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []WorkflowState
	for _, name := range s.names() {
		w := p.Workflow(name)
		st := s.state(w, enabled[name])
		st.LastRun = last[name]
		if st.LastRun == nil {
			// A workflow not run recently: ask for its own latest run.
			if rs, err := s.o.Store.Runs(ctx, name, 1); err == nil && len(rs) > 0 {
				st.LastRun = &rs[0]
			}
		}
		c := counts[name]
		st.Calls24h, st.CacheHits24h = c.Calls, c.CacheHits
		out = append(out, st)
	}
	return out, nil
}

// state fills what the workflow and the server's state say of it.
func (s *Server) state(w *workflow.Workflow, enabled bool) WorkflowState {
	s.mu.RLock()
	plan, broken := s.plan, s.broken[w.File]
	s.mu.RUnlock()
	st := WorkflowState{
		Name: w.Name, Description: w.Description, File: w.File,
		Source:   describeEndpoint(w.Source),
		Sink:     describeEndpoint(w.Sink),
		Wished:   w.Schedule.String(),
		Priority: w.Priority, Enabled: enabled, EnabledInFile: w.Enabled,
		Running: s.Running(w.Name), ReloadError: broken,
	}
	st.Effective = st.Wished
	if e := plan.effective[w.Name]; e > 0 && enabled {
		st.Effective = "every " + workflow.FormatDuration(e)
	}
	if enabled {
		st.PlanWarning = plan.warning[w.Name]
		if next, ok := s.sched.Next(w.Name); ok {
			st.NextRun = next
		}
	}
	return st
}

// describeEndpoint names a source or sink: its connection, and for a Toggl source what it
// reads.
func describeEndpoint(e workflow.Endpoint) string {
	if e.Connection == nil {
		return ""
	}
	switch e.Values.String("entries") {
	case "mine":
		return e.Connection.Name + ": your entries"
	case "workspace":
		return fmt.Sprintf("%s: workspace %d", e.Connection.Name, e.Values.Int("workspace_id"))
	}
	return e.Connection.Name
}

// Workflow returns a workflow's page, with its latest runs (at most limit).
func (s *Server) Workflow(ctx context.Context, name string, limit int) (WorkflowDetail, error) {
	w, _, err := s.lookup(name)
	if err != nil {
		return WorkflowDetail{}, err
	}
	s.mu.RLock()
	p := s.project
	s.mu.RUnlock()
	enabled, err := s.enabled(ctx, p)
	if err != nil {
		return WorkflowDetail{}, err
	}
	d := WorkflowDetail{WorkflowState: s.state(w, enabled[name]), YAML: string(w.YAML)}
	now := s.o.Clock.Now()
	counts, err := s.o.Store.CallCounts(ctx, now.Add(-24*time.Hour), now.Add(time.Second))
	if err != nil {
		return WorkflowDetail{}, err
	}
	d.Calls24h, d.CacheHits24h = counts[name].Calls, counts[name].CacheHits
	runs, err := s.o.Store.Runs(ctx, name, limit)
	if err != nil {
		return WorkflowDetail{}, err
	}
	for _, r := range runs {
		rd := RunDetail{Run: r}
		if r.Failed > 0 {
			if rd.Failures, err = s.o.Store.RunItems(ctx, r.ID); err != nil {
				return WorkflowDetail{}, err
			}
		}
		d.Runs = append(d.Runs, rd)
	}
	if len(runs) > 0 {
		d.LastRun = &runs[0]
	}
	return d, nil
}

// QuotaReport is the quota page: one meter per bucket, and what other applications spent.
type QuotaReport struct {
	Now     time.Time
	Buckets []BucketReport
	// External lists the quota other applications spent on the same tokens, last 24 hours.
	External []store.ExternalUsage
	// ConfigError says why the running configuration is not the one on disk.
	ConfigError string
}

// BucketReport is one bucket's meter, like the service's own profile page shows it.
type BucketReport struct {
	Connection, Bucket     string
	Total, Used, Remaining int
	Reserve                int
	Known                  bool
	ResetsIn               time.Duration
	// Level is "ok", "high" (three quarters used) or "critical" (nine tenths).
	Level string
	// Advice says what to do when the level is high.
	Advice string
	// Hourly counts the requests of each of the last 24 hours, oldest first.
	Hourly []int
	// Spenders are the workflows that spent the bucket in the last 24 hours, most first.
	Spenders []audit.Spender
	// External is what other applications spent in the current window.
	External int
	Health   httpx.HealthState
}

// Quota returns the quota page's report.
func (s *Server) Quota(ctx context.Context) (QuotaReport, error) {
	now := s.o.Clock.Now()
	calls, err := s.o.Store.Calls(ctx, now.Add(-24*time.Hour), now.Add(time.Second), "")
	if err != nil {
		return QuotaReport{}, err
	}
	ext, err := s.o.Store.ExternalUsage(ctx, now.Add(-24*time.Hour), now.Add(time.Second))
	if err != nil {
		return QuotaReport{}, err
	}
	s.mu.RLock()
	svc, cfgErr := s.svc, s.configError
	s.mu.RUnlock()
	rep := QuotaReport{Now: now, External: ext, ConfigError: cfgErr}
	spenders := audit.Spenders(calls)
	for _, st := range svc.Budget.States() {
		b := BucketReport{Connection: st.Connection, Bucket: st.Bucket, Total: st.Total, Remaining: st.Remaining,
			Reserve: st.Reserve, Known: st.Known, External: st.External,
			Hourly: audit.Hourly(calls, st.Connection, st.Bucket, now.Truncate(time.Hour).Add(time.Hour), 24),
			Health: svc.Health(st.Connection)}
		if st.Known {
			b.ResetsIn = st.ResetsAt.Sub(now)
		}
		if b.Total > 0 {
			b.Used = max(b.Total-b.Remaining, 0)
		}
		b.Level, b.Advice = level(b)
		for _, sp := range spenders {
			if sp.Connection == st.Connection && sp.Bucket == st.Bucket {
				b.Spenders = append(b.Spenders, sp)
			}
		}
		rep.Buckets = append(rep.Buckets, b)
	}
	sortBuckets(rep.Buckets)
	return rep, nil
}

// level grades a bucket's use and says what to do about it.
func level(b BucketReport) (string, string) {
	if b.Total == 0 || !b.Known {
		return "ok", ""
	}
	used := float64(b.Used) / float64(b.Total)
	l := "ok"
	switch {
	case used >= 0.9:
		l = "critical"
	case used >= 0.75:
		l = "high"
	}
	if l == "ok" {
		return l, ""
	}
	if b.External > 0 {
		return l, fmt.Sprintf("%d of the %d calls used this hour were made by another application: %s.",
			b.External, b.Used, quota.ExternalAdvice)
	}
	return l, "sluice is spending most of it: lower the polling of the workflows listed below, or give them priority: low."
}

func sortBuckets(bs []BucketReport) {
	slices.SortFunc(bs, func(a, b BucketReport) int {
		return cmp.Or(strings.Compare(a.Connection, b.Connection), strings.Compare(a.Bucket, b.Bucket))
	})
}

// Audit builds the audit report of a query.
func (s *Server) Audit(ctx context.Context, q audit.Query) (audit.Report, error) {
	return audit.Build(ctx, s.o.Store, q)
}

// Ready reports whether the server can answer: the store responds.
func (s *Server) Ready(ctx context.Context) error {
	_, err := s.o.Store.Enabled(ctx)
	return err
}
