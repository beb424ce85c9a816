package service

import (
	"context"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/sluicehq/sluice/engine/quota"
	"github.com/sluicehq/sluice/engine/workflow"
)

// Plan fits the enabled workflows to their connections' budgets: how often each may poll,
// and what that costs per hour. Sizes come from settings, probes and answers; external
// usage is what the last three hours showed; a source's reads per poll are corrected by
// what its runs of the last day actually made.
func (s *Service) Plan(ctx context.Context) (quota.Plan, error) {
	enabled := map[string]bool{}
	for _, w := range s.Project.Workflows {
		enabled[w.Name] = w.Enabled
	}
	return s.PlanFor(ctx, enabled)
}

// PlanFor makes the plan of the workflows enabled says run.
func (s *Service) PlanFor(ctx context.Context, enabled map[string]bool) (quota.Plan, error) {
	now := s.o.Clock.Now()
	calls, err := s.Store.Calls(ctx, now.Add(-24*time.Hour), now.Add(time.Second), "")
	if err != nil {
		return quota.Plan{}, err
	}
	type runKey struct {
		workflow string
		run      int64
	}
	perRun := map[runKey]int{}
	for _, c := range calls {
		if !c.CacheHit && c.Bucket != "" && c.RunID != 0 {
			perRun[runKey{c.Workflow, c.RunID}]++
		}
	}
	observed, runs := map[string]float64{}, map[string]int{}
	for k, n := range perRun {
		observed[k.workflow] += float64(n)
		runs[k.workflow]++
	}

	var demands []quota.Demand
	for _, w := range s.Project.Workflows {
		c := w.Source.Connection
		if !enabled[w.Name] || c.Spec.PollCost == nil {
			continue
		}
		pc := c.Spec.PollCost(w.Source.Values)
		if pc.Share == "" && runs[w.Name] > 0 {
			pc.Calls = max(pc.Calls, observed[w.Name]/float64(runs[w.Name]))
		}
		demands = append(demands, quota.Demand{
			Workflow:     w.Name,
			Key:          quota.Key{Connection: c.Name, Bucket: pc.Bucket},
			Share:        pc.Share,
			CallsPerPoll: pc.Calls,
			Every:        w.Schedule.Every,
			CronPerHour:  cronPerHour(w.Schedule, now),
			Priority:     quota.ParsePriority(w.Priority),
		})
	}

	ext, err := s.Store.ExternalUsage(ctx, now.Add(-3*time.Hour), now.Add(time.Second))
	if err != nil {
		return quota.Plan{}, err
	}
	supply := map[quota.Key]quota.Supply{}
	for _, d := range demands {
		supply[d.Key] = quota.Supply{Total: s.Budget.Total(d.Key)}
	}
	for _, u := range ext {
		k := quota.Key{Connection: u.Connection, Bucket: u.Bucket}
		if sp, ok := supply[k]; ok {
			sp.External += float64(u.Calls) / 3
			supply[k] = sp
		}
	}
	return quota.MakePlan(demands, supply, s.reserve()), nil
}

func (s *Service) reserve() float64 { return max(s.o.Reserve, 0) }

// cronPerHour is how often a cron schedule fires per hour, on average over the next week.
func cronPerHour(s workflow.Schedule, now time.Time) float64 {
	if s.Cron == "" {
		return 0
	}
	sched, err := cron.ParseStandard(s.Cron)
	if err != nil {
		return 0
	}
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	t, end, n := now.In(loc), now.Add(7*24*time.Hour), 0
	for t = sched.Next(t); !t.IsZero() && t.Before(end); t = sched.Next(t) {
		n++
	}
	return float64(n) / (7 * 24)
}
