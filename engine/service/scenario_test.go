package service_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/sluicehq/sluice/connectors"
	_ "github.com/sluicehq/sluice/connectors/toggl"
	"github.com/sluicehq/sluice/connectors/toggl/togglsim"
	"github.com/sluicehq/sluice/engine/quota"
	"github.com/sluicehq/sluice/engine/service"
	"github.com/sluicehq/sluice/engine/store"
	"github.com/sluicehq/sluice/engine/store/sqlite"
	"github.com/sluicehq/sluice/engine/workflow"
)

// received is what the scenario sink holds: per workflow, each entry's description and
// when it arrived (on the fake clock).
type received struct {
	mu   sync.Mutex
	byWF map[string]map[string]arrival
}

type arrival struct {
	desc string
	at   time.Time
}

var sinkState = &received{byWF: map[string]map[string]arrival{}}

// scenarioSink is a sink that remembers what it holds, per workflow.
type scenarioSink struct {
	workflow string
	clock    connectors.Clock
}

func (s *scenarioSink) put(key, desc string) {
	sinkState.mu.Lock()
	defer sinkState.mu.Unlock()
	m := sinkState.byWF[s.workflow]
	if m == nil {
		m = map[string]arrival{}
		sinkState.byWF[s.workflow] = m
	}
	m[key] = arrival{desc: desc, at: s.clock.Now()}
}

func (s *scenarioSink) Create(_ context.Context, r connectors.Record) (string, error) {
	s.put(r.Key, r.Fields.String("title"))
	return r.Key, nil
}

func (s *scenarioSink) Update(_ context.Context, id string, r connectors.Record) (string, error) {
	s.put(r.Key, r.Fields.String("title"))
	return id, nil
}

func (s *scenarioSink) Delete(_ context.Context, id string) error {
	sinkState.mu.Lock()
	defer sinkState.mu.Unlock()
	delete(sinkState.byWF[s.workflow], id)
	return nil
}

func init() {
	connectors.Register(connectors.Spec{
		Name: "scenario_sink",
		Map:  []connectors.Field{{Name: "title", Type: connectors.String, Default: "entry.description"}},
		NewSink: func(cfg connectors.Config, deps connectors.Deps) (connectors.Sink, error) {
			return &scenarioSink{workflow: cfg.Workflow, clock: deps.Clock}, nil
		},
	})
}

// scenario is one token on a Toggl simulator, read by n workflows that each wish to poll
// every 5 minutes, over simulated hours on a fake clock.
type scenario struct {
	t       testing.TB
	clock   *clockwork.FakeClock
	sim     *togglsim.Server
	svc     *service.Service
	db      *sqlite.DB
	user    int64
	ws      int64
	project int64
	rng     *rand.Rand
	// changes are the times entries last changed, to measure how late they arrive.
	changed map[string]time.Time
	naive   bool
	start   time.Time
	// minute counts the simulated minutes since start; the clock may run ahead of it by the
	// seconds that runs spent waiting.
	minute int
}

const (
	scenarioToken = "scenario-token"
	wish          = 5 * time.Minute
)

