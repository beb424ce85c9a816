package jirasim

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func retryAfter(t *testing.T, r response) time.Duration {
	t.Helper()
	n, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil {
		t.Fatalf("Retry-After %q: %v", r.header.Get("Retry-After"), err)
	}
	return time.Duration(n) * time.Second
}

func TestBurstLimit(t *testing.T) {
	e := newEnv(t, Options{BurstRate: 1, BurstSize: 5})
	const path = "/rest/api/3/myself"
	for i := range 5 {
		r := e.must(http.StatusOK, "GET", path, nil)
		if got, want := r.header.Get("X-RateLimit-Remaining"), strconv.Itoa(4-i); got != want {
			t.Errorf("request %d: X-RateLimit-Remaining %q, want %q", i+1, got, want)
		}
		if got := r.header.Get("X-RateLimit-Limit"); got != "5" {
			t.Errorf("X-RateLimit-Limit %q, want 5", got)
		}
	}
	r := e.must(http.StatusTooManyRequests, "GET", path, nil)
	for h, want := range map[string]string{
		"Retry-After":           "1",
		"X-RateLimit-Reset":     "2026-05-04T10:01Z", // 10:00:01 rounded up to the minute
		"X-RateLimit-Limit":     "5",
		"X-RateLimit-Remaining": "0",
		"X-RateLimit-NearLimit": "true",
		"RateLimit-Reason":      ReasonBurst,
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if ec := errorsOf(t, r); ec.Status != http.StatusTooManyRequests || len(ec.ErrorMessages) == 0 {
		t.Errorf("429 body %s", r.body)
	}

	t.Run("other route has its own bucket", func(t *testing.T) {
		e.must(http.StatusOK, "GET", "/rest/api/3/issue/SLU-1", nil)
	})
	t.Run("other method on the same path has its own bucket", func(t *testing.T) {
		e.must(http.StatusOK, "GET", worklogsURL, nil)
		e.must(http.StatusCreated, "POST", worklogsURL, validBody())
	})
	t.Run("other account has its own bucket", func(t *testing.T) {
		e.sim.AddAccount(otherEmail, otherToken, "Grace")
		req := e.request("GET", path, nil)
		req.SetBasicAuth(otherEmail, otherToken)
		if r := e.send(req); r.status != http.StatusOK {
			t.Errorf("status %d, want 200", r.status)
		}
	})

	t.Run("retrying early gets an equal or longer Retry-After", func(t *testing.T) {
		prev := retryAfter(t, r)
		for i := range 7 {
			e.clock.Advance(prev / 2)
			r := e.must(http.StatusTooManyRequests, "GET", path, nil)
			got := retryAfter(t, r)
			if got < prev {
				t.Fatalf("early retry %d: Retry-After %v, shorter than %v", i, got, prev)
			}
			prev = got
		}
		if prev != maxPenalty {
			t.Errorf("Retry-After grew to %v, want it capped at %v", prev, maxPenalty)
		}
		e.clock.Advance(prev - time.Millisecond)
		if r := e.must(http.StatusTooManyRequests, "GET", path, nil); retryAfter(t, r) < prev {
			t.Errorf("a millisecond early: Retry-After %v, want at least %v", retryAfter(t, r), prev)
		}
		prev = retryAfter(t, e.must(http.StatusTooManyRequests, "GET", path, nil))

		t.Run("waiting Retry-After recovers", func(t *testing.T) {
			e.clock.Advance(prev)
			r := e.must(http.StatusOK, "GET", path, nil)
			if r.header.Get("X-RateLimit-Remaining") != "4" {
				t.Errorf("after the wait: remaining %q, want 4 (bucket refilled)", r.header.Get("X-RateLimit-Remaining"))
			}
		})
	})

	st := e.sim.Stats()
	if st.BurstLimited != 10 || st.TooManyRequests != 10 || st.IssueWriteLimited != 0 {
		t.Errorf("stats burst/429/issue = %d/%d/%d, want 10/10/0", st.BurstLimited, st.TooManyRequests, st.IssueWriteLimited)
	}
}

func TestBurstRetryAfterFollowsRate(t *testing.T) {
	e := newEnv(t, Options{BurstRate: 0.25, BurstSize: 1})
	e.must(http.StatusOK, "GET", "/rest/api/3/myself", nil)
	r := e.must(http.StatusTooManyRequests, "GET", "/rest/api/3/myself", nil)
	if got := retryAfter(t, r); got != 4*time.Second {
		t.Errorf("Retry-After %v at 0.25/s, want 4s", got)
	}
	e.clock.Advance(3999 * time.Millisecond)
	e.must(http.StatusTooManyRequests, "GET", "/rest/api/3/myself", nil)
	// The early retry doubled the block to 8 s from 3.999 s.
	e.clock.Advance(8 * time.Second)
	e.must(http.StatusOK, "GET", "/rest/api/3/myself", nil)
}

func TestBurstDefaults(t *testing.T) {
	clock := newFakeClock()
	sim := New(Options{Clock: clock})
	if sim.burst != (limit{rate: 10, size: 20}) || sim.write != (limit{rate: 5, size: 10}) {
		t.Fatalf("default limits %+v %+v", sim.burst, sim.write)
	}
	e := newEnv(t, Options{BurstRate: DefaultBurstRate})
	for range DefaultBurstSize {
		e.must(http.StatusOK, "GET", "/rest/api/3/myself", nil)
	}
	e.must(http.StatusTooManyRequests, "GET", "/rest/api/3/myself", nil)
	e.clock.Advance(100 * time.Millisecond) // one token at 10/s, but the block lasts 1 s
	e.must(http.StatusTooManyRequests, "GET", "/rest/api/3/myself", nil)
}

func TestNearLimit(t *testing.T) {
	e := newEnv(t, Options{BurstRate: 1, BurstSize: 10})
	for i := 1; i <= 10; i++ {
		r := e.must(http.StatusOK, "GET", "/rest/api/3/myself", nil)
		remaining := 10 - i
		want := remaining < 2 // under 20 % of 10
		if got := r.header.Get("X-RateLimit-NearLimit") == "true"; got != want {
			t.Errorf("request %d (remaining %d): NearLimit %v, want %v", i, remaining, got, want)
		}
	}
	e.clock.Advance(5 * time.Second)
	if r := e.must(http.StatusOK, "GET", "/rest/api/3/myself", nil); r.header.Get("X-RateLimit-NearLimit") != "" {
		t.Errorf("NearLimit %q after refilling", r.header.Get("X-RateLimit-NearLimit"))
	}
}

func TestLimitersOff(t *testing.T) {
	e := newEnv(t, Options{BurstRate: -1, IssueWriteRate: -1})
	for range 50 {
		r := e.must(http.StatusCreated, "POST", worklogsURL, validBody())
		if r.header.Get("X-RateLimit-Limit") != "" || r.header.Get("X-RateLimit-NearLimit") != "" {
			t.Fatalf("quota headers with limiters off: %v", r.header)
		}
	}
}

func TestIssueWriteLimit(t *testing.T) {
	e := newEnv(t, Options{IssueWriteRate: 1, IssueWriteBurst: 3})
	for range 3 {
		e.must(http.StatusCreated, "POST", worklogsURL, validBody())
	}
	r := e.must(http.StatusTooManyRequests, "POST", worklogsURL, validBody())
	for h, want := range map[string]string{
		"RateLimit-Reason":      ReasonPerIssueWrite,
		"Retry-After":           "1",
		"X-RateLimit-Limit":     "3",
		"X-RateLimit-Remaining": "0",
		"X-RateLimit-Reset":     "2026-05-04T10:01Z",
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if n := len(e.sim.Worklogs("SLU-1")); n != 3 {
		t.Errorf("%d worklogs, want 3 (the refused one not applied)", n)
	}
	ws := e.sim.Worklogs("SLU-1")

	t.Run("other writes to the issue are limited too", func(t *testing.T) {
		e.must(http.StatusTooManyRequests, "PUT", worklogsURL+"/"+ws[0].ID, map[string]any{"timeSpent": "1h"})
		e.must(http.StatusTooManyRequests, "DELETE", worklogsURL+"/"+ws[0].ID, nil)
		e.must(http.StatusTooManyRequests, "PUT", worklogsURL+"/"+ws[0].ID+"/properties/k", `1`)
		if got := e.sim.Worklogs("SLU-1")[0]; got.TimeSpentSeconds != 5400 || len(got.Properties) != 0 {
			t.Errorf("refused writes applied: %+v", got)
		}
	})
	t.Run("reads are not", func(t *testing.T) {
		e.must(http.StatusOK, "GET", worklogsURL, nil)
		e.must(http.StatusOK, "GET", worklogsURL+"/"+ws[0].ID, nil)
	})
	t.Run("other issues are not", func(t *testing.T) {
		e.must(http.StatusCreated, "POST", "/rest/api/3/issue/SLU-2/worklog", validBody())
	})
	t.Run("by id counts as the same issue", func(t *testing.T) {
		e.must(http.StatusTooManyRequests, "POST", "/rest/api/3/issue/"+e.issueID+"/worklog", validBody())
	})
	t.Run("waiting recovers", func(t *testing.T) {
		// The early retries above doubled the block each time; wait out the last one.
		wait := retryAfter(t, e.must(http.StatusTooManyRequests, "POST", worklogsURL, validBody()))
		e.clock.Advance(wait)
		r := e.must(http.StatusCreated, "POST", worklogsURL, validBody())
		if r.header.Get("RateLimit-Reason") != "" {
			t.Errorf("RateLimit-Reason on a success: %q", r.header.Get("RateLimit-Reason"))
		}
	})
	t.Run("near limit on writes", func(t *testing.T) {
		e := newEnv(t, Options{IssueWriteRate: 1, IssueWriteBurst: 5})
		for i := 1; i <= 5; i++ {
			r := e.must(http.StatusCreated, "POST", worklogsURL, validBody())
			want := 5-i < 1
			if got := r.header.Get("X-RateLimit-NearLimit") == "true"; got != want {
				t.Errorf("write %d: NearLimit %v, want %v", i, got, want)
			}
		}
	})

	st := e.sim.Stats()
	if st.IssueWriteLimited != 6 || st.BurstLimited != 0 {
		t.Errorf("stats issue/burst = %d/%d, want 6/0", st.IssueWriteLimited, st.BurstLimited)
	}
}

func TestBucket(t *testing.T) {
	l := limit{rate: 2, size: 2}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newBucket(l, t0)
	steps := []struct {
		at   time.Duration
		want time.Duration
	}{
		{0, 0},
		{0, 0},
		{0, time.Second}, // empty: half a second to earn a token, rounded up to 1 s
		{500 * time.Millisecond, 2 * time.Second}, // early: doubled
		{2500 * time.Millisecond, 0},              // waited out
		{2500 * time.Millisecond, 0},              // the bucket refilled meanwhile
		{2500 * time.Millisecond, time.Second},
	}
	for i, st := range steps {
		if got := b.take(l, t0.Add(st.at)); got != st.want {
			t.Errorf("step %d at %v: wait %v, want %v", i, st.at, got, st.want)
		}
	}
}

func TestFormatReset(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC), "2026-05-04T10:00Z"},
		{time.Date(2026, 5, 4, 10, 0, 0, 1, time.UTC), "2026-05-04T10:01Z"},
		{time.Date(2026, 5, 4, 23, 59, 30, 0, time.UTC), "2026-05-05T00:00Z"},
		{time.Date(2026, 5, 4, 12, 0, 30, 0, time.FixedZone("", 2*3600)), "2026-05-04T10:01Z"},
	}
	for _, tc := range tests {
		if got := formatReset(tc.in); got != tc.want {
			t.Errorf("formatReset(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
