package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/jonboulle/clockwork"

	"github.com/sluicehq/sluice/engine/service"
	"github.com/sluicehq/sluice/engine/store"
	"github.com/sluicehq/sluice/engine/store/sqlite"
	"github.com/sluicehq/sluice/engine/workflow"
)

// app is a loaded configuration wired to its store and service.
type app struct {
	*service.Service
	project *workflow.Project
	store   store.Store
	log     *slog.Logger
	clock   clockwork.Clock
}

// appOptions adjust how an app is wired; tests use them.
type appOptions struct {
	clock      clockwork.Clock
	afterWrite func(key string, op store.Op)
}

// openApp loads the config at path and opens its store.
func openApp(ctx context.Context, c cmdIO, path string) (*app, error) {
	p, err := workflow.Load(path, c.env)
	if err != nil {
		return nil, err
	}
	a := &app{project: p, clock: c.app.clock}
	if a.clock == nil {
		a.clock = clockwork.NewRealClock()
	}
	a.log = newLogger(c.stderr, p.Config.LogLevel, p.Config.LogFormat)
	if a.store, err = openStore(ctx, p.Config.Store); err != nil {
		return nil, err
	}
	a.Service, err = service.New(ctx, p, a.store, service.Options{Clock: a.clock, Log: a.log, AfterWrite: c.app.afterWrite})
	if err != nil {
		a.store.Close()
		return nil, err
	}
	return a, nil
}

func (a *app) Close() error { return a.store.Close() }

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
