package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/engine/httpx"
	"github.com/sluicehq/sluice/engine/quota"
	"github.com/sluicehq/sluice/engine/store"
)

// t0 is the fake clock's start, on a whole second so that HTTP dates are exact.
var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

// guard bounds how long a test waits for something that should happen at once. It only
// fires when the code under test is broken.
const guard = 10 * time.Second

// recorder keeps what the transport audits, and what the quota budget saves, in memory.
type recorder struct {
	mu     sync.Mutex
	calls  []store.Call
	quotas []store.Quota
	// err, when set, is returned by RecordCalls (after keeping the calls).
	err error
}

func (r *recorder) RecordCalls(_ context.Context, calls []store.Call) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, calls...)
	return r.err
}

func (r *recorder) SaveQuota(_ context.Context, q store.Quota) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.quotas = append(r.quotas, q)
	return nil
}

func (r *recorder) Quotas(context.Context) ([]store.Quota, error) { return nil, nil }

func (r *recorder) RecordExternalUsage(context.Context, store.ExternalUsage) error { return nil }

func (r *recorder) Calls() []store.Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]store.Call(nil), r.calls...)
}

func (r *recorder) savedQuotas() []store.Quota {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]store.Quota(nil), r.quotas...)
}

// quotaStub charges every request to bucket and reads the quota from the X-Quota-Remaining
// and X-Quota-Reset (seconds) headers. It reads no refusal into any answer.
type quotaStub struct {
	bucket string
}

func (q quotaStub) Bucket(*http.Request) string { return q.bucket }

func (q quotaStub) Observe(resp *http.Response) (connectors.Quota, bool) {
	n, err := strconv.Atoi(resp.Header.Get("X-Quota-Remaining"))
	if err != nil {
		return connectors.Quota{}, false
	}
	reset, _ := strconv.Atoi(resp.Header.Get("X-Quota-Reset"))
	return connectors.Quota{Remaining: n, ResetsIn: time.Duration(reset) * time.Second}, true
}

func (q quotaStub) Refusal(*http.Request, *http.Response) connectors.Refusal {
	return connectors.NotRefused
}

// step is one scripted answer; a step with err set fails the attempt before it reaches the
// server.
type step struct {
	status int
	header map[string]string
	err    error
}

func answer(status int, kv ...string) step {
	h := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return step{status: status, header: h}
}

// received is a request as the server saw it.
type received struct {
	Method, Path, RawQuery, UserAgent, Body string
}

// scripted answers requests with its steps in order, repeating the last one. Its transport
// signals every attempt on attempts, whether or not it reaches the server.
type scripted struct {
	srv      *httptest.Server
	attempts chan int

	mu    sync.Mutex
	steps []step
	n     int
	got   []received
}

func newScripted(t *testing.T, steps ...step) *scripted {
	t.Helper()
	s := &scripted{steps: steps, attempts: make(chan int, 64)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("server: read body: %v", err)
		}
		s.mu.Lock()
		s.got = append(s.got, received{r.Method, r.URL.Path, r.URL.RawQuery, r.UserAgent(), string(body)})
		st := s.steps[min(s.n-1, len(s.steps)-1)]
		n := s.n
		s.mu.Unlock()
		for k, v := range st.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(st.status)
		fmt.Fprintf(w, "answer %d", n)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// RoundTrip counts the attempt, then fails it or sends it to the server.
func (s *scripted) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.n++
	n := s.n
	st := s.steps[min(n-1, len(s.steps)-1)]
	s.mu.Unlock()
	s.attempts <- n
	if st.err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, st.err
	}
	return s.srv.Client().Transport.RoundTrip(req)
}

func (s *scripted) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// harness is a client on a fake clock in front of a scripted server.
type harness struct {
	fc     *clockwork.FakeClock
	rec    *recorder
	srv    *scripted
	client *http.Client
}

func newHarness(t *testing.T, o httpx.Options, steps ...step) *harness {
	t.Helper()
	h := &harness{fc: clockwork.NewFakeClockAt(t0), rec: &recorder{}, srv: newScripted(t, steps...)}
	h.client = h.newClient(o)
	return h
}

