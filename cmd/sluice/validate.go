package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/engine/workflow"
)

func cmdValidate(_ context.Context, c cmdIO, args []string) error {
	fs := c.flags("validate")
	config := fs.String("config", "sluice.yaml", "the configuration file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	p, err := workflow.Load(*config, c.env)
	var diags workflow.Diagnostics
	if errors.As(err, &diags) {
		for _, d := range diags {
			fmt.Fprintln(c.stderr, d.Error())
		}
		fmt.Fprintf(c.stderr, "%d problem(s) found\n", len(diags))
		return failedError{}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s: %d connection(s), %d workflow(s), all valid\n", *config, len(p.Config.Connections), len(p.Workflows))
	for _, w := range p.Workflows {
		state := "enabled"
		if !w.Enabled {
			state = "disabled"
		}
		fmt.Fprintf(c.stdout, "  %-24s %s -> %s, %s, %s\n", w.Name, w.Source.Connection.Name, w.Sink.Connection.Name, w.Schedule, state)
	}
	return nil
}
