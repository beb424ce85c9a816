package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/connectors/jira/jirasim"
	"github.com/sluicehq/sluice/connectors/toggl/togglsim"
	"github.com/sluicehq/sluice/demo"
)

// cmdSim runs one simulator, seeded with the demo's data, until interrupted.
func cmdSim(ctx context.Context, c cmdIO, args []string) error {
	if len(args) == 0 || (args[0] != "toggl" && args[0] != "jira") {
		return usageError{"sim needs the simulator to run: toggl or jira"}
	}
	which := args[0]
	fs := c.flags("sim " + which)
	addr := fs.String("addr", "127.0.0.1:0", "the address to listen on (port 0: any free port)")
	empty := fs.Bool("empty", false, "start without the demo data")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	var h http.Handler
	var about string
	switch which {
	case "toggl":
		sim := togglsim.New(togglsim.Options{})
		if !*empty {
			f := demo.SeedToggl(sim, time.Now())
			about = fmt.Sprintf("  token %s (Ada Park), workspace %d, %d entries over three weeks, Starter plan quota\n",
				demo.TogglToken, f.WorkspaceID, f.Entries)
		}
		h = sim
	case "jira":
		sim := jirasim.New(jirasim.Options{})
		if !*empty {
			n := demo.SeedJira(sim)
			about = fmt.Sprintf("  account %s, API token %s, %d issues (WEB, APP, SUP, OPS)\n", demo.JiraEmail, demo.JiraToken, n)
		}
		h = sim
	}
	return demo.ServeOne(ctx, *addr, h, func(url string) {
		fmt.Fprintf(c.stdout, "%s simulator listening on %s\n%sPress Ctrl-C to stop.\n", which, url, about)
	})
}