// newClient returns a client on the harness's clock, recorder and server.
func (h *harness) newClient(o httpx.Options) *http.Client {
	if o.Connection == "" {
		o.Connection = "jira-main"
	}
	o.Clock, o.Recorder, o.Base = h.fc, h.rec, h.srv
	return httpx.NewClient(o)
}

func (h *harness) url(path string) string { return h.srv.srv.URL + path }

type result struct {
	status int
	body   string
	err    error
}

func (h *harness) start(req *http.Request) <-chan result {
	done := make(chan result, 1)
	go func() {
		resp, err := h.client.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		done <- result{status: resp.StatusCode, body: string(body), err: err}
	}()
	return done
}

// attempt waits for the transport's next attempt.
func (h *harness) attempt(t *testing.T) {
	t.Helper()
	select {
	case <-h.srv.attempts:
	case <-time.After(guard):
		t.Fatal("no attempt was made")
	}
}

// awaitWait returns once the transport waits on the clock.
func (h *harness) awaitWait(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), guard)
	defer cancel()
	if err := h.fc.BlockUntilContext(ctx, 1); err != nil {
		t.Fatalf("the transport did not wait to retry: %v", err)
	}
}

// waiting reports, without blocking, whether the transport is waiting on the clock.
func (h *harness) waiting() bool {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return h.fc.BlockUntilContext(ctx, 1) == nil
}

// pause is a wait expected before a retry.
type pause struct {
	// exact is a server-given wait: the retry must not go a nanosecond earlier, and must go then.
	exact time.Duration
	// atMost is a backoff: the retry must have gone once the clock moved this far.
	atMost time.Duration
}

// drive sends req and moves the clock through the pauses, one before each retry; a zero pause
// is a retry without waiting. It returns the answer and fails if the transport waits again.
func (h *harness) drive(t *testing.T, req *http.Request, pauses ...pause) result {
	t.Helper()
	done := h.start(req)
	for i, p := range pauses {
		h.attempt(t)
		switch {
		case p.exact > 0:
			h.awaitWait(t)
			h.fc.Advance(p.exact - time.Nanosecond)
			if !h.waiting() {
				t.Fatalf("retry %d went after %s, want exactly %s", i+1, p.exact-time.Nanosecond, p.exact)
			}
			select {
			case <-h.srv.attempts:
				t.Fatalf("retry %d sent before its wait of %s was over", i+1, p.exact)
			default:
			}
			h.fc.Advance(time.Nanosecond)
		case p.atMost > 0:
			h.awaitWait(t)
			h.fc.Advance(p.atMost)
		}
	}
	h.attempt(t)
	return h.finish(t, done)
}

// finish returns the answer of a request that should not wait any more.
func (h *harness) finish(t *testing.T, done <-chan result) result {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	waits := make(chan struct{})
	go func() {
		if h.fc.BlockUntilContext(ctx, 1) == nil {
			close(waits)
		}
	}()
	select {
	case r := <-done:
		return r
	case <-waits:
		t.Fatalf("the transport waits to retry again; %d attempts so far", len(h.rec.Calls()))
	case <-time.After(guard):
		t.Fatal("the request did not finish")
	}
	return result{}
}

