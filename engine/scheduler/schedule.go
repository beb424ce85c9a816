package scheduler

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/robfig/cron/v3"
)

// jitterFor is the fixed offset of the job called name: a hash of the name taken into
// [0, maxJitter), at millisecond resolution. It is zero when maxJitter is not positive.
func jitterFor(name string, maxJitter time.Duration) time.Duration {
	if maxJitter <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(name)) // never fails
	return time.Duration(h.Sum64() % uint64(maxJitter)).Truncate(time.Millisecond)
}

// gridNext is the first time after now of the form k*every + jitter, k counted from the
// Unix epoch. The grid does not depend on the time zone.
func gridNext(now time.Time, every, jitter time.Duration) time.Time {
	k := now.Add(-jitter).UnixNano() / int64(every)
	return time.Unix(0, (k+1)*int64(every)).Add(jitter).UTC()
}

// plan is a validated Job, ready to hand to gocron.
type plan struct {
	job    Job
	jitter time.Duration
	// key names the schedule: two plans with equal keys fire at the same times.
	key string
	// cron is set for cron jobs.
	cron cron.Schedule
}

// compile checks one job, set at now, and works out its jitter. i is the job's index, for
// a job without a name.
func compile(i int, j Job, maxJitter time.Duration, now time.Time) (*plan, error) {
	switch {
	case j.Name == "":
		return nil, fmt.Errorf("%w #%d: no name", ErrInvalidJob, i+1)
	case j.Every != 0 && j.Cron != "":
		return nil, fmt.Errorf("%w %q: both every and cron are set", ErrInvalidJob, j.Name)
	case j.Every < 0:
		return nil, fmt.Errorf("%w %q: every is %s, not positive", ErrInvalidJob, j.Name, j.Every)
	case j.Every > 0:
		return &plan{job: j, jitter: jitterFor(j.Name, maxJitter), key: "every " + j.Every.String()}, nil
	case j.Cron == "":
		return nil, fmt.Errorf("%w %q: neither every nor cron is set", ErrInvalidJob, j.Name)
	}
	sched, err := cron.ParseStandard(j.Cron)
	if err != nil {
		return nil, fmt.Errorf("%w %q: cron %q: %w", ErrInvalidJob, j.Name, j.Cron, err)
	}
	loc := j.Location
	if loc == nil {
		loc = time.UTC
	}
	// A TZ= or CRON_TZ= prefix in the expression wins over Location.
	spec, ok := sched.(*cron.SpecSchedule)
	if ok && !strings.HasPrefix(j.Cron, "TZ=") && !strings.HasPrefix(j.Cron, "CRON_TZ=") {
		spec.Location = loc
	}
	// robfig/cron gives up after five years without a match (such as "0 0 30 2 *").
	if sched.Next(now).IsZero() {
		return nil, fmt.Errorf("%w %q: cron %q never fires", ErrInvalidJob, j.Name, j.Cron)
	}
	return &plan{
		job:    j,
		jitter: jitterFor(j.Name, maxJitter),
		key:    "cron " + j.Cron + " in " + loc.String(),
		cron:   sched,
	}, nil
}

// definition is the gocron form of the plan, for a job set at now.
func (p *plan) definition(now time.Time) (gocron.JobDefinition, []gocron.JobOption) {
	if p.cron == nil {
		// A past start is moved along the grid by gocron, which keeps the alignment
		// when the scheduler is started later than the job was set.
		start := gridNext(now, p.job.Every, p.jitter)
		return gocron.DurationJob(p.job.Every), []gocron.JobOption{gocron.WithStartAt(gocron.WithStartDateTimePast(start))}
	}
	c := &jitteredCron{sched: p.cron, jitter: p.jitter}
	return gocron.CronJob(p.job.Cron, false), []gocron.JobOption{gocron.WithCronImplementation(c)}
}

// jitteredCron is a gocron.Cron: a parsed robfig/cron schedule, each time moved by the
// job's jitter. It is immutable, so gocron may call it from any goroutine.
type jitteredCron struct {
	sched  cron.Schedule
	jitter time.Duration
}

var _ gocron.Cron = (*jitteredCron)(nil)

// IsValid accepts the expression: compile has parsed and checked it already.
func (c *jitteredCron) IsValid(string, *time.Location, time.Time) error { return nil }

// Next is the first firing after last. last is a firing (jitter included) or the time
// the job was scheduled from.
//
// When clocks fall back, robfig/cron can match the same wall time twice (02:30 CEST,
// then 02:30 CET); the second is skipped. gocron makes the same check, but compares
// wall times in whatever zones it is given, so the result is returned in UTC, where
// its check never matches.
func (c *jitteredCron) Next(last time.Time) time.Time {
	from := last.Add(-c.jitter)
	if spec, ok := c.sched.(*cron.SpecSchedule); ok {
		from = from.In(spec.Location)
	}
	next := c.sched.Next(from)
	if next.IsZero() {
		return next
	}
	if sameWall(from, next) {
		if next = c.sched.Next(next); next.IsZero() {
			return next
		}
	}
	return next.Add(c.jitter).UTC()
}

// sameWall reports whether a and b show the same date and time to the second.
func sameWall(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	ah, amin, as := a.Clock()
	bh, bmin, bs := b.Clock()
	return ay == by && am == bm && ad == bd && ah == bh && amin == bmin && as == bs
}
