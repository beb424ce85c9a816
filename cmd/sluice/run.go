package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine/store"
	"github.com/sluicehq/sluice/engine/workflow"
)

func cmdRun(ctx context.Context, c cmdIO, args []string) error {
	fs := c.flags("run")
	config := fs.String("config", "sluice.yaml", "the configuration file")
	once := fs.Bool("once", false, "run each enabled workflow once and exit")
	only := fs.String("workflow", "", "run only this workflow (even when it is disabled)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !*once {
		return usageError{"run needs --once (scheduled runs come with `sluice serve`)"}
	}
	a, err := openApp(ctx, c, *config)
	if err != nil {
		return reportLoad(c, err)
	}
	defer a.Close()
	return a.runOnce(ctx, c.stdout, *only)
}

// reportLoad prints configuration problems one per line.
func reportLoad(c cmdIO, err error) error {
	var diags workflow.Diagnostics
	if errors.As(err, &diags) {
		for _, d := range diags {
			fmt.Fprintln(c.stderr, d.Error())
		}
		fmt.Fprintf(c.stderr, "%d problem(s) found; nothing was run\n", len(diags))
		return failedError{}
	}
	return err
}

// runOnce runs the enabled workflows (or only the one named) one after another and prints a
// line for each. It fails when any run failed or had failed entries.
func (a *app) runOnce(ctx context.Context, out io.Writer, only string) error {
	// What was switched at run time (UI, API, sluice enable|disable) overrides the file.
	switched, err := a.store.Enabled(ctx)
	if err != nil {
		return err
	}
	var todo []*workflow.Workflow
	for _, w := range a.project.Workflows {
		enabled, ok := switched[w.Name]
		if !ok {
			enabled = w.Enabled
		}
		if (only == "" && enabled) || w.Name == only {
			todo = append(todo, w)
		}
	}
	if only != "" && len(todo) == 0 {
		return usageError{fmt.Sprintf("no workflow named %q (have %s)", only, workflowNames(a.project))}
	}
	if len(todo) == 0 {
		fmt.Fprintln(out, "no enabled workflow to run")
		return nil
	}
	failed := 0
	for _, w := range todo {
		run, err := a.Run(ctx, w, "once")
		fmt.Fprintln(out, summaryLine(run))
		if run.ID != 0 {
			if items, ierr := a.store.RunItems(ctx, run.ID); ierr == nil {
				for _, it := range items {
					fmt.Fprintf(out, "    entry %s (%s): %s\n", it.Key, it.Title, it.Error)
				}
			}
		}
		if err != nil || (run.Status != store.RunOK && run.Status != store.RunDeferred) {
			failed++
		}
		if ctx.Err() != nil {
			break
		}
	}
	if failed > 0 {
		fmt.Fprintf(out, "%d of %d workflow(s) did not fully succeed\n", failed, len(todo))
		return failedError{}
	}
	return nil
}

// summaryLine is the one-line account of a run.
func summaryLine(r store.Run) string {
	line := fmt.Sprintf("%-24s %-9s read %d, created %d, updated %d, deleted %d, skipped %d, failed %d; %d API calls in %s",
		r.Workflow, r.Status, r.Read, r.Created, r.Updated, r.Deleted, r.Skipped, r.Failed, r.Calls,
		r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond))
	if r.Error != "" {
		line += "\n    error: " + r.Error
	}
	return line
}

func workflowNames(p *workflow.Project) string {
	names := make([]string, len(p.Workflows))
	for i, w := range p.Workflows {
		names[i] = w.Name
	}
	return strings.Join(names, ", ")
}
