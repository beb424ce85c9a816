package togglsim

import "errors"

// Sentinel errors returned by the Go-side seeding and editing methods. HTTP clients never see
// them: they get Toggl's status codes and string bodies instead.
var (
	// ErrNotFound means no live entry has the given id (it never existed or was deleted).
	ErrNotFound = errors.New("time entry not found")
	// ErrAlreadyStopped means StopEntry was called on an entry that is not running.
	ErrAlreadyStopped = errors.New("time entry already stopped")
	// ErrInvalidEntry means an UpdateEntry edit left the entry inconsistent (stop before
	// start, unknown workspace, project or task); the edit is discarded.
	ErrInvalidEntry = errors.New("invalid time entry")
)