func newRequest(t *testing.T, ctx context.Context, method, url, body string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func statuses(calls []store.Call) []int {
	out := make([]int, len(calls))
	for i, c := range calls {
		out[i] = c.Status
	}
	return out
}

func retries(calls []store.Call) []int {
	out := make([]int, len(calls))
	for i, c := range calls {
		out[i] = c.Retry
	}
	return out
}

func TestRetryAfterHonoured(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		body    string
		maxWait time.Duration
		steps   []step
		pauses  []pause
	}{
		{
			name: "429 seconds, GET", method: http.MethodGet,
			steps:  []step{answer(429, "Retry-After", "3"), answer(200)},
			pauses: []pause{{exact: 3 * time.Second}},
		},
		{
			name: "429 seconds, POST", method: http.MethodPost, body: `{"timeSpentSeconds":5400}`,
			steps:  []step{answer(429, "Retry-After", "1"), answer(201)},
			pauses: []pause{{exact: time.Second}},
		},
		{
			name: "503 seconds, POST", method: http.MethodPost, body: `{"started":"2026-05-04T09:00:00.000+0000"}`,
			steps:  []step{answer(503, "Retry-After", "2"), answer(201)},
			pauses: []pause{{exact: 2 * time.Second}},
		},
		{
			name: "503 seconds, DELETE", method: http.MethodDelete,
			steps:  []step{answer(503, "Retry-After", "4"), answer(204)},
			pauses: []pause{{exact: 4 * time.Second}},
		},
		{
			name: "fractional seconds", method: http.MethodPut, body: "x",
			steps:  []step{answer(429, "Retry-After", "1.5"), answer(200)},
			pauses: []pause{{exact: 1500 * time.Millisecond}},
		},
		{
			name: "HTTP date", method: http.MethodGet,
			steps:  []step{answer(429, "Retry-After", t0.Add(5*time.Second).Format(http.TimeFormat)), answer(200)},
			pauses: []pause{{exact: 5 * time.Second}},
		},
		{
			name: "HTTP date in the past: retry at once", method: http.MethodPost, body: "x",
			steps:  []step{answer(503, "Retry-After", t0.Add(-time.Hour).Format(http.TimeFormat)), answer(200)},
			pauses: []pause{{}},
		},
		{
			name: "two refusals in a row", method: http.MethodPost, body: "once more",
			steps:  []step{answer(429, "Retry-After", "1"), answer(503, "Retry-After", "7"), answer(201)},
			pauses: []pause{{exact: time.Second}, {exact: 7 * time.Second}},
		},
		{
			name: "exactly MaxWait", method: http.MethodGet, maxWait: 10 * time.Second,
			steps:  []step{answer(429, "Retry-After", "10"), answer(200)},
			pauses: []pause{{exact: 10 * time.Second}},
		},
		{
			name: "exactly the default MaxWait of 2 minutes", method: http.MethodGet,
			steps:  []step{answer(429, "Retry-After", "120"), answer(200)},
			pauses: []pause{{exact: 2 * time.Minute}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, httpx.Options{MaxWait: tc.maxWait}, tc.steps...)
			req := newRequest(t, t.Context(), tc.method, h.url("/rest/api/3/issue/WEB-1/worklog"), tc.body)

			r := h.drive(t, req, tc.pauses...)
			if r.err != nil {
				t.Fatalf("Do: %v", r.err)
			}
			last := tc.steps[len(tc.steps)-1].status
			want := fmt.Sprintf("answer %d", len(tc.pauses)+1)
			if last == http.StatusNoContent {
				want = ""
			}
			if r.status != last || r.body != want {
				t.Errorf("answer %d %q, want %d %q", r.status, r.body, last, want)
			}
			got := h.srv.received()
			if len(got) != len(tc.pauses)+1 {
				t.Fatalf("server saw %d requests, want %d", len(got), len(tc.pauses)+1)
			}
			for i, g := range got {
				if g.Method != tc.method || g.Body != tc.body {
					t.Errorf("attempt %d: %s with body %q, want %s with %q", i, g.Method, g.Body, tc.method, tc.body)
				}
			}
			calls := h.rec.Calls()
			var wantStatuses, wantRetries []int
			for i, s := range tc.steps {
				wantStatuses, wantRetries = append(wantStatuses, s.status), append(wantRetries, i)
			}
			if !reflect.DeepEqual(statuses(calls), wantStatuses) || !reflect.DeepEqual(retries(calls), wantRetries) {
				t.Errorf("audit statuses %v retries %v, want %v %v", statuses(calls), retries(calls), wantStatuses, wantRetries)
			}
		})
	}
}

