package jirasim

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// Reasons given in the RateLimit-Reason header of a 429.
const (
	ReasonBurst         = "jira-burst-based"
	ReasonPerIssueWrite = "jira-per-issue-on-write"
)

// maxPenalty caps how far retrying too early can push Retry-After.
const maxPenalty = time.Minute

// limit is a token-bucket rate: rate tokens a second, at most size stored.
type limit struct {
	rate float64
	size int
}

func (l limit) enabled() bool { return l.rate > 0 }

// bucket is one limiter's state. A request that finds the bucket empty is refused and the
// bucket is blocked for the whole seconds it would take to earn one token. A request that comes
// while the bucket is blocked is refused again and the block restarts at twice its length
// (at most maxPenalty, never shorter than before), so Retry-After never shrinks for an early
// retry.
type bucket struct {
	tokens       float64
	last         time.Time
	blockedUntil time.Time
	wait         time.Duration
}

func newBucket(l limit, now time.Time) *bucket {
	return &bucket{tokens: float64(l.size), last: now}
}

// take spends one token at now. It returns 0 when the request may go on, or how long the
// caller must wait.
func (b *bucket) take(l limit, now time.Time) time.Duration {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(float64(l.size), b.tokens+el*l.rate)
		b.last = now
	}
	if now.Before(b.blockedUntil) {
		w := min(2*b.wait, max(maxPenalty, b.wait))
		b.wait = w
		b.blockedUntil = now.Add(w)
		return w
	}
	const eps = 1e-9
	if b.tokens >= 1-eps {
		b.tokens = math.Max(0, b.tokens-1)
		return 0
	}
	need := (1 - b.tokens) / l.rate
	w := time.Duration(math.Ceil(need-eps)) * time.Second
	if w < time.Second {
		w = time.Second
	}
	b.wait = w
	b.blockedUntil = now.Add(w)
	return w
}

// remaining is the number of whole tokens left.
func (b *bucket) remaining() int { return int(math.Floor(b.tokens + 1e-9)) }

// nearLimit reports whether less than 20 % of the bucket is left.
func (b *bucket) nearLimit(l limit) bool {
	return float64(b.remaining()) < 0.2*float64(l.size)
}

// setQuotaHeaders writes X-RateLimit-Limit, X-RateLimit-Remaining and, under 20 % left,
// X-RateLimit-NearLimit.
func setQuotaHeaders(h http.Header, l limit, b *bucket) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(l.size))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(b.remaining()))
	if b.nearLimit(l) {
		h.Set("X-RateLimit-NearLimit", "true")
	}
}

// tooManyRequests builds the 429 for a limiter that asked for wait.
func tooManyRequests(now time.Time, wait time.Duration, reason string, l limit, b *bucket) *reply {
	r := errorReply(http.StatusTooManyRequests, []string{"Rate limit exceeded."}, nil)
	r.reason = reason
	h := r.header
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	h.Set("X-RateLimit-Reset", formatReset(now.Add(wait)))
	h.Set("RateLimit-Reason", reason)
	setQuotaHeaders(h, l, b)
	return r
}

// formatReset renders t as yyyy-MM-ddTHH:mmZ in UTC, rounded up to the minute so the header
// never names a time before the limit actually resets.
func formatReset(t time.Time) string {
	t = t.UTC()
	if m := t.Truncate(time.Minute); !m.Equal(t) {
		t = m.Add(time.Minute)
	}
	return t.Format("2006-01-02T15:04Z")
}
