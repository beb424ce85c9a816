package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/sluicehq/sluice/demo"
	"github.com/sluicehq/sluice/engine/store"
	"github.com/sluicehq/sluice/engine/workflow"
)

// cmdDemo starts the simulators, points the example workflows at them, runs each once and
// says where to look. It then serves them as `sluice serve` would, with the web UI, until
// Ctrl-C; --once exits after the first runs instead.
func cmdDemo(ctx context.Context, c cmdIO, args []string) error {
	fs := c.flags("demo")
	dir := fs.String("dir", "sluice-demo", "the folder for the demo's config, workflows and database")
	once := fs.Bool("once", false, "exit after the first runs instead of serving")
	addr := fs.String("addr", "127.0.0.1:8080", "the address of the web UI and API")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	site, err := demo.Start(nil, "", "")
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = site.Close(sctx)
	}()
	config, copied, err := site.WriteConfig(*dir)
	if err != nil {
		return err
	}
	out := c.stdout
	f := site.Facts
	fmt.Fprintf(out, "sluice demo: Toggl Track and Jira Cloud, simulated on this machine. Nothing leaves it.\n\n")
	fmt.Fprintf(out, "  Toggl Track  %-24s token %s (Ada Park, Starter plan)\n", site.TogglURL, demo.TogglToken)
	fmt.Fprintf(out, "  Jira Cloud   %-24s %s / %s\n", site.JiraURL, demo.JiraEmail, demo.JiraToken)
	fmt.Fprintf(out, "  Seeded: 3 people, 5 projects, %d time entries over three weeks (one still running), %d Jira issues.\n\n",
		f.Entries, f.Issues)

	a, err := openApp(ctx, c, config)
	if err != nil {
		return reportLoad(c, err)
	}
	closeApp := func() {
		if a != nil {
			a.Close()
			a = nil
		}
	}
	defer closeApp()
	// The simulators start empty every time, so what the database remembers pushing to the
	// last ones is void: start the sync over (run history stays).
	for _, w := range a.project.Workflows {
		if err := a.store.ResetSync(ctx, w.Name); err != nil {
			return err
		}
	}
	if copied {
		fmt.Fprintf(out, "Copied the example workflows to %s.\n", filepath.Join(*dir, "workflows"))
	}
	fmt.Fprintf(out, "Running %d workflows once (%s):\n", len(a.project.Workflows), config)
	runErr := a.runOnce(ctx, out, "")
	fmt.Fprintf(out, "(The entry naming %s is refused on purpose: the demo's Jira has no such issue, and the run goes on.)\n\n", f.Missing)
	a.printQuota(ctx, out)
	fmt.Fprintf(out, `
Where to look:
  worklogs of one issue   curl -u %s:%s %s/rest/api/3/issue/WEB-2/worklog
  Toggl entries           curl -u %s:api_token '%s/api/v9/me/time_entries?meta=true'
  state database          %s (sqlite3: SELECT * FROM runs; SELECT * FROM calls)
  config and workflows    %s and %s
  quota plan              go run ./cmd/sluice plan --config %s
`, demo.JiraEmail, demo.JiraToken, site.JiraURL, demo.TogglToken, site.TogglURL,
		filepath.Join(*dir, "sluice.db"), config, filepath.Join(*dir, "workflows"), config)
	if *once {
		// A partial run is part of the story (an entry names an issue Jira lacks); only a
		// failed run fails the demo.
		return demoResult(ctx, a, runErr)
	}
	closeApp()
	return serveConfig(ctx, c, config, *addr, func(url string) {
		fmt.Fprintf(out, "\nNow serving the workflows on their schedules. Open %s\n", url)
		fmt.Fprintf(out, "Edit a workflow in %s and it reloads; press Ctrl-C to stop.\n", filepath.Join(*dir, "workflows"))
	})
}

// demoResult fails only when a run failed as a whole.
func demoResult(ctx context.Context, a *app, runErr error) error {
	if runErr == nil {
		return nil
	}
	runs, err := a.store.Runs(ctx, "", len(a.project.Workflows))
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.Status == store.RunFailed || r.Status == store.RunCancelled {
			return runErr
		}
	}
	return nil
}

// printQuota prints the quota each bucket has left, as the services last reported it.
func (a *app) printQuota(ctx context.Context, out io.Writer) {
	qs, err := a.store.Quotas(ctx)
	if err != nil || len(qs) == 0 {
		return
	}
	fmt.Fprintln(out, "Quota left, as the APIs last reported it:")
	for _, q := range qs {
		fmt.Fprintf(out, "  %-8s %-5s bucket: %d of %d requests left, resets in %s\n", q.Connection, q.Bucket, q.Remaining,
			q.Total, workflow.FormatDuration(q.ResetsAt.Sub(a.clock.Now()).Round(time.Minute)))
	}
}