func TestRetryAfterBeyondMaxWait(t *testing.T) {
	tests := []struct {
		name       string
		maxWait    time.Duration
		status     int
		retryAfter string
	}{
		{"a second over the default", 0, 429, "121"},
		{"over a configured MaxWait", time.Minute, 503, "61"},
		{"HTTP date too far ahead", time.Minute, 429, t0.Add(2 * time.Minute).Format(http.TimeFormat)},
		{"too large to represent", 0, 429, "99999999999"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, httpx.Options{MaxWait: tc.maxWait}, answer(tc.status, "Retry-After", tc.retryAfter), answer(200))
			r := h.drive(t, newRequest(t, t.Context(), http.MethodGet, h.url("/x"), ""))
			if r.err != nil || r.status != tc.status || r.body != "answer 1" {
				t.Errorf("answer %d %q, %v; want the refusal %d %q handed back", r.status, r.body, r.err, tc.status, "answer 1")
			}
			if n := len(h.srv.received()); n != 1 {
				t.Errorf("server saw %d requests, want 1", n)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	const base = time.Second
	tests := []struct {
		name    string
		method  string
		body    string
		base    time.Duration
		steps   []step
		atMosts []time.Duration
	}{
		{
			name: "429 without Retry-After: exponential ceilings", method: http.MethodGet,
			steps:   []step{answer(429), answer(429), answer(429), answer(200)},
			atMosts: []time.Duration{base, 2 * base, 4 * base},
		},
		{
			name: "503 without Retry-After, POST", method: http.MethodPost, body: "payload",
			steps:   []step{answer(503), answer(201)},
			atMosts: []time.Duration{base},
		},
		{
			name: "500, GET", method: http.MethodGet,
			steps:   []step{answer(500), answer(200)},
			atMosts: []time.Duration{base},
		},
		{
			name: "502, PUT", method: http.MethodPut, body: `{"timeSpentSeconds":60}`,
			steps:   []step{answer(502), answer(502), answer(200)},
			atMosts: []time.Duration{base, 2 * base},
		},
		{
			name: "504, DELETE", method: http.MethodDelete,
			steps:   []step{answer(504), answer(204)},
			atMosts: []time.Duration{base},
		},
		{
			name: "500, HEAD", method: http.MethodHead,
			steps:   []step{answer(500), answer(200)},
			atMosts: []time.Duration{base},
		},
		{
			name: "500 with a Retry-After that only 429 and 503 honour", method: http.MethodGet,
			steps:   []step{answer(500, "Retry-After", "100"), answer(200)},
			atMosts: []time.Duration{base},
		},
		{
			name: "capped at 30 s", method: http.MethodGet, base: 20 * time.Second,
			steps:   []step{answer(503), answer(503), answer(200)},
			atMosts: []time.Duration{20 * time.Second, 30 * time.Second},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.base
			if b == 0 {
				b = base
			}
			h := newHarness(t, httpx.Options{BackoffBase: b}, tc.steps...)
			var pauses []pause
			for _, d := range tc.atMosts {
				pauses = append(pauses, pause{atMost: d})
			}
			r := h.drive(t, newRequest(t, t.Context(), tc.method, h.url("/api/v9/me"), tc.body), pauses...)
			last := tc.steps[len(tc.steps)-1].status
			if r.err != nil || r.status != last {
				t.Fatalf("answer %d, %v; want %d", r.status, r.err, last)
			}
			for i, g := range h.srv.received() {
				if g.Body != tc.body {
					t.Errorf("attempt %d sent body %q, want %q", i, g.Body, tc.body)
				}
			}
			if got := retries(h.rec.Calls()); len(got) != len(tc.steps) {
				t.Errorf("audit retries %v, want %d attempts", got, len(tc.steps))
			}
		})
	}
}

func TestNotRetried(t *testing.T) {
	tests := []struct {
		method string
		status int
	}{
		{http.MethodPost, 500},
		{http.MethodPost, 502},
		{http.MethodPost, 504},
		{http.MethodPatch, 502},
		{http.MethodGet, 501},
		{http.MethodGet, 400},
		{http.MethodGet, 401},
		{http.MethodGet, 404},
		{http.MethodPut, 409},
		{http.MethodPost, 413},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s %d", tc.method, tc.status), func(t *testing.T) {
			h := newHarness(t, httpx.Options{}, answer(tc.status), answer(200))
			r := h.drive(t, newRequest(t, t.Context(), tc.method, h.url("/x"), "body"))
			if r.err != nil || r.status != tc.status || r.body != "answer 1" {
				t.Errorf("answer %d %q, %v; want %d %q", r.status, r.body, r.err, tc.status, "answer 1")
			}
			if n := len(h.srv.received()); n != 1 {
				t.Errorf("server saw %d requests, want 1", n)
			}
		})
	}
}

// netError is a transport error whose text holds the URL, as net/http's do.
type netError struct {
	url     string
	timeout bool
}

