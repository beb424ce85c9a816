package httpx_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/toggl"
	"github.com/sluicehq/sluice/engine/httpx"
	"github.com/sluicehq/sluice/engine/quota"
	"github.com/sluicehq/sluice/engine/store"
)

// togglStart is when these tests' fake clock starts.
var togglStart = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

// togglGuard bounds how long a test waits for something that should happen at once. It only
// fires when the code under test is broken.
const togglGuard = 10 * time.Second

// errConnRefused is what a broken connection gives the transport.
var errConnRefused = errors.New("dial tcp 127.0.0.1:1: connect: connection refused")

// Toggl-like paths: /me spends the user bucket, workspaces the organization's.
const (
	mePath        = "/api/v9/me/time_entries"
	workspacePath = "/api/v9/workspaces/5000001/projects"
)

// togglAnswer is one scripted answer. Empty quota fields leave their header out.
type togglAnswer struct {
	status              int
	remaining, resetsIn string
	body                string
}

func quotaAnswer(status, remaining, resetsIn int, body string) togglAnswer {
	return togglAnswer{status, strconv.Itoa(remaining), strconv.Itoa(resetsIn), body}
}

// togglServer answers with its script in order, repeating the last answer, and counts the
// requests that reach it.
type togglServer struct {
	srv  *httptest.Server
	hits atomic.Int64

	mu     sync.Mutex
	script []togglAnswer
}

func newTogglServer(t *testing.T, script ...togglAnswer) *togglServer {
	t.Helper()
	s := &togglServer{script: script}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.hits.Add(1)
		s.mu.Lock()
		a := s.script[min(int(n), len(s.script))-1]
		s.mu.Unlock()
		if a.remaining != "" {
			w.Header().Set("X-Toggl-Quota-Remaining", a.remaining)
		}
		if a.resetsIn != "" {
			w.Header().Set("X-Toggl-Quota-Resets-In", a.resetsIn)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// then replaces the answers still to come.
func (s *togglServer) then(script ...togglAnswer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script[:min(int(s.hits.Load()), len(s.script))], script...)
}

// countingBase is the client's base transport: it counts the attempts that reach it and fails
// those fail says to fail, as a broken connection would, without reaching the server.
type countingBase struct {
	next     http.RoundTripper
	attempts atomic.Int64
	fail     atomic.Bool
}

func (b *countingBase) RoundTrip(req *http.Request) (*http.Response, error) {
	b.attempts.Add(1)
	if b.fail.Load() {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errConnRefused
	}
	return b.next.RoundTrip(req)
}

// callLog keeps audited calls and what the budget saves.
type callLog struct {
	mu       sync.Mutex
	calls    []store.Call
	external []store.ExternalUsage
}

func (l *callLog) RecordCalls(_ context.Context, calls []store.Call) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, calls...)
	return nil
}

func (l *callLog) SaveQuota(context.Context, store.Quota) error  { return nil }
func (l *callLog) Quotas(context.Context) ([]store.Quota, error) { return nil, nil }

func (l *callLog) RecordExternalUsage(_ context.Context, u store.ExternalUsage) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.external = append(l.external, u)
	return nil
}

func (l *callLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

// togglClient is a client for connection toggl-main with Toggl's quota policy, on a fake
// clock, in front of a togglServer.
type togglClient struct {
	fc     *clockwork.FakeClock
	srv    *togglServer
	base   *countingBase
	log    *callLog
	budget *quota.Budget
	health *httpx.Health
	client *http.Client
}

// newTogglClient builds the client; o's Quota, Budget and MaxRetries are kept, and withBudget
// gives it a quota budget.
func newTogglClient(t *testing.T, o httpx.Options, withBudget bool, script ...togglAnswer) *togglClient {
	t.Helper()
	c := &togglClient{fc: clockwork.NewFakeClockAt(togglStart), srv: newTogglServer(t, script...), log: &callLog{},
		health: &httpx.Health{}}
	c.base = &countingBase{next: c.srv.srv.Client().Transport}
	if withBudget {
		c.budget = quota.New(quota.Options{Store: c.log, Clock: c.fc})
		o.Budget = c.budget
	}
	o.Connection, o.Clock, o.Recorder, o.Base, o.Health = "toggl-main", c.fc, c.log, c.base, c.health
	c.client = httpx.NewClient(o)
	return c
}

// togglResult is what a request gave back.
type togglResult struct {
	status int
	body   string
	err    error
}

// start sends a request in a goroutine.
func (c *togglClient) start(ctx context.Context, method, path string) <-chan togglResult {
	done := make(chan togglResult, 1)
	go func() {
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(`{"start_date":"2026-05-01","end_date":"2026-05-04"}`)
		}
		req, err := http.NewRequestWithContext(ctx, method, c.srv.srv.URL+path, body)
		if err != nil {
			done <- togglResult{err: err}
			return
		}
		resp, err := c.client.Do(req)
		if err != nil {
			done <- togglResult{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- togglResult{status: resp.StatusCode, body: string(b), err: err}
	}()
	return done
}

// wait returns a started request's result, failing the test if it does not come.
func (c *togglClient) wait(t *testing.T, done <-chan togglResult) togglResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(togglGuard):
		t.Fatal("the request did not finish")
	}
	return togglResult{}
}

