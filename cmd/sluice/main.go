// Command sluice syncs Toggl Track time entries into Jira and other tools without burning
// the Toggl API quota. Run `sluice help` for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"

	_ "github.com/sluicehq/sluice/connectors/all" // every connector
)

const usage = `sluice syncs Toggl Track time entries into Jira and other tools, within the Toggl API quota.

Usage:
  sluice demo [--dir DIR] [--addr HOST:PORT] [--once]  the example workflows against built-in simulators, served live
  sluice serve [--config FILE] [--addr HOST:PORT]  run the workflows on their schedules, with the web UI and API
  sluice run --once [--config FILE] [--workflow NAME]  run each enabled workflow once and exit
  sluice enable|disable NAME [--config FILE]       switch a workflow on or off, at once and across restarts
  sluice resync NAME [--config FILE]               read the backfill window again on the next run (no duplicates)
  sluice validate [--config FILE]                  check the config and every workflow; call no API
  sluice plan [--config FILE]                      each token's quota, and how often each workflow may poll
  sluice audit [--since 24h] [--workflow NAME] [--by hour|day] [--format table|csv|json]
                                                   the API calls sluice made, from its audit; calls no API
  sluice sim toggl|jira [--addr HOST:PORT]         run one API simulator, seeded with demo data
  sluice version                                   print the version

The config defaults to ./sluice.yaml. Exit status: 0 success, 1 a run or check failed,
2 bad usage or an unreadable config.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	gin.SetMode(gin.ReleaseMode)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], cmdIO{stdout: os.Stdout, stderr: os.Stderr, env: os.LookupEnv})
	stop()
	os.Exit(code)
}

// exit codes
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// usageError is a command line problem: the command prints it and exits with exitUsage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// runMain runs one command and returns the process's exit code.
func runMain(ctx context.Context, args []string, c cmdIO) int {
	stdout, stderr := c.stdout, c.stderr
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "validate":
		err = cmdValidate(ctx, c, rest)
	case "run":
		err = cmdRun(ctx, c, rest)
	case "plan":
		err = cmdPlan(ctx, c, rest)
	case "serve":
		err = cmdServe(ctx, c, rest)
	case "audit":
		err = cmdAudit(ctx, c, rest)
	case "enable":
		err = cmdEnable(ctx, c, rest, true)
	case "disable":
		err = cmdEnable(ctx, c, rest, false)
	case "resync":
		err = cmdResync(ctx, c, rest)
	case "sim":
		err = cmdSim(ctx, c, rest)
	case "demo":
		err = cmdDemo(ctx, c, rest)
	case "version", "--version":
		fmt.Fprintln(stdout, "sluice", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	var ue usageError
	var fe failedError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "sluice %s: %s\n\n%s", cmd, ue.msg, usage)
		return exitUsage
	case errors.As(err, &fe):
		// The command has already said what failed.
		return exitFailed
	default:
		fmt.Fprintf(stderr, "sluice %s: %v\n", cmd, err)
		return exitFailed
	}
}

// failedError means the command reported its failure itself.
type failedError struct{}

func (failedError) Error() string { return "failed" }

// cmdIO is a command's standard streams and environment.
type cmdIO struct {
	stdout, stderr io.Writer
	env            func(string) (string, bool)
	// app adjusts how configurations are wired; tests set it.
	app appOptions
}

// flags returns a flag set that reports problems as usage errors.
func (c cmdIO) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("sluice "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}