func (e *netError) Error() string   { return "dial tcp " + e.url + ": connection refused" }
func (e *netError) Timeout() bool   { return e.timeout }
func (e *netError) Temporary() bool { return false }

func TestNetworkErrors(t *testing.T) {
	const path = "/api/v9/workspaces/8123/time_entries?since=1700000000&user_agent=secret-agent"
	refused := &netError{url: "http://toggl.example" + path}
	timedOut := &netError{url: "http://toggl.example" + path, timeout: true}
	tests := []struct {
		name      string
		method    string
		steps     []step
		retried   bool
		wantError string
	}{
		{"GET is retried", http.MethodGet, []step{{err: refused}, answer(200)}, true, "network error"},
		{"PUT is retried", http.MethodPut, []step{{err: timedOut}, answer(200)}, true, "timeout"},
		{"DELETE is retried", http.MethodDelete, []step{{err: refused}, answer(204)}, true, "network error"},
		{"POST is not retried", http.MethodPost, []step{{err: refused}, answer(201)}, false, "network error"},
		{"POST timeout is not retried", http.MethodPost, []step{{err: timedOut}, answer(201)}, false, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, httpx.Options{}, tc.steps...)
			req := newRequest(t, t.Context(), tc.method, h.url(path), "payload")
			var pauses []pause
			if tc.retried {
				pauses = []pause{{atMost: time.Second}}
			}
			r := h.drive(t, req, pauses...)
			calls := h.rec.Calls()
			if len(calls) == 0 {
				t.Fatal("nothing audited")
			}
			if c := calls[0]; c.Error != tc.wantError || c.Status != 0 || c.Retry != 0 {
				t.Errorf("audit of the failed attempt: error %q status %d retry %d, want %q 0 0", c.Error, c.Status, c.Retry, tc.wantError)
			}
			if tc.retried {
				if r.err != nil || r.status != tc.steps[1].status {
					t.Errorf("answer %d, %v; want %d", r.status, r.err, tc.steps[1].status)
				}
				if len(calls) != 2 || calls[1].Error != "" || calls[1].Retry != 1 {
					t.Errorf("audit %+v, want a second, successful attempt", calls)
				}
				if got := h.srv.received(); len(got) != 1 || got[0].Body != "payload" {
					t.Errorf("server saw %+v, want the retry with its body", got)
				}
				return
			}
			if r.err == nil {
				t.Fatalf("answer %d, want the network error", r.status)
			}
			if len(calls) != 1 || len(h.srv.received()) != 0 {
				t.Errorf("%d attempts audited, %d reached the server; want 1 and 0", len(calls), len(h.srv.received()))
			}
		})
	}
}

func TestMaxRetries(t *testing.T) {
	tests := []struct {
		name       string
		maxRetries int
		attempts   int
	}{
		{"default of 4", 0, 5},
		{"two", 2, 3},
		{"none when negative", -1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, httpx.Options{MaxRetries: tc.maxRetries}, answer(429, "Retry-After", "1"))
			pauses := make([]pause, tc.attempts-1)
			for i := range pauses {
				pauses[i] = pause{exact: time.Second}
			}
			r := h.drive(t, newRequest(t, t.Context(), http.MethodGet, h.url("/x"), ""), pauses...)
			if want := fmt.Sprintf("answer %d", tc.attempts); r.err != nil || r.status != 429 || r.body != want {
				t.Errorf("answer %d %q, %v; want the last refusal 429 %q", r.status, r.body, r.err, want)
			}
			var want []int
			for i := range tc.attempts {
				want = append(want, i)
			}
			if got := retries(h.rec.Calls()); !reflect.DeepEqual(got, want) {
				t.Errorf("audit retries %v, want %v", got, want)
			}
		})
	}
}

// oneShot is a body that cannot be read twice: http.NewRequest gives it no GetBody.
type oneShot struct{ r io.Reader }

func (o *oneShot) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestBodyThatCannotBeResent(t *testing.T) {
	h := newHarness(t, httpx.Options{}, answer(503, "Retry-After", "1"), answer(201))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h.url("/x"), &oneShot{strings.NewReader("payload")})
	if err != nil {
		t.Fatal(err)
	}
	done := h.start(req)
	h.attempt(t)
	// Nothing can be retried, so the server's own answer comes back at once, with no wait.
	r := h.finish(t, done)
	if r.err != nil || r.status != 503 {
		t.Fatalf("answer %d, %v; want the 503 handed back rather than a retry without the body", r.status, r.err)
	}
	if got := h.srv.received(); len(got) != 1 || got[0].Body != "payload" {
		t.Errorf("server saw %+v, want only the first attempt", got)
	}
}

