package httpx

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/engine/quota"
	"github.com/sluicehq/sluice/engine/store"
)

// UserAgent is sent with every request.
const UserAgent = "sluice/0.1 (+https://github.com/sluicehq/sluice)"

// Recorder keeps audited calls; the store implements it.
type Recorder interface {
	RecordCalls(ctx context.Context, calls []store.Call) error
}

// Gate decides whether a metered call may be sent, and learns from its answer;
// engine/quota's Budget implements it.
type Gate interface {
	Acquire(ctx context.Context, k quota.Key, p quota.Priority) (*quota.Ticket, error)
}

// Clock tells the time and waits; clockwork's clocks implement it.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// Options configure a connection's client.
type Options struct {
	// Connection names the connection in audits and logs.
	Connection string
	// Quota is the service's metering; nil when it has none.
	Quota connectors.QuotaPolicy
	// Budget is asked before every metered call; nil lets every call go.
	Budget   Gate
	Recorder Recorder
	// Health is the connection's standing (circuit breaker, refused credentials); one is
	// made when nil.
	Health *Health
	Clock  Clock
	Log    *slog.Logger
	// Base sends the requests; http.DefaultTransport when nil.
	Base http.RoundTripper
	// Timeout bounds each attempt; 60 s when zero.
	Timeout time.Duration
	// MaxRetries bounds the retries of one request; 4 when zero, none when negative.
	MaxRetries int
	// MaxWait is the longest wait a server may ask for (Retry-After) before the request is
	// given up instead; 2 minutes when zero.
	MaxWait time.Duration
	// BackoffBase is the first backoff step; the n-th waits a random time below
	// BackoffBase·2ⁿ (full jitter), capped at 30 s. 1 s when zero.
	BackoffBase time.Duration
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
	if o.MaxRetries == 0 {
		o.MaxRetries = 4
	}
	if o.MaxWait == 0 {
		o.MaxWait = 2 * time.Minute
	}
	if o.BackoffBase == 0 {
		o.BackoffBase = time.Second
	}
	if o.Health == nil {
		o.Health = &Health{}
	}
	return &http.Client{Transport: &transport{o: o}}
}

// transport retries what may be retried and audits every attempt.
type transport struct {
	o Options
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	req = req.Clone(ctx) // a RoundTripper must not change the caller's request
	req.Header.Set("User-Agent", UserAgent)
	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 {
			var err error
			if r, err = rewind(req); err != nil {
				return nil, err
			}
		}
		resp, err := t.send(r, attempt)
		wait, retry := t.retryable(req, resp, err, attempt)
		if !retry || !rewindable(req) {
			return resp, err
		}
		if resp != nil {
			drain(resp)
		}
		t.o.Log.Warn("retrying a request", "connector", t.o.Connection, "method", req.Method,
			"route", route(req), "status", statusOf(resp), "wait", wait, "attempt", attempt+1)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.o.Clock.After(wait):
		}
	}
}