func newScenario(t testing.TB, n int, plan togglsim.Plan, naive bool) *scenario {
	t.Helper()
	start := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	s := &scenario{t: t, clock: clockwork.NewFakeClockAt(start), rng: rand.New(rand.NewPCG(7, uint64(n))),
		changed: map[string]time.Time{}, naive: naive, start: start}
	s.sim = togglsim.New(togglsim.Options{Clock: s.clock})
	org := s.sim.AddOrganization("Scenario", plan)
	s.ws = s.sim.AddWorkspace(org, "Scenario")
	s.user = s.sim.AddUser("Sam", "sam@example.com", scenarioToken)
	s.sim.AddMember(s.ws, s.user)
	s.project = s.sim.AddProject(s.ws, 0, "Work", true)
	for i := range 20 {
		s.addEntry(start.Add(-time.Duration(48-i) * time.Hour))
	}
	srv := httptest.NewServer(s.sim)
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	cfg := fmt.Sprintf("workflows: workflows\nconnections:\n  toggl:\n    type: toggl\n    base_url: %s\n    api_token: %s\n    plan: %s\n  out:\n    type: scenario_sink\n    base_url: http://127.0.0.1:9\n",
		srv.URL, scenarioToken, plan)
	if err := os.MkdirAll(filepath.Join(dir, "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sluice.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		wf := fmt.Sprintf("name: wf-%03d\nschedule: {every: %s}\nsource: {connection: toggl, backfill: 7d}\nsink: {connection: out}\n", i, wish)
		if err := os.WriteFile(filepath.Join(dir, "workflows", fmt.Sprintf("wf-%03d.yaml", i)), []byte(wf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := workflow.Load(filepath.Join(dir, "sluice.yaml"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	s.db, err = sqlite.Open(context.Background(), filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.db.Close() })
	s.svc, err = service.New(context.Background(), p, s.db, service.Options{Clock: s.clock, Naive: naive})
	if err != nil {
		t.Fatal(err)
	}
	sinkState.mu.Lock()
	sinkState.byWF = map[string]map[string]arrival{}
	sinkState.mu.Unlock()
	return s
}

// addEntry tracks a stopped entry that started at start.
func (s *scenario) addEntry(start time.Time) {
	id := s.sim.AddEntry(togglsim.NewEntry{UserID: s.user, WorkspaceID: s.ws, ProjectID: s.project,
		Description: fmt.Sprintf("task %d", s.rng.IntN(1000)), Start: start,
		Duration: time.Duration(10+s.rng.IntN(80)) * time.Minute, CreatedWith: "scenario"})
	s.changed[strconv.FormatInt(id, 10)] = s.clock.Now()
}

// work is what the person does with Toggl during one minute: now and then a new entry, an
// edit, a deletion.
func (s *scenario) work() {
	now := s.clock.Now()
	switch s.rng.IntN(20) {
	case 0:
		s.addEntry(now.Add(-90 * time.Minute))
	case 1:
		entries := s.sim.Entries()
		e := entries[s.rng.IntN(len(entries))]
		if !e.Deleted() {
			if err := s.sim.UpdateEntry(e.ID, func(e *togglsim.Entry) { e.Description += " (edited)" }); err != nil {
				s.t.Fatal(err)
			}
			s.changed[strconv.FormatInt(e.ID, 10)] = now
		}
	case 2:
		entries := s.sim.Entries()
		e := entries[s.rng.IntN(len(entries))]
		if !e.Deleted() && len(entries) > 10 {
			if err := s.sim.DeleteEntry(e.ID); err != nil {
				s.t.Fatal(err)
			}
			s.changed[strconv.FormatInt(e.ID, 10)] = now
		}
	}
}

// outcome is what a scenario measured.
type outcome struct {
	hours               float64
	requests, refused   int
	throttled, deferred int
	failed              int
	// lateMax is the longest time a change took to reach every workflow's sink.
	lateMax time.Duration
}

func (o outcome) perHour() float64 { return float64(o.requests) / o.hours }

// run simulates the given hours minute by minute. sluice polls on its plan's grid; the naive
// baseline polls each workflow every 5 minutes from its own start, as separate automations
// do. otherApp calls per hour are spent on the same token by another application.
func (s *scenario) run(hours int, otherApp int) outcome {
	ctx := context.Background()
	plan, err := s.svc.Plan(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	every := map[string]time.Duration{}
	for _, w := range plan.Workflows {
		every[w.Workflow] = w.Effective
	}
	phase := map[string]time.Duration{}
	for _, w := range s.svc.Project.Workflows {
		phase[w.Name] = time.Duration(s.rng.IntN(5)) * time.Minute
	}
	s.sim.ResetStats()
	var out outcome
	spent, first := 0, s.minute+1
	for end := s.minute + hours*60; s.minute < end; {
		s.minute++
		// Waits inside runs (Retry-After, a quota reset) move the clock too.
		at := s.start.Add(time.Duration(s.minute) * time.Minute)
		if d := at.Sub(s.clock.Now()); d > 0 {
			s.clock.Advance(d)
		}
		s.work()
		if otherApp > 0 && spent < otherApp*(s.minute-first+1)/60 {
			s.sim.SpendQuota(scenarioToken, "user", 1)
			spent++
		}
		for _, w := range s.svc.Project.Workflows {
			elapsed := time.Duration(s.minute) * time.Minute
			var due bool
			if s.naive {
				due = (elapsed-phase[w.Name])%wish == 0
			} else {
				due = at.UnixNano()%int64(every[w.Name]) == 0
			}
			if !due {
				continue
			}
			run, err := s.runWaiting(ctx, w)
			switch {
			case run.Status == store.RunDeferred:
				out.deferred++
			case err != nil:
				out.failed++
			}
		}
	}
	st := s.sim.Stats()
	out.hours = float64(hours)
	out.requests, out.refused, out.throttled = st.Requests, st.QuotaExceeded, st.Throttled
	// The last changes may fall after a workflow's last poll: let every workflow poll once
	// more, a minute after the end, before comparing (outside the counts).
	s.clock.Advance(time.Minute)
	for _, w := range s.svc.Project.Workflows {
		if _, err := s.runWaiting(ctx, w); err != nil && !s.naive {
			s.t.Errorf("final run of %s: %v", w.Name, err)
		}
	}
	if !s.naive {
		out.lateMax = s.lateness()
	}
	return out
}

// runWaiting runs a workflow. Whatever the run waits for on the clock (a Retry-After, a
// quota reset) passes in simulated seconds, as the clock is advanced while it waits.
func (s *scenario) runWaiting(ctx context.Context, w *workflow.Workflow) (store.Run, error) {
	type result struct {
		run store.Run
		err error
	}
	done := make(chan result, 1)
	go func() {
		run, err := s.svc.Run(ctx, w, "schedule")
		done <- result{run, err}
	}()
	for {
		wctx, cancel := context.WithCancel(ctx)
		waiting := make(chan struct{})
		go func() {
			if s.clock.BlockUntilContext(wctx, 1) == nil {
				close(waiting)
			}
		}()
		select {
		case r := <-done:
			cancel()
			return r.run, r.err
		case <-waiting:
			cancel()
			s.clock.Advance(time.Second)
		}
	}
}

// lateness checks that every workflow's sink holds exactly the live entries with their
// latest descriptions, and returns the longest a change waited to arrive.
func (s *scenario) lateness() time.Duration {
	sinkState.mu.Lock()
	defer sinkState.mu.Unlock()
	var late time.Duration
	for _, w := range s.svc.Project.Workflows {
		got := sinkState.byWF[w.Name]
		live := 0
		for _, e := range s.sim.Entries() {
			key := strconv.FormatInt(e.ID, 10)
			a, ok := got[key]
			if e.Deleted() {
				if ok {
					s.t.Errorf("%s: deleted entry %s is still at the sink", w.Name, key)
				}
				continue
			}
			live++
			if !ok || a.desc != e.Description {
				s.t.Errorf("%s: entry %s: sink has %q (present %v), Toggl %q", w.Name, key, a.desc, ok, e.Description)
				continue
			}
			if d := a.at.Sub(s.changed[key]); d > late && s.changed[key].After(s.start) {
				late = d
			}
		}
		if len(got) != live {
			s.t.Errorf("%s: sink holds %d entries, Toggl %d", w.Name, len(got), live)
		}
	}
	return late
}

// TestQuotaScenarioFreePlan is the scenario of the quota issue: Free plan (30 calls an hour
// per bucket), 12 workflows wishing to poll every 5 minutes, one simulated day.
func TestQuotaScenarioFreePlan(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates a day")
	}
	for _, other := range []int{0, 8} {
		t.Run(fmt.Sprintf("other app %d per hour", other), func(t *testing.T) {
			s := newScenario(t, 12, togglsim.PlanFree, false)
			out := s.run(24, other)
			t.Logf("%d Toggl requests in 24 h (%.1f an hour), %d refused (402), %d throttled (429), %d deferred runs, latest change %s",
				out.requests, out.perHour(), out.refused, out.throttled, out.deferred, out.lateMax)
			if out.refused != 0 || out.throttled != 0 || out.failed != 0 {
				t.Errorf("%d refused, %d throttled, %d failed runs; want none", out.refused, out.throttled, out.failed)
			}
			if out.lateMax > wish {
				t.Errorf("a change took %s to arrive; the interval is %s", out.lateMax, wish)
			}
			if budget := 27.0 - float64(other); out.perHour() > budget {
				t.Errorf("%.1f requests an hour; the Free plan leaves %.0f after the reserve and the other app", out.perHour(), budget)
			}
			if other > 0 {
				ext, err := s.db.ExternalUsage(context.Background(), s.start, s.clock.Now().Add(time.Second))
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, u := range ext {
					n += u.Calls
				}
				// Spending after our last call of a window shows in the next window's first
				// answer, so a window's last calls may be counted late or not at all.
				if n < other*24*8/10 || n > other*24 {
					t.Errorf("external usage recorded: %d calls; the other app made %d", n, other*24)
				}
			}
		})
	}
}

// TestPlanStretchesWishesThatDoNotFit: on the Free plan, 12 workflows reading on their own
// (different sources would) every 5 minutes need 144 calls an hour; the plan stretches them.
func TestPlanStretchesWishesThatDoNotFit(t *testing.T) {
	d := []quota.Demand{}
	for i := range 12 {
		p := quota.Normal
		if i < 4 {
			p = quota.Low
		}
		d = append(d, quota.Demand{Workflow: fmt.Sprint(i), Key: quota.Key{Connection: "toggl", Bucket: "user"},
			CallsPerPoll: 1, Every: wish, Priority: p})
	}
	plan := quota.MakePlan(d, map[quota.Key]quota.Supply{{Connection: "toggl", Bucket: "user"}: {Total: 30}}, 0.10)
	b := plan.Buckets[0]
	if b.Expected > b.Available || b.Available != 27 {
		t.Fatalf("plan spends %.1f of %.1f", b.Expected, b.Available)
	}
	for i, w := range plan.Workflows {
		if w.Effective < wish || (w.Warning == "") != (w.Effective == wish) {
			t.Errorf("%s: effective %s, warning %q", w.Workflow, w.Effective, w.Warning)
		}
		// The four low-priority workflows are stretched first and furthest.
		if low := i < 4; low && (w.Effective <= plan.Workflows[11].Effective || !strings.Contains(w.Warning, "stretched")) {
			t.Errorf("low-priority %s: effective %s (a normal one: %s)", w.Workflow, w.Effective, plan.Workflows[11].Effective)
		}
	}
}

// BenchmarkQuotaScenario counts Toggl requests per simulated hour for 1, 12 and 100
// workflows on one Starter token, against the naive baseline in which each workflow polls on
// its own every 5 minutes.
func BenchmarkQuotaScenario(b *testing.B) {
	for _, n := range []int{1, 12, 100} {
		for _, naive := range []bool{false, true} {
			name := fmt.Sprintf("workflows=%d/sluice", n)
			if naive {
				name = fmt.Sprintf("workflows=%d/naive", n)
			}
			b.Run(name, func(b *testing.B) {
				var out outcome
				for range b.N {
					s := newScenario(b, n, togglsim.PlanStarter, naive)
					s.run(1, 0) // the first hour backfills
					out = s.run(2, 0)
				}
				b.ReportMetric(out.perHour(), "requests/h")
				b.ReportMetric(float64(out.refused)/out.hours, "402/h")
				b.ReportMetric(out.lateMax.Minutes(), "late-min")
			})
		}
	}
}

// TestShortUserBucketReadsThroughReports: another application (say, a desktop timer) spends
// most of the user bucket, which /me/time_entries draws on. sluice notices, reads the same
// changes through Reports on the organization bucket instead, and never gets a 402.
func TestShortUserBucketReadsThroughReports(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates hours")
	}
	s := newScenario(t, 3, togglsim.PlanStarter, false)
	out := s.run(6, 26)
	st := s.sim.Stats()
	org := 0
	for bucket, n := range st.ByBucket {
		if strings.HasPrefix(bucket, "org") {
			org += n
		}
	}
	t.Logf("%d requests in 6 h: %v by bucket, %d refused, %d deferred runs, latest change %s",
		out.requests, st.ByBucket, out.refused, out.deferred, out.lateMax)
	if out.refused != 0 || out.failed != 0 {
		t.Errorf("%d refused (402), %d failed runs; want none", out.refused, out.failed)
	}
	if org == 0 {
		t.Errorf("no read went to the organization bucket: %v", st.ByBucket)
	}
	if out.lateMax > wish {
		t.Errorf("a change took %s to arrive; the interval is %s", out.lateMax, wish)
	}
}