func TestCancelDuringWait(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"Retry-After", []step{answer(429, "Retry-After", "60"), answer(200)}},
		{"backoff", []step{answer(503), answer(200)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, httpx.Options{BackoffBase: time.Minute}, tc.steps...)
			ctx, cancel := context.WithCancel(t.Context())
			done := h.start(newRequest(t, ctx, http.MethodGet, h.url("/x"), ""))
			h.attempt(t)
			h.awaitWait(t)
			cancel()
			var r result
			select {
			case r = <-done:
			case <-time.After(guard):
				t.Fatal("Do did not return after its context was cancelled")
			}
			if !errors.Is(r.err, context.Canceled) {
				t.Errorf("Do: %v, want context.Canceled", r.err)
			}
			if n := len(h.srv.received()); n != 1 {
				t.Errorf("server saw %d requests, want 1", n)
			}
		})
	}
}

func TestCallersRequestUntouched(t *testing.T) {
	h := newHarness(t, httpx.Options{}, answer(503, "Retry-After", "1"), answer(200))
	req := newRequest(t, t.Context(), http.MethodPut, h.url("/rest/api/3/issue/WEB-1/worklog/100000?notifyUsers=false"), "payload")
	req.Header.Set("Accept", "application/json")
	header, url, ctx := req.Header.Clone(), req.URL.String(), req.Context()

	r := h.drive(t, req, pause{exact: time.Second})
	if r.err != nil || r.status != 200 {
		t.Fatalf("answer %d, %v", r.status, r.err)
	}
	if !reflect.DeepEqual(req.Header, header) || req.URL.String() != url || req.Context() != ctx {
		t.Errorf("the caller's request changed: header %v (was %v), url %s (was %s)", req.Header, header, req.URL, url)
	}
	for i, g := range h.srv.received() {
		if g.UserAgent != httpx.UserAgent || g.RawQuery != "notifyUsers=false" || g.Body != "payload" {
			t.Errorf("attempt %d: %+v", i, g)
		}
	}
}