// do sends a request that must finish without waiting on the clock.
func (c *togglClient) do(t *testing.T, method, path string) togglResult {
	t.Helper()
	return c.wait(t, c.start(t.Context(), method, path))
}

// hits is how many requests reached the server, and attempts how many reached the base
// transport (a broken connection reaches no server).
func (c *togglClient) hits() int     { return int(c.srv.hits.Load()) }
func (c *togglClient) attempts() int { return int(c.base.attempts.Load()) }

func (c *togglClient) state(t *testing.T, bucket string) quota.State {
	t.Helper()
	for _, s := range c.budget.States() {
		if s.Connection == "toggl-main" && s.Bucket == bucket {
			return s
		}
	}
	t.Fatalf("no budget state for bucket %s", bucket)
	return quota.State{}
}

func requireQuotaError(t *testing.T, r togglResult, bucket string, until time.Time) {
	t.Helper()
	var qe *connectors.QuotaError
	if !errors.As(r.err, &qe) {
		t.Fatalf("answer %d %q, %v; want a *connectors.QuotaError", r.status, r.body, r.err)
	}
	if qe.Connection != "toggl-main" || qe.Bucket != bucket || !qe.Until.Equal(until) || qe.Reason == "" {
		t.Errorf("QuotaError %+v; want toggl-main %s until %s with a reason", *qe, bucket, until)
	}
}

// TestQuotaRefused: Toggl's 402 with no quota left is a *connectors.QuotaError after exactly
// one request, and the budget then defers the next call without sending it, or waits for the
// reset when that is close enough.
func TestQuotaRefused(t *testing.T) {
	over := "Quota exceeded: You've used 31 / 30 requests from user specific requests quota"
	for _, tc := range []struct {
		name         string
		method, path string
		bucket       string
		caller       *httpx.Caller
		maxRetries   int
		remaining    int
	}{
		{name: "GET on /me", method: http.MethodGet, path: mePath, bucket: toggl.BucketUser},
		{name: "GET with retries off", method: http.MethodGet, path: mePath, bucket: toggl.BucketUser, maxRetries: -1},
		{name: "Reports search", method: http.MethodPost, path: "/reports/api/v3/workspace/5000001/search/time_entries",
			bucket: toggl.BucketOrg},
		{name: "high priority", method: http.MethodGet, path: workspacePath, bucket: toggl.BucketOrg,
			caller: &httpx.Caller{Workflow: "urgent", Priority: quota.High}},
		{name: "not enforced, below zero", method: http.MethodGet, path: mePath, bucket: toggl.BucketUser, remaining: -2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTogglClient(t, httpx.Options{Quota: toggl.Spec.Quota, MaxRetries: tc.maxRetries}, true,
				quotaAnswer(http.StatusPaymentRequired, tc.remaining, 1800, `"`+over+`"`))
			ctx := t.Context()
			if tc.caller != nil {
				ctx = httpx.WithCaller(ctx, tc.caller)
			}
			resets := togglStart.Add(30 * time.Minute)
			r := c.wait(t, c.start(ctx, tc.method, tc.path))
			requireQuotaError(t, r, tc.bucket, resets)
			if c.hits() != 1 || c.log.count() != 1 {
				t.Fatalf("%d requests sent, %d audited; want exactly one", c.hits(), c.log.count())
			}
			if s := c.state(t, tc.bucket); !s.Known || s.Remaining != tc.remaining || !s.ResetsAt.Equal(resets) || s.Ours != 0 {
				t.Errorf("budget after the 402: %+v known %v, %d left, resets %s, ours %d; want %d left until %s and the refusal not counted",
					s.Key, s.Known, s.Remaining, s.ResetsAt, s.Ours, tc.remaining, resets)
			}
			// The next call is deferred by the budget: nothing is sent.
			r = c.wait(t, c.start(ctx, tc.method, tc.path))
			requireQuotaError(t, r, tc.bucket, resets)
			if c.hits() != 1 || c.attempts() != 1 {
				t.Errorf("%d requests sent (%d attempts) after the budget deferred the call; want the first only", c.hits(), c.attempts())
			}
		})
	}
}

