package connectors

import (
	"fmt"
	"net/http"
	"time"
)

// QuotaPolicy tells the engine how a service meters its API and what its refusals mean.
type QuotaPolicy interface {
	// Bucket names the budget a request draws on ("user", "org"); empty means unmetered.
	Bucket(req *http.Request) string
	// Observe reads the quota a response reports for the bucket the request was charged to.
	Observe(resp *http.Response) (Quota, bool)
	// Refusal says what a non-2xx answer means for the connection.
	Refusal(req *http.Request, resp *http.Response) Refusal
}

// Quota is a bucket's state as a service reported it.
type Quota struct {
	Remaining int
	ResetsIn  time.Duration
	// Total is the bucket's size per window, when the service says it (0 otherwise).
	Total int
}

// Refusal is what a failed answer means beyond its request.
type Refusal int

// Refusals.
const (
	// NotRefused: an ordinary answer; retries and errors follow its status.
	NotRefused Refusal = iota
	// QuotaExhausted: the bucket is spent; nothing more may be sent before it resets.
	QuotaExhausted
	// NeedsPlan: the feature needs a plan the account does not have; retrying cannot help.
	NeedsPlan
	// BadCredentials: the service refuses the connection's credentials.
	BadCredentials
)

// QuotaError means a call was not sent because its bucket could not afford it, or was
// refused because the bucket was spent. Whatever needed it waits until Until.
type QuotaError struct {
	Connection, Bucket string
	Until              time.Time
	// Reason says why, in words for the run history.
	Reason string
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("quota: %s %s bucket: %s; resets at %s", e.Connection, e.Bucket, e.Reason,
		e.Until.UTC().Format("15:04:05 UTC"))
}
