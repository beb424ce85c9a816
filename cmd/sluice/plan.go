package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/engine/quota"
	"github.com/sluicehq/sluice/engine/workflow"
)

// cmdPlan prints, per metered connection, its budgets and how often each workflow may poll
// within them. It calls no API: what it knows of each bucket comes from settings and from
// the answers of earlier runs.
func cmdPlan(ctx context.Context, c cmdIO, args []string) error {
	fs := c.flags("plan")
	config := fs.String("config", "sluice.yaml", "the configuration file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	a, err := openApp(ctx, c, *config)
	if err != nil {
		return reportLoad(c, err)
	}
	defer a.Close()
	p, err := a.Plan(ctx)
	if err != nil {
		return err
	}
	return a.printPlan(ctx, c.stdout, p)
}

func (a *app) printPlan(ctx context.Context, out io.Writer, p quota.Plan) error {
	if len(p.Buckets) == 0 {
		fmt.Fprintln(out, "No enabled workflow reads a metered API: nothing to plan.")
		return nil
	}
	states := map[quota.Key]quota.State{}
	for _, s := range a.Budget.States() {
		states[s.Key] = s
	}
	now := a.clock.Now()
	for _, conn := range a.project.Config.ConnectionNames() {
		var buckets []quota.BucketPlan
		for _, b := range p.Buckets {
			if b.Connection == conn {
				buckets = append(buckets, b)
			}
		}
		if len(buckets) == 0 {
			continue
		}
		c := a.project.Config.Connections[conn]
		plan := c.Values.String("plan")
		if plan == "" {
			plan = "plan not set"
		}
		fmt.Fprintf(out, "%s (%s, %s)\n", conn, c.Type, plan)
		tw := tabwriter.NewWriter(out, 2, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  bucket\tper hour\treserve\tother apps/h\tavailable/h\tplanned/h\theadroom/h\tnow")
		for _, b := range buckets {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%.1f\t%s\t%.1f\t%s\t%s\n", b.Bucket, orUnknown(b.Total), b.Reserve, b.External,
				orUnknownF(b.Total, b.Available), b.Expected, orUnknownF(b.Total, b.Headroom), nowText(states[b.Key], now))
		}
		tw.Flush()
		fmt.Fprintln(out)
		tw = tabwriter.NewWriter(out, 2, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  workflow\tbucket\twished\teffective\tcalls/h alone")
		var warnings []string
		for _, w := range p.Workflows {
			if w.Connection != conn {
				continue
			}
			wf := a.project.Workflow(w.Workflow)
			wished, effective := schedText(wf, w.Wished), schedText(wf, w.Effective)
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%.1f\n", w.Workflow, w.Bucket, wished, effective, w.CallsPerHour)
			if w.Warning != "" {
				warnings = append(warnings, fmt.Sprintf("  %s: %s", w.Workflow, w.Warning))
			}
		}
		tw.Flush()
		for _, b := range buckets {
			if b.Tick > 0 {
				fmt.Fprintf(out, "  Polls of the %s bucket fall on a %s grid, so workflows reading the same source share one call.\n",
					b.Bucket, workflow.FormatDuration(b.Tick))
			}
		}
		if len(warnings) > 0 {
			fmt.Fprintln(out, "Warnings:")
			fmt.Fprintln(out, strings.Join(warnings, "\n"))
		}
		if err := a.printExternal(ctx, out, conn); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	return nil
}

// printExternal reports quota spent by other applications on the connection's token.
func (a *app) printExternal(ctx context.Context, out io.Writer, conn string) error {
	now := a.clock.Now()
	ext, err := a.store.ExternalUsage(ctx, now.Add(-24*time.Hour), now.Add(time.Second))
	if err != nil {
		return err
	}
	byBucket := map[string]int{}
	for _, u := range ext {
		if u.Connection == conn {
			byBucket[u.Bucket] += u.Calls
		}
	}
	if len(byBucket) == 0 {
		fmt.Fprintln(out, "  No other application was seen using this token's quota in the last 24 hours.")
		return nil
	}
	for bucket, n := range byBucket {
		fmt.Fprintf(out, "  Other applications spent %d calls of the %s bucket in the last 24 hours: %s.\n", n, bucket, quota.ExternalAdvice)
	}
	return nil
}

func schedText(w *workflow.Workflow, d time.Duration) string {
	if d == 0 && w != nil && w.Schedule.Cron != "" {
		return "cron " + w.Schedule.Cron
	}
	return workflow.FormatDuration(d)
}

func orUnknown(n int) string {
	if n == 0 {
		return "unknown"
	}
	return fmt.Sprint(n)
}

func orUnknownF(total int, v float64) string {
	if total == 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f", v)
}

func nowText(s quota.State, now time.Time) string {
	if !s.Known {
		return "no report this hour"
	}
	return fmt.Sprintf("%d left, resets in %s", s.Remaining, s.ResetsAt.Sub(now).Round(time.Minute))
}