// TestQuotaRefusedWaitsForReset: when the refused bucket resets within the budget's MaxWait,
// the next call waits for the reset and goes then.
func TestQuotaRefusedWaitsForReset(t *testing.T) {
	c := newTogglClient(t, httpx.Options{Quota: toggl.Spec.Quota}, true,
		quotaAnswer(http.StatusPaymentRequired, 0, 300, `"Quota exceeded"`))
	r := c.do(t, http.MethodGet, mePath)
	requireQuotaError(t, r, toggl.BucketUser, togglStart.Add(5*time.Minute))
	c.srv.then(quotaAnswer(http.StatusOK, 29, 3600, `[]`))

	done := c.start(t.Context(), http.MethodGet, mePath)
	ctx, cancel := context.WithTimeout(t.Context(), togglGuard)
	defer cancel()
	if err := c.fc.BlockUntilContext(ctx, 1); err != nil {
		t.Fatalf("the call does not wait for the reset: %v", err)
	}
	c.fc.Advance(5*time.Minute - time.Nanosecond)
	select {
	case r := <-done:
		t.Fatalf("the call went before the reset: %+v", r)
	default:
	}
	if c.hits() != 1 {
		t.Fatalf("%d requests sent before the reset, want 1", c.hits())
	}
	c.fc.Advance(time.Nanosecond)
	if r := c.wait(t, done); r.err != nil || r.status != http.StatusOK {
		t.Fatalf("answer after the reset = %d, %v; want 200", r.status, r.err)
	}
	if c.hits() != 2 {
		t.Errorf("%d requests sent, want 2", c.hits())
	}
}

// TestQuotaRefusedWithoutBudget: without a budget the 402 is still a *QuotaError and not
// retried, but nothing holds the next call back.
func TestQuotaRefusedWithoutBudget(t *testing.T) {
	c := newTogglClient(t, httpx.Options{Quota: toggl.Spec.Quota}, false,
		quotaAnswer(http.StatusPaymentRequired, 0, 600, `"Quota exceeded"`))
	for i := 1; i <= 2; i++ {
		requireQuotaError(t, c.do(t, http.MethodGet, mePath), toggl.BucketUser, togglStart.Add(10*time.Minute))
		if c.hits() != i {
			t.Errorf("after call %d: %d requests sent, want %d", i, c.hits(), i)
		}
	}
}