func TestAudit(t *testing.T) {
	tests := []struct {
		name   string
		ctx    func(context.Context) context.Context
		caller *httpx.Caller
		quota  connectors.QuotaPolicy
		path   string
		steps  []step
		pauses []pause
		recErr error
		// budget gives the client a quota budget that saves what it learns in the recorder.
		budget bool

		wantRoute  string
		wantBucket string
		wantQuota  []int // QuotaRemaining per attempt
		wantSaved  []store.Quota
	}{
		{
			name: "route template from the context",
			ctx: func(ctx context.Context) context.Context {
				return connectors.WithRoute(ctx, "/rest/api/3/issue/{issueIdOrKey}/worklog")
			},
			path:  "/rest/api/3/issue/WEB-1/worklog?expand=properties&startedAfter=1777885200000",
			steps: []step{answer(200)}, wantRoute: "/rest/api/3/issue/{issueIdOrKey}/worklog", wantQuota: []int{-1},
		},
		{
			name: "unlabelled without a template", caller: &httpx.Caller{Workflow: "timesheets", RunID: 42},
			path:      "/api/v9/workspaces/8123/time_entries/4567?since=1700000000&user_agent=secret-agent",
			steps:     []step{answer(200)},
			wantRoute: "(unlabelled)", wantQuota: []int{-1},
		},
		{
			name: "names in the path never reach the audit", path: "/rest/api/3/issue/WEB-1/worklog/100000",
			steps: []step{answer(204)}, wantRoute: "(unlabelled)", wantQuota: []int{-1},
		},
		{
			name: "quota observed and saved", caller: &httpx.Caller{Workflow: "timesheets", RunID: 7},
			quota: quotaStub{bucket: "user"}, budget: true, path: "/api/v9/me",
			steps:     []step{answer(200, "X-Quota-Remaining", "17", "X-Quota-Reset", "600")},
			wantRoute: "(unlabelled)", wantBucket: "user", wantQuota: []int{17},
			wantSaved: []store.Quota{{Connection: "jira-main", Bucket: "user", Remaining: 17,
				ResetsAt: t0.Add(10 * time.Minute), ObservedAt: t0}},
		},
		{
			name: "quota on every attempt", caller: &httpx.Caller{Workflow: "timesheets", RunID: 8},
			quota: quotaStub{bucket: "org"}, budget: true, path: "/api/v9/me",
			steps: []step{
				answer(429, "Retry-After", "30", "X-Quota-Remaining", "40", "X-Quota-Reset", "3600"),
				answer(200, "X-Quota-Remaining", "39", "X-Quota-Reset", "3570"),
			},
			pauses:    []pause{{exact: 30 * time.Second}},
			wantRoute: "(unlabelled)", wantBucket: "org", wantQuota: []int{40, 39},
			wantSaved: []store.Quota{
				{Connection: "jira-main", Bucket: "org", Remaining: 40, ResetsAt: t0.Add(time.Hour), ObservedAt: t0},
				{Connection: "jira-main", Bucket: "org", Remaining: 39, ResetsAt: t0.Add(time.Hour),
					ObservedAt: t0.Add(30 * time.Second)},
			},
		},
		{
			name: "answer without quota", quota: quotaStub{bucket: "user"}, budget: true, path: "/api/v9/me",
			steps: []step{answer(200)}, wantRoute: "(unlabelled)", wantBucket: "user", wantQuota: []int{-1},
		},
		{
			name: "unmetered request", quota: quotaStub{bucket: ""}, budget: true, path: "/api/v9/me",
			steps:     []step{answer(200, "X-Quota-Remaining", "17")},
			wantRoute: "(unlabelled)", wantQuota: []int{-1},
		},
		{
			name: "a failing recorder does not fail the request", quota: quotaStub{bucket: "user"}, path: "/api/v9/me",
			steps: []step{answer(200, "X-Quota-Remaining", "5")}, recErr: errors.New("database is locked"),
			wantRoute: "(unlabelled)", wantBucket: "user", wantQuota: []int{5},
		},
		{
			name: "observed without a budget, nothing saved", quota: quotaStub{bucket: "user"}, path: "/api/v9/me",
			steps:     []step{answer(200, "X-Quota-Remaining", "17", "X-Quota-Reset", "600")},
			wantRoute: "(unlabelled)", wantBucket: "user", wantQuota: []int{17},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, httpx.Options{Quota: tc.quota}, tc.steps...)
			if tc.budget {
				budget := quota.New(quota.Options{Store: h.rec, Clock: h.fc})
				h.client = h.newClient(httpx.Options{Quota: tc.quota, Budget: budget})
			}
			h.rec.err = tc.recErr
			ctx := t.Context()
			if tc.ctx != nil {
				ctx = tc.ctx(ctx)
			}
			if tc.caller != nil {
				ctx = httpx.WithCaller(ctx, tc.caller)
			}
			r := h.drive(t, newRequest(t, ctx, http.MethodGet, h.url(tc.path), ""), tc.pauses...)
			last := tc.steps[len(tc.steps)-1].status
			if r.err != nil || r.status != last {
				t.Fatalf("answer %d, %v; want %d", r.status, r.err, last)
			}

			calls := h.rec.Calls()
			if len(calls) != len(tc.steps) {
				t.Fatalf("%d calls audited, want %d: %+v", len(calls), len(tc.steps), calls)
			}
			at := t0
			for i, c := range calls {
				if i > 0 {
					at = at.Add(tc.pauses[i-1].exact)
				}
				want := store.Call{
					At: at, Connection: "jira-main", Method: http.MethodGet, Route: tc.wantRoute,
					Status: tc.steps[i].status, Bucket: tc.wantBucket, QuotaRemaining: tc.wantQuota[i], Retry: i,
				}
				if tc.caller != nil {
					want.Workflow, want.RunID = tc.caller.Workflow, tc.caller.RunID
				}
				c.Duration = 0 // real time
				if !reflect.DeepEqual(c, want) {
					t.Errorf("audit row %d:\n got %+v\nwant %+v", i, c, want)
				}
			}
			if tc.caller != nil && tc.caller.Calls() != len(tc.steps) {
				t.Errorf("caller counted %d calls, want %d", tc.caller.Calls(), len(tc.steps))
			}
			if got := h.rec.savedQuotas(); !reflect.DeepEqual(got, tc.wantSaved) {
				t.Errorf("quotas saved:\n got %+v\nwant %+v", got, tc.wantSaved)
			}
		})
	}
}