// send makes one attempt, bounded by the attempt timeout, and audits it. Before sending it
// asks the connection's health and, for a metered call, the budget; after, it tells the
// budget what the answer reported and turns refusals into errors: a spent quota into a
// *connectors.QuotaError, refused credentials into a flag on the connection.
func (t *transport) send(req *http.Request, attempt int) (*http.Response, error) {
	ctx := req.Context()
	now := t.o.Clock.Now()
	if err := t.o.Health.allow(t.o.Connection, now); err != nil {
		return nil, err
	}
	call := store.Call{
		Connection:     t.o.Connection,
		Method:         req.Method,
		Route:          route(req),
		QuotaRemaining: -1,
		Retry:          attempt,
	}
	caller := CallerFrom(ctx)
	if caller != nil {
		call.Workflow, call.RunID = caller.Workflow, caller.RunID
	}
	if t.o.Quota != nil {
		call.Bucket = t.o.Quota.Bucket(req)
	}
	var ticket *quota.Ticket
	if call.Bucket != "" && t.o.Budget != nil {
		prio := quota.Normal
		if caller != nil {
			prio = caller.Priority
		}
		var err error
		if ticket, err = t.o.Budget.Acquire(ctx, quota.Key{Connection: t.o.Connection, Bucket: call.Bucket}, prio); err != nil {
			return nil, err
		}
	}
	if caller != nil {
		caller.calls.Add(1)
	}

	call.At = t.o.Clock.Now()
	actx, cancel := context.WithTimeout(ctx, t.o.Timeout)
	start := time.Now()
	resp, err := t.o.Base.RoundTrip(req.WithContext(actx))
	call.Duration = time.Since(start)
	refusal := connectors.NotRefused
	if err != nil {
		cancel()
		call.Error = errorKind(err)
		if ticket != nil {
			ticket.Cancel()
		}
	} else {
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
		call.Status = resp.StatusCode
		if t.o.Quota != nil && resp.StatusCode >= 400 {
			refusal = t.o.Quota.Refusal(req, resp)
		}
		// A refusal for quota, rate or credentials is not charged; every other answer is.
		charged := refusal != connectors.QuotaExhausted && refusal != connectors.BadCredentials &&
			resp.StatusCode != http.StatusTooManyRequests
		q, reported := connectors.Quota{}, false
		if t.o.Quota != nil && call.Bucket != "" {
			if q, reported = t.o.Quota.Observe(resp); reported {
				call.QuotaRemaining = q.Remaining
			}
		}
		if ticket != nil {
			ticket.Settle(ctx, q, reported, charged)
		}
	}
	t.o.Health.record(err != nil || (resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented), t.o.Clock.Now())
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		refusal = connectors.BadCredentials
	}
	// The audit must not be lost with the request's context, nor fail the request.
	if rerr := t.o.Recorder.RecordCalls(context.WithoutCancel(ctx), []store.Call{call}); rerr != nil {
		t.o.Log.Warn("audit a call", "connector", t.o.Connection, "error", rerr)
	}
	t.o.Log.Debug("api call", "connector", t.o.Connection, "method", call.Method, "route", call.Route,
		"status", call.Status, "quota_remaining", call.QuotaRemaining, "duration", call.Duration, "retry", attempt)

	switch refusal {
	case connectors.QuotaExhausted:
		resetsIn := time.Duration(0)
		if q, ok := t.o.Quota.Observe(resp); ok {
			resetsIn = q.ResetsIn
		}
		drain(resp)
		return nil, &connectors.QuotaError{Connection: t.o.Connection, Bucket: call.Bucket,
			Until: t.o.Clock.Now().Add(resetsIn), Reason: "the service refused the call: the hourly quota is spent"}
	case connectors.BadCredentials:
		t.o.Health.refuseCredentials(resp.StatusCode, t.o.Clock.Now())
		t.o.Log.Error("the service refused the credentials; the connection is stopped until it is fixed",
			"connector", t.o.Connection, "status", resp.StatusCode)
	}
	return resp, err
}

// drain reads a little of an unwanted body and closes it, so its connection can be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// retryable says whether to try again, and after how long. A refusal to serve now (429, 503)
// is retried for any method; other server errors and broken connections only for methods
// that are safe to repeat, since a POST may have been applied.
func (t *transport) retryable(req *http.Request, resp *http.Response, err error, attempt int) (time.Duration, bool) {
	if attempt >= t.o.MaxRetries || req.Context().Err() != nil {
		return 0, false
	}
	if err != nil {
		var qe *connectors.QuotaError
		var ce *CircuitOpenError
		if errors.Is(err, context.Canceled) || errors.Is(err, ErrBadCredentials) || errors.As(err, &qe) ||
			errors.As(err, &ce) || !idempotent(req.Method) {
			return 0, false
		}
		return t.backoff(attempt), true
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if wait, ok := RetryAfter(resp.Header, t.o.Clock.Now()); ok {
			if wait > t.o.MaxWait {
				return 0, false
			}
			return wait, true
		}
		return t.backoff(attempt), true
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		if idempotent(req.Method) {
			return t.backoff(attempt), true
		}
	}
	return 0, false
}

// backoff is the full-jitter exponential wait before retry attempt+1.
func (t *transport) backoff(attempt int) time.Duration {
	ceiling := min(t.o.BackoffBase<<min(attempt, 16), 30*time.Second)
	return time.Duration(rand.Int64N(int64(ceiling)) + 1)
}

// RetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		// ParseFloat also reads NaN and Inf, and a float too large for a Duration converts
		// to a negative one, which would retry at once instead of giving up.
		if secs < 0 || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return 0, false
		}
		if secs >= math.MaxInt64/float64(time.Second) {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// rewindable reports whether req's body can be sent again.
func rewindable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// rewind returns a copy of req whose body can be sent again.
func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return r, nil
	}
	if req.GetBody == nil {
		return nil, errors.New("httpx: cannot resend a request whose body cannot be read again")
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	r.Body = body
	return r, nil
}

// cancelOnClose ends an attempt's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// route returns the request's path template. A request a connector did not label is
// audited as unlabelled rather than by its path, which may hold ids and names.
func route(req *http.Request) string {
	if r := connectors.Route(req.Context()); r != "" {
		return r
	}
	return "(unlabelled)"
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
