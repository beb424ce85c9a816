package connectors

import (
	"errors"
	"fmt"
	"time"
)

// ErrNotFound means the remote object does not exist (any more).
var ErrNotFound = errors.New("not found")

// RejectedError means the service refused one record: retrying it unchanged will not help,
// and the run goes on with the next record.
type RejectedError struct {
	// Status is the HTTP status the service answered, when there was one.
	Status int
	Reason string
}

func (e *RejectedError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("rejected (HTTP %d): %s", e.Status, e.Reason)
	}
	return "rejected: " + e.Reason
}

// Rejected returns a *RejectedError.
func Rejected(status int, format string, args ...any) error {
	return &RejectedError{Status: status, Reason: fmt.Sprintf(format, args...)}
}

// RetryAfterError means the service asked to be called again after Wait.
type RetryAfterError struct{ Wait time.Duration }

func (e *RetryAfterError) Error() string { return fmt.Sprintf("asked to retry after %s", e.Wait) }
