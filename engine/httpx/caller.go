package httpx

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/engine/quota"
	"github.com/sluicehq/sluice/engine/store"
)

// Caller says on whose behalf requests are made: a workflow's run. It travels in the request
// context and counts the calls made.
type Caller struct {
	Workflow string
	RunID    int64
	// Priority orders the caller's metered calls when a budget is short.
	Priority quota.Priority
	calls    atomic.Int64
	hits     atomic.Int64
}

type callerKey struct{}

// WithCaller returns a context whose requests are audited as made by c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller of ctx, or nil.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// Calls returns how many requests were sent for the caller.
func (c *Caller) Calls() int { return int(c.calls.Load()) }

// CacheHits returns a function that audits reads a connector answered from its cache, for
// connectors.Deps.CacheHit: a call row with CacheHit set and nothing sent.
//
// The row carries the bucket the read would have drawn on, so that what a cache saved shows
// next to what each bucket spent.
func CacheHits(connection string, policy connectors.QuotaPolicy, rec Recorder, clock Clock, log *slog.Logger) func(ctx context.Context, method, route string) {
	return func(ctx context.Context, method, route string) {
		call := store.Call{At: clock.Now(), Connection: connection, Method: method, Route: route,
			Status: http.StatusOK, QuotaRemaining: -1, CacheHit: true}
		if policy != nil {
			call.Bucket = policy.Bucket(&http.Request{Method: method, URL: &url.URL{Path: route}})
		}
		if c := CallerFrom(ctx); c != nil {
			call.Workflow, call.RunID = c.Workflow, c.RunID
			c.hits.Add(1)
		}
		if err := rec.RecordCalls(context.WithoutCancel(ctx), []store.Call{call}); err != nil {
			log.Warn("audit a cache hit", "connector", connection, "error", err)
		}
	}
}

// CacheHits returns how many reads were answered from a cache for the caller.
func (c *Caller) CacheHits() int { return int(c.hits.Load()) }