// TestFeatureRefused: a 402 for a feature the plan lacks is handed back as it is, not
// retried, and leaves the budget with what the service reported, not spent.
func TestFeatureRefused(t *testing.T) {
	const feature = `"Workspace needs to have this feature enabled"`
	for _, tc := range []struct {
		name        string
		method      string
		path        string
		bucket      string
		refusal     togglAnswer
		wantLeft    int // -1: not checked
		wantRetries int
	}{
		{"GET with quota left", http.MethodGet, workspacePath, toggl.BucketOrg,
			quotaAnswer(http.StatusPaymentRequired, 201, 2990, feature), 201, 0},
		{"Reports search with quota left", http.MethodPost, "/reports/api/v3/workspace/5000001/search/time_entries",
			toggl.BucketOrg, quotaAnswer(http.StatusPaymentRequired, 201, 2990, feature), 201, 0},
		{"GET without quota headers", http.MethodGet, workspacePath, toggl.BucketOrg,
			togglAnswer{status: http.StatusPaymentRequired, body: feature}, -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTogglClient(t, httpx.Options{Quota: toggl.Spec.Quota}, true,
				quotaAnswer(http.StatusOK, 201, 3000, `[]`), tc.refusal, quotaAnswer(http.StatusOK, 200, 2980, `[]`))
			if r := c.do(t, tc.method, tc.path); r.err != nil || r.status != http.StatusOK {
				t.Fatalf("first answer %d, %v; want 200", r.status, r.err)
			}
			c.fc.Advance(10 * time.Second)
			r := c.do(t, tc.method, tc.path)
			if r.err != nil || r.status != http.StatusPaymentRequired || r.body != feature {
				t.Fatalf("feature refusal = %d %q, %v; want the 402 and its body", r.status, r.body, r.err)
			}
			if c.hits() != 2 {
				t.Errorf("%d requests sent, want 2 (no retry)", c.hits())
			}
			s := c.state(t, tc.bucket)
			if !s.Known || (tc.wantLeft >= 0 && s.Remaining != tc.wantLeft) {
				t.Errorf("budget after the feature 402: known %v, %d left; want %d left", s.Known, s.Remaining, tc.wantLeft)
			}
			if r := c.do(t, tc.method, tc.path); r.err != nil || r.status != http.StatusOK {
				t.Errorf("next call = %d, %v; want it sent and answered", r.status, r.err)
			}
			if st := c.health.State(c.fc.Now()); st.BadCredentials || st.Failures != 0 {
				t.Errorf("health = %+v, want a healthy connection", st)
			}
		})
	}
}

// TestBadCredentials: a refusal of the credentials (401, or what the policy says is one)
// flags the connection: later requests fail at once with ErrBadCredentials and none is sent.
func TestBadCredentials(t *testing.T) {
	const refused = `"Incorrect username and/or password"`
	for _, tc := range []struct {
		name    string
		policy  connectors.QuotaPolicy
		status  int
		path    string
		flagged bool
	}{
		{"401 on /me", toggl.Spec.Quota, http.StatusUnauthorized, mePath, true},
		{"401 on a workspace", toggl.Spec.Quota, http.StatusUnauthorized, workspacePath, true},
		{"403 on /me", toggl.Spec.Quota, http.StatusForbidden, "/api/v9/me", true},
		{"403 on /me/time_entries", toggl.Spec.Quota, http.StatusForbidden, mePath, true},
		{"403 on a workspace is not about the credentials", toggl.Spec.Quota, http.StatusForbidden, workspacePath, false},
		{"401 without a policy", nil, http.StatusUnauthorized, "/rest/api/3/myself", true},
		{"403 without a policy", nil, http.StatusForbidden, "/rest/api/3/myself", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTogglClient(t, httpx.Options{Quota: tc.policy}, true, togglAnswer{status: tc.status, body: refused})
			r := c.do(t, http.MethodGet, tc.path)
			if r.err != nil || r.status != tc.status {
				t.Fatalf("answer = %d, %v; want %d handed back", r.status, r.err, tc.status)
			}
			if c.hits() != 1 {
				t.Fatalf("%d requests sent, want 1 (no retry)", c.hits())
			}
			c.fc.Advance(time.Minute)
			st := c.health.State(c.fc.Now())
			if !tc.flagged {
				if st.BadCredentials {
					t.Errorf("health = %+v, want the credentials not flagged", st)
				}
				if r := c.do(t, http.MethodGet, tc.path); r.err != nil || c.hits() != 2 {
					t.Errorf("next request = %v, %d sent; want it sent", r.err, c.hits())
				}
				return
			}
			if !st.BadCredentials || st.RefusedStatus != tc.status || !st.RefusedAt.Equal(togglStart) {
				t.Errorf("health = %+v; want the credentials flagged with status %d at %s", st, tc.status, togglStart)
			}
			for _, path := range []string{tc.path, mePath, workspacePath, "/api/v9/workspaces/5000001/clients"} {
				r := c.do(t, http.MethodGet, path)
				if !errors.Is(r.err, httpx.ErrBadCredentials) {
					t.Errorf("GET %s after the refusal = %d, %v; want ErrBadCredentials", path, r.status, r.err)
				}
			}
			if c.attempts() != 1 || c.log.count() != 1 {
				t.Errorf("%d attempts, %d audited after the flag; want only the first", c.attempts(), c.log.count())
			}
		})
	}
}

