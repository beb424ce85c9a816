package scheduler

import "errors"

var (
	// ErrInvalidJob wraps each problem Set finds with a job: no name, a name given twice,
	// neither or both of Every and Cron, an interval that is not positive, a cron
	// expression that does not parse or never fires.
	ErrInvalidJob = errors.New("scheduler: invalid job")
	// ErrClosed is returned by Set once Shutdown has begun.
	ErrClosed = errors.New("scheduler: shut down")
	// ErrStopTimeout is returned by Shutdown when jobs were still running after
	// StopTimeout and had their contexts cancelled.
	ErrStopTimeout = errors.New("scheduler: jobs still running after the stop timeout")
)
