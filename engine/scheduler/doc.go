// Package scheduler runs each workflow on its schedule. It owns the set of scheduled
// jobs and when each fires; it is the only package that imports gocron, and it imports
// nothing from sluice. The clock and the logger are injected.
//
// The flow: the caller builds a Scheduler with New, gives it the jobs with Set (before
// or after Start), and calls Set again whenever the enabled workflows or their schedules
// change. Set checks all the jobs first, then adds, updates and removes gocron jobs so
// that the schedule is exactly the jobs given. gocron arms one timer per job on the
// clock; when it fires, the job runs Options.Run with a context of its own, unless its
// previous run is still busy, in which case the tick is skipped. Shutdown stops the
// timers at once, waits up to StopTimeout for runs in progress, then cancels them.
//
// Every job is shifted by a jitter fixed by its name, in [0, MaxJitter), so that jobs
// sharing an API token do not fire in the same second. An interval job runs at
// multiples of its interval counted from the Unix epoch, plus the jitter; a cron job at
// its cron times in its time zone, plus the jitter.
//
// "Run now" and switching a workflow on or off belong to the caller, which holds a lock
// per workflow and calls Set. See README.md for the flow drawn out.
package scheduler
