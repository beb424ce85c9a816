package httpx

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrBadCredentials means the service refused the connection's credentials: no request is
// sent on the connection any more until it is set up again (a restart or a reload).
var ErrBadCredentials = errors.New("the service refused this connection's credentials; fix them and reload")

// CircuitOpenError means the connection failed too often in a row: requests are not sent
// until Until, so as not to hammer a failing service.
type CircuitOpenError struct {
	Connection string
	Until      time.Time
	Failures   int
}

func (e *CircuitOpenError) Error() string {
	return fmt.Sprintf("httpx: %s failed %d times in a row; not calling it again before %s", e.Connection,
		e.Failures, e.Until.UTC().Format("15:04:05 UTC"))
}

// Breaker settings: after breakerThreshold failed attempts in a row the circuit opens for
// the cool-down, which doubles on every new opening up to breakerMaxCooldown.
const (
	breakerThreshold   = 5
	breakerCooldown    = 30 * time.Second
	breakerMaxCooldown = 10 * time.Minute
)

// Health is a connection's standing, shared by its client and whoever reports on it.
type Health struct {
	mu       sync.Mutex
	failures int
	cooldown time.Duration
	until    time.Time
	// authFailed is set when the service refused the credentials.
	authFailed bool
	authAt     time.Time
	authStatus int
}

// HealthState is a snapshot of Health.
type HealthState struct {
	// Failures counts failed attempts in a row; OpenUntil is set while the circuit is open.
	Failures  int
	OpenUntil time.Time
	// BadCredentials is set once the service refused the credentials, with when and the status.
	BadCredentials bool
	RefusedAt      time.Time
	RefusedStatus  int
}

// State returns a snapshot.
func (h *Health) State(now time.Time) HealthState {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := HealthState{Failures: h.failures, BadCredentials: h.authFailed, RefusedAt: h.authAt, RefusedStatus: h.authStatus}
	if now.Before(h.until) {
		s.OpenUntil = h.until
	}
	return s
}

// allow says whether a request may be sent now.
func (h *Health) allow(conn string, now time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.authFailed {
		return fmt.Errorf("httpx: %s: %w", conn, ErrBadCredentials)
	}
	if now.Before(h.until) {
		return &CircuitOpenError{Connection: conn, Until: h.until, Failures: h.failures}
	}
	return nil
}

// record notes an attempt's outcome: a broken connection or a server error is a failure.
func (h *Health) record(failed bool, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !failed {
		h.failures, h.cooldown = 0, 0
		return
	}
	h.failures++
	if h.failures >= breakerThreshold {
		if h.cooldown == 0 {
			h.cooldown = breakerCooldown
		} else {
			h.cooldown = min(2*h.cooldown, breakerMaxCooldown)
		}
		h.until = now.Add(h.cooldown)
	}
}

// refuseCredentials flags the connection.
func (h *Health) refuseCredentials(status int, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.authFailed, h.authAt, h.authStatus = true, now, status
}
