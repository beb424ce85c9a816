package httpx

import (
	"context"
	"sync/atomic"
)

// Caller says on whose behalf requests are made: a workflow's run. It travels in the request
// context and counts the calls made.
type Caller struct {
	Workflow string
	RunID    int64
	calls    atomic.Int64
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