// TestAuditHoldsNoQueryOrIDs sends requests full of ids and query values in every way the
// transport can see them, and checks that no audit row repeats any of them.
func TestAuditHoldsNoQueryOrIDs(t *testing.T) {
	secrets := []string{"8123", "4567", "1700000000", "secret-agent", "WEB-1", "100000", "?", "since", "toggl.example"}
	paths := []string{
		"/api/v9/workspaces/8123/time_entries/4567?since=1700000000&user_agent=secret-agent",
		"/rest/api/3/issue/WEB-1/worklog/100000?notifyUsers=false&since=1700000000",
		"/api/v9/workspaces/8123/?secret-agent",
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			h := newHarness(t, httpx.Options{Quota: quotaStub{bucket: "user"}},
				step{err: &netError{url: "http://toggl.example" + path}}, answer(503), answer(200, "X-Quota-Remaining", "9"))
			ctx := httpx.WithCaller(t.Context(), &httpx.Caller{Workflow: "timesheets", RunID: 1})
			r := h.drive(t, newRequest(t, ctx, http.MethodGet, h.url(path), ""), pause{atMost: time.Second}, pause{atMost: 2 * time.Second})
			if r.err != nil {
				t.Fatal(r.err)
			}
			calls := h.rec.Calls()
			if len(calls) != 3 {
				t.Fatalf("%d calls audited, want 3", len(calls))
			}
			for i, c := range calls {
				row := fmt.Sprintf("%+v", c)
				for _, s := range secrets {
					if strings.Contains(c.Route, s) || strings.Contains(c.Error, s) || strings.Contains(c.Bucket, s) {
						t.Errorf("audit row %d holds %q: %s", i, s, row)
					}
				}
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  time.Duration
		ok    bool
		// atLeast says want is a lower bound.
		atLeast bool
	}{
		{name: "seconds", value: "3", want: 3 * time.Second, ok: true},
		{name: "zero", value: "0", want: 0, ok: true},
		{name: "spaces around", value: " 7 ", want: 7 * time.Second, ok: true},
		{name: "fractional", value: "1.5", want: 1500 * time.Millisecond, ok: true},
		{name: "HTTP date", value: t0.Add(90 * time.Second).Format(http.TimeFormat), want: 90 * time.Second, ok: true},
		{name: "HTTP date now", value: t0.Format(http.TimeFormat), want: 0, ok: true},
		{name: "HTTP date in the past", value: t0.Add(-time.Hour).Format(http.TimeFormat), want: 0, ok: true},
		{name: "RFC 850 date in the past", value: "Sunday, 06-Nov-94 08:49:37 GMT", want: 0, ok: true},
		{name: "asctime date ahead", value: t0.Add(time.Minute).Format(time.ANSIC), want: time.Minute, ok: true},
		{name: "too large to represent", value: "99999999999", want: 1000 * time.Hour, ok: true, atLeast: true},
		{name: "absent", value: "", ok: false},
		{name: "garbage", value: "soon", ok: false},
		{name: "negative", value: "-5", ok: false},
		{name: "not a number", value: "NaN", ok: false},
		{name: "infinite", value: "Inf", ok: false},
		{name: "date in another layout", value: t0.Format(time.RFC3339), ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.value != "" {
				h.Set("Retry-After", tc.value)
			}
			got, ok := httpx.RetryAfter(h, t0)
			switch {
			case ok != tc.ok:
				t.Errorf("RetryAfter(%q) = %s, %v; want ok %v", tc.value, got, ok, tc.ok)
			case tc.atLeast && got < tc.want:
				t.Errorf("RetryAfter(%q) = %s, want at least %s", tc.value, got, tc.want)
			case !tc.atLeast && got != tc.want:
				t.Errorf("RetryAfter(%q) = %s, want %s", tc.value, got, tc.want)
			}
		})
	}
}
