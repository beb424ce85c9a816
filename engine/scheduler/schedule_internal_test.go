package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

func TestJitterFor(t *testing.T) {
	const maxJitter = 10 * time.Second
	// A name's jitter must not change between releases: it would move every schedule.
	if got, want := jitterFor("toggl-to-jira", maxJitter), 301*time.Millisecond; got != want {
		t.Errorf("jitterFor(toggl-to-jira) = %s, want %s", got, want)
	}
	if a, b := jitterFor("a", maxJitter), jitterFor("b", maxJitter); a == b {
		t.Errorf("a and b share the jitter %s", a)
	}
	seen := map[time.Duration]bool{}
	for i := range 200 {
		name := fmt.Sprintf("workflow-%d", i)
		j := jitterFor(name, maxJitter)
		if j < 0 || j >= maxJitter || j%time.Millisecond != 0 {
			t.Fatalf("jitterFor(%s) = %s, want whole milliseconds in [0, %s)", name, j, maxJitter)
		}
		if j != jitterFor(name, maxJitter) {
			t.Fatalf("jitterFor(%s) changed between calls", name)
		}
		seen[j] = true
	}
	if len(seen) < 150 {
		t.Errorf("200 names got only %d distinct jitters", len(seen))
	}
	for _, m := range []time.Duration{0, -1} {
		if j := jitterFor("toggl-to-jira", m); j != 0 {
			t.Errorf("jitterFor with MaxJitter %s = %s, want 0", m, j)
		}
	}
}

func TestGridNext(t *testing.T) {
	at := func(h, m, s int) time.Time { return time.Date(2030, time.January, 7, h, m, s, 0, time.UTC) }
	tests := []struct {
		name   string
		now    time.Time
		every  time.Duration
		jitter time.Duration
		want   time.Time
	}{
		{"between points", at(10, 7, 0), 15 * time.Minute, 0, at(10, 15, 0)},
		{"on a point: the next one", at(10, 15, 0), 15 * time.Minute, 0, at(10, 30, 0)},
		{"plus jitter", at(10, 7, 0), 15 * time.Minute, 3 * time.Second, at(10, 15, 3)},
		{"past the point, before its jitter", at(10, 15, 2), 15 * time.Minute, 3 * time.Second, at(10, 15, 3)},
		{"on point plus jitter: the next one", at(10, 15, 3), 15 * time.Minute, 3 * time.Second, at(10, 30, 3)},
		{"hourly", at(10, 7, 0), time.Hour, 0, at(11, 0, 0)},
		// The Unix epoch was a Thursday; time.Truncate would count from year 1 (a Monday).
		{"weekly from the Unix epoch", at(10, 7, 0), 7 * 24 * time.Hour, 0, time.Date(2030, time.January, 10, 0, 0, 0, 0, time.UTC)},
		{"zone of now does not matter", at(10, 7, 0).In(time.FixedZone("X", 5*3600+1800)), time.Hour, 0, at(11, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := gridNext(tc.now, tc.every, tc.jitter); !got.Equal(tc.want) {
				t.Errorf("gridNext(%s, %s, %s) = %s, want %s", tc.now, tc.every, tc.jitter, got, tc.want)
			}
		})
	}
}

func TestJitteredCronAcrossDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(mo time.Month, d, h, m, s int) time.Time { return time.Date(2030, mo, d, h, m, s, 0, time.UTC) }
	tests := []struct {
		name   string
		from   time.Time
		jitter time.Duration
		want   []time.Time
	}{
		// Clocks fall back on 27 Oct 2030 (03:00 CEST -> 02:00 CET): 02:30 happens twice,
		// and robfig/cron matches both.
		{"fall back runs once", utc(time.October, 26, 12, 0, 0), 0,
			[]time.Time{utc(time.October, 27, 0, 30, 0), utc(time.October, 28, 1, 30, 0)}},
		{"fall back runs once, with jitter", utc(time.October, 26, 12, 0, 0), 5 * time.Second,
			[]time.Time{utc(time.October, 27, 0, 30, 5), utc(time.October, 28, 1, 30, 5)}},
		// Clocks spring forward on 31 Mar 2030 (02:00 CET -> 03:00 CEST): 02:30 never
		// happens that day, and the run is skipped.
		{"spring forward skips the missing time", utc(time.March, 30, 12, 0, 0), 0,
			[]time.Time{utc(time.April, 1, 0, 30, 0), utc(time.April, 2, 0, 30, 0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := compile(0, Job{Name: "x", Cron: "30 2 * * *", Location: berlin}, -1, tc.from)
			if err != nil {
				t.Fatal(err)
			}
			c := &jitteredCron{sched: p.cron, jitter: tc.jitter}
			last := tc.from
			for i, want := range tc.want {
				got := c.Next(last)
				if !got.Equal(want) {
					t.Fatalf("run %d: Next(%s) = %s (%s), want %s", i+1, last, got, got.In(berlin), want)
				}
				last = got
			}
		})
	}
}

// TestSetLeavesUnchangedJobsAlone checks that Set does not touch an unchanged job in
// gocron. On an aligned grid a job set again would get the same next run, so the test
// looks at what an Update would reset: gocron's record of the last run.
func TestSetLeavesUnchangedJobsAlone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fc := clockwork.NewFakeClockAt(time.Date(2030, time.January, 7, 10, 7, 0, 0, time.UTC))
	ran := make(chan struct{}, 4)
	s, err := New(Options{Clock: fc, Run: func(context.Context, string) { ran <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Shutdown() }()
	if err := s.Set([]Job{{Name: "a", Every: 15 * time.Minute}}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	next, ok := s.Next("a")
	if !ok {
		t.Fatal("Next(a) unknown")
	}
	fc.Advance(next.Sub(fc.Now()))
	select {
	case <-ran:
	case <-ctx.Done():
		t.Fatal("a did not run")
	}
	if err := fc.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	before := s.jobs["a"]
	s.mu.Unlock()
	if last, err := before.gj.LastRunStartedAt(); err != nil || !last.Equal(next) {
		t.Fatalf("LastRun = %s, %v; want %s", last, err, next)
	}

	if err := s.Set([]Job{{Name: "a", Every: 15 * time.Minute}, {Name: "b", Every: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	after := s.jobs["a"]
	s.mu.Unlock()
	if after != before {
		t.Error("Set replaced the entry of an unchanged job")
	}
	if last, err := after.gj.LastRunStartedAt(); err != nil || !last.Equal(next) {
		t.Errorf("after Set, LastRun = %s, %v; want %s (gocron's job was rebuilt)", last, err, next)
	}
}
