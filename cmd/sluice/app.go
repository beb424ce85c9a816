package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/jonboulle/clockwork"

	"github.com/sluicehq/sluice/engine/httpx"
	"github.com/sluicehq/sluice/engine/runner"
	"github.com/sluicehq/sluice/engine/store"
	"github.com/sluicehq/sluice/engine/store/sqlite"
	"github.com/sluicehq/sluice/engine/workflow"
)

// app is a loaded configuration wired to its store, HTTP clients and runner.
type app struct {
	project *workflow.Project
	store   store.Store
	runner  *runner.Runner
	log     *slog.Logger
	clock   clockwork.Clock

	mu      sync.Mutex
	clients map[string]*http.Client
}

// appOptions adjust how an app is wired; tests use them.
type appOptions struct {
	clock      clockwork.Clock
	afterWrite func(key string, op store.Op)
}

// openApp loads the config at path and opens its store.
func openApp(ctx context.Context, c cmdIO, path string) (*app, error) {
	opt := c.app
	p, err := workflow.Load(path, c.env)
	if err != nil {
		return nil, err
	}
	a := &app{project: p, clock: opt.clock, clients: map[string]*http.Client{}}
	if a.clock == nil {
		a.clock = clockwork.NewRealClock()
	}
	a.log = newLogger(c.stderr, p.Config.LogLevel, p.Config.LogFormat)
	a.store, err = openStore(ctx, p.Config.Store)
	if err != nil {
		return nil, err
	}
	a.runner = runner.New(runner.Options{
		Store:      a.store,
		Clock:      a.clock,
		Log:        a.log,
		HTTP:       a.client,
		AfterWrite: opt.afterWrite,
	})
	return a, nil
}

func (a *app) Close() error { return a.store.Close() }

// client returns the one HTTP client of a connection.
func (a *app) client(conn *workflow.Connection) *http.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	if hc, ok := a.clients[conn.Name]; ok {
		return hc
	}
	hc := httpx.NewClient(httpx.Options{
		Connection: conn.Name,
		Quota:      conn.Spec.Quota,
		Recorder:   a.store,
		Clock:      a.clock,
		Log:        a.log,
	})
	a.clients[conn.Name] = hc
	return hc
}

func openStore(ctx context.Context, dsn string) (store.Store, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		return sqlite.Open(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	default:
		return nil, fmt.Errorf("store %q: only sqlite: stores are supported so far", redactDSN(dsn))
	}
}

// redactDSN hides a password in a database address.
func redactDSN(dsn string) string {
	if at := strings.LastIndex(dsn, "@"); at > 0 {
		if scheme := strings.Index(dsn, "://"); scheme >= 0 && scheme < at {
			return dsn[:scheme+3] + "…" + dsn[at:]
		}
	}
	return dsn
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	switch level {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
