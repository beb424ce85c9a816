package httpx

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/engine/store"
)

// UserAgent is sent with every request.
const UserAgent = "sluice/0.1 (+https://github.com/sluicehq/sluice)"

// Recorder keeps audited calls and observed quotas; the store implements it.
type Recorder interface {
	RecordCalls(ctx context.Context, calls []store.Call) error
	SaveQuota(ctx context.Context, q store.Quota) error
}

// Clock tells the time.
type Clock interface{ Now() time.Time }

// Options configure a connection's client.
type Options struct {
	// Connection names the connection in audits and logs.
	Connection string
	// Quota is the service's metering; nil when it has none.
	Quota    connectors.QuotaPolicy
	Recorder Recorder
	Clock    Clock
	Log      *slog.Logger
	// Base sends the requests; http.DefaultTransport when nil.
	Base http.RoundTripper
	// Timeout bounds each request; 60 s when zero.
	Timeout time.Duration
}

// NewClient returns the client for one connection.
func NewClient(o Options) *http.Client {
	if o.Base == nil {
		o.Base = http.DefaultTransport
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &http.Client{Transport: &auditTransport{o: o}, Timeout: o.Timeout}
}

// auditTransport records each request and the quota its answer reports.
type auditTransport struct {
	o Options
}

func (t *auditTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	req.Header.Set("User-Agent", UserAgent)
	call := store.Call{
		At:             t.o.Clock.Now(),
		Connection:     t.o.Connection,
		Method:         req.Method,
		Route:          route(req),
		QuotaRemaining: -1,
	}
	if t.o.Quota != nil {
		call.Bucket = t.o.Quota.Bucket(req)
	}
	if c := CallerFrom(ctx); c != nil {
		call.Workflow, call.RunID = c.Workflow, c.RunID
		c.calls.Add(1)
	}
	start := time.Now()
	resp, err := t.o.Base.RoundTrip(req)
	call.Duration = time.Since(start)
	if err != nil {
		call.Error = errorKind(err)
	} else {
		call.Status = resp.StatusCode
		if t.o.Quota != nil && call.Bucket != "" {
			if q, ok := t.o.Quota.Observe(resp); ok {
				call.QuotaRemaining = q.Remaining
				t.saveQuota(ctx, call.Bucket, q, call.At)
			}
		}
	}
	// The audit must not be lost with the request's context, nor fail the request.
	rctx := context.WithoutCancel(ctx)
	if rerr := t.o.Recorder.RecordCalls(rctx, []store.Call{call}); rerr != nil {
		t.o.Log.Warn("audit a call", "connector", t.o.Connection, "error", rerr)
	}
	t.o.Log.Debug("api call", "connector", t.o.Connection, "method", call.Method, "route", call.Route,
		"status", call.Status, "quota_remaining", call.QuotaRemaining, "duration", call.Duration)
	return resp, err
}

func (t *auditTransport) saveQuota(ctx context.Context, bucket string, q connectors.Quota, at time.Time) {
	err := t.o.Recorder.SaveQuota(context.WithoutCancel(ctx), store.Quota{
		Connection: t.o.Connection, Bucket: bucket, Remaining: q.Remaining,
		ResetsAt: at.Add(q.ResetsIn), ObservedAt: at,
	})
	if err != nil {
		t.o.Log.Warn("record quota", "connector", t.o.Connection, "error", err)
	}
}

// route returns the request's path template, or its path with every segment that holds a
// digit replaced by {id}, so no id or name is audited.
func route(req *http.Request) string {
	if r := connectors.Route(req.Context()); r != "" {
		return r
	}
	parts := strings.Split(req.URL.Path, "/")
	for i, p := range parts {
		if strings.ContainsAny(p, "0123456789") {
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, "/")
}

// errorKind names a transport error without its text, which may hold the URL.
func errorKind(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "network error"
}
