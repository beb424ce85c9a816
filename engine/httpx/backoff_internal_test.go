package httpx

import (
	"testing"
	"time"
)

// TestBackoffFullJitter checks the backoff before each retry: a random wait in
// (0, BackoffBase·2ⁿ], capped at 30 s, spread over the whole range.
func TestBackoffFullJitter(t *testing.T) {
	tests := []struct {
		base    time.Duration
		attempt int
		ceiling time.Duration
	}{
		{time.Second, 0, time.Second},
		{time.Second, 1, 2 * time.Second},
		{time.Second, 2, 4 * time.Second},
		{time.Second, 4, 16 * time.Second},
		{time.Second, 5, 30 * time.Second},
		{time.Second, 100, 30 * time.Second},
		{100 * time.Millisecond, 3, 800 * time.Millisecond},
		{time.Hour, 16, 30 * time.Second},
	}
	const samples = 2000
	for _, tc := range tests {
		tr := &transport{o: Options{BackoffBase: tc.base}}
		lo, hi := tc.ceiling, time.Duration(0)
		for range samples {
			d := tr.backoff(tc.attempt)
			if d <= 0 || d > tc.ceiling {
				t.Fatalf("base %s attempt %d: backoff %s, want in (0, %s]", tc.base, tc.attempt, d, tc.ceiling)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		// Full jitter spreads the waits over the whole range; (3/4)^2000 makes a miss impossible.
		if lo > tc.ceiling/4 || hi < tc.ceiling*3/4 {
			t.Errorf("base %s attempt %d: %d backoffs within [%s, %s], want them spread over (0, %s]",
				tc.base, tc.attempt, samples, lo, hi, tc.ceiling)
		}
	}
}
