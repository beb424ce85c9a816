package togglsim

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	cases := []struct {
		name       string
		rate       float64
		burst      int
		retryAfter int
	}{
		{"defaults", 0, 0, 1},
		{"half per second", 0.5, 2, 2},
		{"ten per second", 10, 3, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{ThrottleRate: tc.rate, ThrottleBurst: tc.burst}
			if tc.rate == 0 {
				opts.ThrottleRate = DefaultThrottleRate // newFixture turns 0 into "off"
			}
			f := newFixture(t, opts, PlanFree)
			burst := tc.burst
			if burst == 0 {
				burst = DefaultThrottleBurst
			}
			for i := 0; i < burst; i++ {
				f.get("/api/v9/me").want(t, 200)
			}
			r := f.get("/api/v9/me").want(t, http.StatusTooManyRequests)
			if got := r.intHeader(t, "Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After = %d, want %d", got, tc.retryAfter)
			}
			// Not consumed: the headers still show the bucket after the burst.
			if got := r.remaining(t); got != 30-burst {
				t.Errorf("429 remaining = %d, want %d", got, 30-burst)
			}
			if q := f.sim.Quota(f.token, "user"); q.Used != burst {
				t.Errorf("used = %d, want %d", q.Used, burst)
			}
			// Just before the wait is over: still throttled.
			wait := time.Duration(float64(time.Second) / opts.ThrottleRate)
			f.clock.Advance(wait - time.Millisecond)
			f.get("/api/v9/me").want(t, http.StatusTooManyRequests)
			// After the wait one more fits, and only one.
			f.clock.Advance(time.Millisecond)
			f.get("/api/v9/me").want(t, 200)
			f.get("/api/v9/me").want(t, http.StatusTooManyRequests)
			if st := f.sim.Stats(); st.Throttled != 3 || st.Charged != burst+1 {
				t.Errorf("stats throttled %d charged %d, want 3 and %d", st.Throttled, st.Charged, burst+1)
			}
		})
	}
}

// TestThrottleKeys: the bucket is per token and client IP.
func TestThrottleKeys(t *testing.T) {
	clock := newFakeClock()
	sim := New(Options{Clock: clock, ThrottleRate: 1, ThrottleBurst: 1})
	org := sim.AddOrganization("O", PlanFree)
	ws := sim.AddWorkspace(org, "W")
	for _, tok := range []string{"a", "b"} {
		sim.AddMember(ws, sim.AddUser(tok, tok+"@example.com", tok))
	}
	call := func(token, ip string) int {
		req := httptest.NewRequest("GET", "/api/v9/me", nil)
		req.RemoteAddr = ip + ":1234"
		req.SetBasicAuth(token, "api_token")
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		return rec.Code
	}
	steps := []struct {
		token, ip string
		want      int
	}{
		{"a", "10.0.0.1", 200},
		{"a", "10.0.0.1", 429},
		{"a", "10.0.0.2", 200}, // other IP
		{"b", "10.0.0.1", 200}, // other token
		{"b", "10.0.0.1", 429},
	}
	for i, s := range steps {
		if got := call(s.token, s.ip); got != s.want {
			t.Errorf("step %d (%s from %s): %d, want %d", i, s.token, s.ip, got, s.want)
		}
	}
	if reqs := sim.Requests(); reqs[2].RemoteIP != "10.0.0.2" {
		t.Errorf("logged IP %q", reqs[2].RemoteIP)
	}
}

func TestThrottleDisabled(t *testing.T) {
	f := newFixture(t, Options{ThrottleRate: -1}, PlanFree)
	for i := 0; i < 25; i++ {
		f.get("/api/v9/me").want(t, 200)
	}
}

// TestThrottleBeforeQuota: an exhausted quota still answers 429 first when the leaky bucket
// is full, so a client that waits Retry-After then learns about the 402.
func TestThrottleBeforeQuota(t *testing.T) {
	f := newFixture(t, Options{ThrottleRate: 1, ThrottleBurst: 1}, PlanFree)
	f.sim.SpendQuota(f.token, "user", 30)
	f.get("/api/v9/me").want(t, 402)
	r := f.get("/api/v9/me").want(t, 429)
	if got := r.header.Get("Retry-After"); got != strconv.Itoa(1) {
		t.Errorf("Retry-After = %q", got)
	}
	if r.remaining(t) != 0 {
		t.Errorf("remaining = %d, want 0", r.remaining(t))
	}
	f.clock.Advance(time.Second)
	f.get("/api/v9/me").want(t, 402)
}