// requireOpen checks that the circuit is open until until and that a request is refused
// without being sent.
func requireOpen(t *testing.T, c *togglClient, until time.Time, failures int) {
	t.Helper()
	st := c.health.State(c.fc.Now())
	if !st.OpenUntil.Equal(until) || st.Failures != failures {
		t.Fatalf("health = %+v; want open until %s after %d failures", st, until, failures)
	}
	before := c.attempts()
	r := c.do(t, http.MethodGet, mePath)
	var ce *httpx.CircuitOpenError
	if !errors.As(r.err, &ce) || !ce.Until.Equal(until) || ce.Connection != "toggl-main" {
		t.Fatalf("request while open = %d, %v; want a *CircuitOpenError until %s", r.status, r.err, until)
	}
	if c.attempts() != before {
		t.Fatalf("a request was sent while the circuit was open")
	}
}

// TestBreaker: after 5 failed attempts in a row (broken connections, server errors) the
// circuit opens for 30 s; while open nothing is sent; the first attempt after the cool-down
// closes it on success or reopens it for twice as long, up to 10 minutes.
func TestBreaker(t *testing.T) {
	for _, tc := range []struct {
		name string
		// fail makes the next attempts fail.
		fail func(c *togglClient)
	}{
		{"500", func(c *togglClient) { c.srv.then(togglAnswer{status: http.StatusInternalServerError}) }},
		{"502", func(c *togglClient) { c.srv.then(togglAnswer{status: http.StatusBadGateway}) }},
		{"503", func(c *togglClient) { c.srv.then(togglAnswer{status: http.StatusServiceUnavailable}) }},
		{"broken connection", func(c *togglClient) { c.base.fail.Store(true) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTogglClient(t, httpx.Options{Quota: toggl.Spec.Quota, MaxRetries: -1}, true,
				quotaAnswer(http.StatusOK, 29, 3600, `[]`))
			ok := func() {
				c.base.fail.Store(false)
				c.srv.then(quotaAnswer(http.StatusOK, 29, 3600, `[]`))
			}
			// Successes keep it closed.
			for range 3 {
				c.do(t, http.MethodGet, mePath)
			}
			tc.fail(c)
			for i := 1; i <= 4; i++ {
				c.do(t, http.MethodGet, mePath)
				if st := c.health.State(c.fc.Now()); st.Failures != i || !st.OpenUntil.IsZero() {
					t.Fatalf("after %d failures: %+v; want closed", i, st)
				}
			}
			c.do(t, http.MethodGet, mePath)
			if c.attempts() != 8 {
				t.Fatalf("%d attempts, want 8", c.attempts())
			}
			until := c.fc.Now().Add(30 * time.Second)
			requireOpen(t, c, until, 5)
			c.fc.Advance(30*time.Second - time.Nanosecond)
			requireOpen(t, c, until, 5)
			c.fc.Advance(time.Nanosecond)

			// Each failed attempt after a cool-down reopens it for twice as long, up to 10 min.
			failures := 5
			for _, cool := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
				10 * time.Minute, 10 * time.Minute} {
				before := c.attempts()
				c.do(t, http.MethodGet, mePath)
				failures++
				if c.attempts() != before+1 {
					t.Fatalf("after the cool-down: %d attempts, want one", c.attempts()-before)
				}
				until = c.fc.Now().Add(cool)
				requireOpen(t, c, until, failures)
				c.fc.Advance(cool - time.Nanosecond)
				requireOpen(t, c, until, failures)
				c.fc.Advance(time.Nanosecond)
			}

			// A success closes it, and the count starts over at 30 s.
			ok()
			if r := c.do(t, http.MethodGet, mePath); r.err != nil || r.status != http.StatusOK {
				t.Fatalf("request after the cool-down = %d, %v; want 200", r.status, r.err)
			}
			if st := c.health.State(c.fc.Now()); st.Failures != 0 || !st.OpenUntil.IsZero() {
				t.Fatalf("after a success: %+v; want closed", st)
			}
			tc.fail(c)
			for range 4 {
				c.do(t, http.MethodGet, mePath)
			}
			if st := c.health.State(c.fc.Now()); !st.OpenUntil.IsZero() {
				t.Fatalf("open after 4 failures: %+v", st)
			}
			c.do(t, http.MethodGet, mePath)
			requireOpen(t, c, c.fc.Now().Add(30*time.Second), 5)
		})
	}
}

