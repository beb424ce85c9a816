package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/sluicehq/sluice/engine/serve"
	"github.com/sluicehq/sluice/engine/service"
	"github.com/sluicehq/sluice/engine/workflow"
	"github.com/sluicehq/sluice/ui"
)

// tokenEnv names the environment variable holding the UI's access token.
const tokenEnv = "SLUICE_UI_TOKEN"

// cmdServe runs the enabled workflows on their schedules and serves the web UI and API
// until SIGINT or SIGTERM; SIGHUP reloads the files.
func cmdServe(ctx context.Context, c cmdIO, args []string) error {
	fs := c.flags("serve")
	config := fs.String("config", "sluice.yaml", "the configuration file")
	addr := fs.String("addr", "127.0.0.1:8080", "the address of the web UI and API")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return serveConfig(ctx, c, *config, *addr, nil)
}

// serveConfig serves a configuration; ready, when set, is told the UI's URL once listening.
func serveConfig(ctx context.Context, c cmdIO, config, addr string, ready func(url string)) error {
	token, _ := c.env(tokenEnv)
	if err := checkExposure(addr, token); err != nil {
		return usageError{err.Error()}
	}
	p, err := workflow.Load(config, c.env)
	if err != nil {
		return reportLoad(c, err)
	}
	log := newLogger(c.stderr, p.Config.LogLevel, p.Config.LogFormat)
	st, err := openStore(ctx, p.Config.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	clock := c.app.clock
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	srv, err := serve.New(ctx, serve.Options{Config: config, Env: c.env, Store: st, Clock: clock, Log: log,
		Service: service.Options{AfterWrite: c.app.afterWrite}})
	if err != nil {
		return reportLoad(c, err)
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	h, err := ui.New(srv, ui.Options{Token: token, Log: log, Version: version})
	if err != nil {
		_ = srv.Shutdown()
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = srv.Shutdown()
		return fmt.Errorf("listen on %s: %w (choose another address with --addr)", addr, err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	log.Info("serving", "url", url, "workflows", len(p.Workflows))
	if ready != nil {
		ready(url)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for done := false; !done; {
		select {
		case <-hup:
			if err := srv.Reload(ctx); err != nil {
				log.Warn("reload", "error", err)
			}
		case err := <-served:
			if !errors.Is(err, http.ErrServerClosed) {
				_ = srv.Shutdown()
				return fmt.Errorf("web UI: %w", err)
			}
			done = true
		case <-ctx.Done():
			done = true
		}
	}
	log.Info("shutting down: stopping the schedule and letting running workflows finish")
	err = srv.Shutdown()
	// Requests under way get a moment; connections a browser opened ahead of use and never
	// used would hold Shutdown for seconds, so what is left then is closed.
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if herr := hs.Shutdown(sctx); herr != nil {
		_ = hs.Close()
	}
	return err
}

// checkExposure refuses to serve beyond loopback without a token.
func checkExposure(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %v", addr, err)
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) || token != "" {
		return nil
	}
	return fmt.Errorf("--addr %s is reachable from other machines: set %s to the token the UI and API will require", addr, tokenEnv)
}

// cmdResync makes a workflow read its whole backfill window again on its next run: its
// cursor is forgotten, its ledger kept, so only entries whose mapped record changed (after
// an edit of the map, say) are written again, and nothing is duplicated.
func cmdResync(ctx context.Context, c cmdIO, args []string) error {
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return usageError{"resync needs the workflow's name"}
	}
	wf := args[0]
	fs := c.flags("resync")
	config := fs.String("config", "sluice.yaml", "the configuration file")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	a, err := openApp(ctx, c, *config)
	if err != nil {
		return reportLoad(c, err)
	}
	defer a.Close()
	w := a.project.Workflow(wf)
	if w == nil {
		return usageError{fmt.Sprintf("no workflow named %q (have %s)", wf, workflowNames(a.project))}
	}
	if err := a.store.SetCursor(ctx, w.Name, w.Source.Connection.Name, ""); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s will read its whole backfill window on its next run; entries already pushed and unchanged are skipped\n", wf)
	return nil
}

// cmdEnable turns a workflow on or off at run time; a running `sluice serve` follows within
// seconds, and the setting outlives restarts (the file's `enabled` is only the default).
func cmdEnable(ctx context.Context, c cmdIO, args []string, on bool) error {
	name := "enable"
	if !on {
		name = "disable"
	}
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return usageError{name + " needs the workflow's name"}
	}
	wf := args[0]
	fs := c.flags(name)
	config := fs.String("config", "sluice.yaml", "the configuration file")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	a, err := openApp(ctx, c, *config)
	if err != nil {
		return reportLoad(c, err)
	}
	defer a.Close()
	if a.project.Workflow(wf) == nil {
		return usageError{fmt.Sprintf("no workflow named %q (have %s)", wf, workflowNames(a.project))}
	}
	if err := a.store.SetEnabled(ctx, wf, on); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s %sd\n", wf, name)
	return nil
}