// TestBreakerIgnoresAnswers: answers that are not failures of the service (refusals, 4xx,
// 501) do not count towards opening the circuit and reset the count of failures.
func TestBreakerIgnoresAnswers(t *testing.T) {
	for _, a := range []togglAnswer{
		{status: http.StatusNotFound},
		{status: http.StatusBadRequest},
		{status: http.StatusTooManyRequests},
		{status: http.StatusNotImplemented},
		quotaAnswer(http.StatusPaymentRequired, 5, 3000, `"Workspace needs to have this feature enabled"`),
	} {
		t.Run(strconv.Itoa(a.status), func(t *testing.T) {
			c := newTogglClient(t, httpx.Options{MaxRetries: -1}, false, togglAnswer{status: http.StatusInternalServerError})
			for range 4 {
				c.do(t, http.MethodGet, workspacePath)
			}
			c.srv.then(a)
			for range 10 {
				c.do(t, http.MethodGet, workspacePath)
			}
			if st := c.health.State(c.fc.Now()); st.Failures != 0 || !st.OpenUntil.IsZero() {
				t.Errorf("health after %d answers = %+v; want closed with no failures", a.status, st)
			}
			if c.hits() != 14 {
				t.Errorf("%d requests sent, want 14", c.hits())
			}
		})
	}
}

// TestBreakerStopsRetries: a retried request stops at the circuit that its own failed
// attempts opened.
func TestBreakerStopsRetries(t *testing.T) {
	c := newTogglClient(t, httpx.Options{MaxRetries: 8, BackoffBase: time.Millisecond}, false,
		togglAnswer{status: http.StatusInternalServerError})
	done := c.start(t.Context(), http.MethodGet, workspacePath)
	ctx, cancel := context.WithTimeout(t.Context(), togglGuard)
	defer cancel()
	for range 5 {
		if err := c.fc.BlockUntilContext(ctx, 1); err != nil {
			t.Fatalf("no backoff wait after %d attempts: %v", c.attempts(), err)
		}
		c.fc.Advance(time.Second)
	}
	r := c.wait(t, done)
	var ce *httpx.CircuitOpenError
	if !errors.As(r.err, &ce) {
		t.Fatalf("answer %d, %v; want a *CircuitOpenError", r.status, r.err)
	}
	if c.hits() != 5 || c.attempts() != 5 {
		t.Errorf("%d requests sent, %d attempts; want 5 and the retries stopped", c.hits(), c.attempts())
	}
}

// TestCallerPriority: the budget sees the caller's priority: near the end of a bucket a
// low-priority workflow's call is deferred without being sent while others still go.
func TestCallerPriority(t *testing.T) {
	c := newTogglClient(t, httpx.Options{Quota: toggl.Spec.Quota}, true, quotaAnswer(http.StatusOK, 8, 1800, `[]`))
	c.budget.SetTotal(quota.Key{Connection: "toggl-main", Bucket: toggl.BucketUser}, 30)
	if r := c.do(t, http.MethodGet, mePath); r.err != nil || r.status != http.StatusOK {
		t.Fatalf("first answer %d, %v; want 200", r.status, r.err)
	}
	c.srv.then(quotaAnswer(http.StatusOK, 7, 1800, `[]`))
	for _, tc := range []struct {
		caller *httpx.Caller
		sent   bool
	}{
		{&httpx.Caller{Workflow: "backfill", Priority: quota.Low}, false},
		{&httpx.Caller{Workflow: "timesheets", Priority: quota.High}, true},
		{nil, true},
		{&httpx.Caller{Workflow: "backfill", Priority: quota.Low}, false},
	} {
		ctx := t.Context()
		if tc.caller != nil {
			ctx = httpx.WithCaller(ctx, tc.caller)
		}
		before := c.hits()
		r := c.wait(t, c.start(ctx, http.MethodGet, mePath))
		if sent := c.hits() > before; sent != tc.sent {
			t.Errorf("caller %+v: sent %v, want %v (%d, %v)", tc.caller, sent, tc.sent, r.status, r.err)
		}
		if !tc.sent {
			requireQuotaError(t, r, toggl.BucketUser, togglStart.Add(30*time.Minute))
		}
	}
}
