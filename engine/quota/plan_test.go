package quota_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine/quota"
)

// every returns n demands on k named prefix1…prefixN, each polling every d for one call.
func every(n int, prefix, share string, k quota.Key, d time.Duration, p quota.Priority) []quota.Demand {
	out := make([]quota.Demand, n)
	for i := range out {
		out[i] = quota.Demand{Workflow: fmt.Sprintf("%s%d", prefix, i+1), Key: k, Share: share,
			CallsPerPoll: 1, Every: d, Priority: p}
	}
	return out
}

func join(ds ...[]quota.Demand) []quota.Demand {
	var out []quota.Demand
	for _, d := range ds {
		out = append(out, d...)
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// wantWorkflow is what a test expects of one workflow's plan.
type wantWorkflow struct {
	effective    time.Duration
	callsPerHour float64
	warned       bool
}

func checkPlan(t *testing.T, plan quota.Plan, wantBucket quota.BucketPlan, want map[string]wantWorkflow) {
	t.Helper()
	if len(plan.Buckets) != 1 {
		t.Fatalf("%d bucket plans, want 1: %+v", len(plan.Buckets), plan.Buckets)
	}
	bp := plan.Buckets[0]
	if bp.Key != wantBucket.Key || bp.Total != wantBucket.Total || bp.Reserve != wantBucket.Reserve ||
		bp.Tick != wantBucket.Tick || !near(bp.External, wantBucket.External) || !near(bp.Available, wantBucket.Available) ||
		!near(bp.Expected, wantBucket.Expected) || !near(bp.Headroom, wantBucket.Headroom) {
		t.Errorf("bucket plan\n got %+v\nwant %+v", bp, wantBucket)
	}
	if len(plan.Workflows) != len(want) {
		t.Errorf("%d workflow plans, want %d", len(plan.Workflows), len(want))
	}
	for _, wp := range plan.Workflows {
		w, ok := want[wp.Workflow]
		if !ok {
			t.Errorf("unexpected workflow plan %+v", wp)
			continue
		}
		if wp.Key != wantBucket.Key || wp.Effective != w.effective || !near(wp.CallsPerHour, w.callsPerHour) ||
			(wp.Warning != "") != w.warned {
			t.Errorf("workflow %s: every %s, %g calls/h, warning %q; want every %s, %g calls/h, warned %v",
				wp.Workflow, wp.Effective, wp.CallsPerHour, wp.Warning, w.effective, w.callsPerHour, w.warned)
		}
	}
}

// TestPlanCost: what a bucket's demands cost per hour when they fit: intervals rounded up to
// the bucket's tick, one call per tick for each share group, and cron schedules at their rate.
func TestPlanCost(t *testing.T) {
	k := quota.Key{Connection: "toggl-main", Bucket: "user"}
	supply := map[quota.Key]quota.Supply{k: {Total: 240}}
	all := func(ds []quota.Demand, w wantWorkflow) map[string]wantWorkflow {
		m := map[string]wantWorkflow{}
		for _, d := range ds {
			m[d.Workflow] = w
		}
		return m
	}
	twelve := every(12, "wf", "me/time_entries", k, 5*time.Minute, quota.Normal)
	for _, tc := range []struct {
		name      string
		demands   []quota.Demand
		tick      time.Duration
		expected  float64
		workflows map[string]wantWorkflow
	}{
		{
			name: "12 workflows sharing one read every 5m cost 12 calls", demands: twelve,
			tick: 5 * time.Minute, expected: 12, workflows: all(twelve, wantWorkflow{5 * time.Minute, 12, false}),
		},
		{
			name:    "12 workflows every 5m, each on its own, cost 144",
			demands: every(12, "wf", "", k, 5*time.Minute, quota.Normal),
			tick:    5 * time.Minute, expected: 144,
			workflows: all(every(12, "wf", "", k, 5*time.Minute, quota.Normal), wantWorkflow{5 * time.Minute, 12, false}),
		},
		{
			name:    "5m and 15m sharing one grid",
			demands: join(every(1, "fast", "me", k, 5*time.Minute, quota.Normal), every(1, "slow", "me", k, 15*time.Minute, quota.Normal)),
			tick:    5 * time.Minute, expected: 12,
			workflows: map[string]wantWorkflow{"fast1": {5 * time.Minute, 12, false}, "slow1": {15 * time.Minute, 4, false}},
		},
		{
			name:    "5m and 15m unshared add up",
			demands: join(every(1, "fast", "", k, 5*time.Minute, quota.Normal), every(1, "slow", "", k, 15*time.Minute, quota.Normal)),
			tick:    5 * time.Minute, expected: 16,
			workflows: map[string]wantWorkflow{"fast1": {5 * time.Minute, 12, false}, "slow1": {15 * time.Minute, 4, false}},
		},
		{
			name:    "7m rounds up to 10m on the 5m grid and shares its ticks",
			demands: join(every(1, "five", "me", k, 5*time.Minute, quota.Normal), every(1, "seven", "me", k, 7*time.Minute, quota.Normal)),
			tick:    5 * time.Minute, expected: 12,
			workflows: map[string]wantWorkflow{"five1": {5 * time.Minute, 12, false}, "seven1": {10 * time.Minute, 6, false}},
		},
		{
			name: "two share groups and a loner",
			demands: join(every(3, "a", "me", k, 5*time.Minute, quota.Normal), every(2, "b", "reports", k, 10*time.Minute, quota.Normal),
				every(1, "c", "", k, 20*time.Minute, quota.Normal)),
			tick: 5 * time.Minute, expected: 12 + 6 + 3,
			workflows: map[string]wantWorkflow{"a1": {5 * time.Minute, 12, false}, "a2": {5 * time.Minute, 12, false},
				"a3": {5 * time.Minute, 12, false}, "b1": {10 * time.Minute, 6, false}, "b2": {10 * time.Minute, 6, false},
				"c1": {20 * time.Minute, 3, false}},
		},
		{
			name: "a shared tick costs its dearest poll",
			demands: []quota.Demand{
				{Workflow: "cheap", Key: k, Share: "me", CallsPerPoll: 1, Every: 5 * time.Minute},
				{Workflow: "dear", Key: k, Share: "me", CallsPerPoll: 3, Every: 15 * time.Minute},
			},
			tick: 5 * time.Minute, expected: 4 * (3 + 1 + 1),
			workflows: map[string]wantWorkflow{"cheap": {5 * time.Minute, 12, false}, "dear": {15 * time.Minute, 12, false}},
		},
		{
			name: "cron schedules cost their rate",
			demands: []quota.Demand{
				{Workflow: "nightly", Key: k, CallsPerPoll: 3, CronPerHour: 2},
				{Workflow: "poll", Key: k, CallsPerPoll: 1, Every: 10 * time.Minute},
			},
			tick: 10 * time.Minute, expected: 6 + 6,
			workflows: map[string]wantWorkflow{"nightly": {0, 6, false}, "poll": {10 * time.Minute, 6, false}},
		},
		{
			name:     "cron only: no tick",
			demands:  []quota.Demand{{Workflow: "hourly", Key: k, CallsPerPoll: 2, CronPerHour: 1, Share: "me"}},
			expected: 2, workflows: map[string]wantWorkflow{"hourly": {0, 2, false}},
		},
		{
			name:    "fractional calls per poll",
			demands: []quota.Demand{{Workflow: "reports", Key: k, CallsPerPoll: 1.5, Every: 10 * time.Minute}},
			tick:    10 * time.Minute, expected: 9,
			workflows: map[string]wantWorkflow{"reports": {10 * time.Minute, 9, false}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := quota.MakePlan(tc.demands, supply, 0.1)
			checkPlan(t, plan, quota.BucketPlan{Key: k, Total: 240, Reserve: 24, Available: 216, Expected: tc.expected,
				Headroom: 216 - tc.expected, Tick: tc.tick}, tc.workflows)
		})
	}
}

// TestPlanStretch: over what a bucket can give, low-priority intervals are stretched first,
// then normal, then high, each by whole multiples, and each stretched workflow is warned.
func TestPlanStretch(t *testing.T) {
	k := quota.Key{Connection: "toggl-main", Bucket: "org"}
	five := 5 * time.Minute
	three := join(every(1, "high", "", k, five, quota.High), every(1, "normal", "", k, five, quota.Normal),
		every(1, "low", "", k, five, quota.Low))
	for _, tc := range []struct {
		name      string
		demands   []quota.Demand
		supply    quota.Supply
		reserve   float64
		bucket    quota.BucketPlan
		workflows map[string]wantWorkflow
	}{
		{
			name: "fits: nothing stretched", demands: three, supply: quota.Supply{Total: 240}, reserve: 0.1,
			bucket:    quota.BucketPlan{Total: 240, Reserve: 24, Available: 216, Expected: 36, Headroom: 180},
			workflows: map[string]wantWorkflow{"high1": {five, 12, false}, "normal1": {five, 12, false}, "low1": {five, 12, false}},
		},
		{
			name: "low first", demands: three, supply: quota.Supply{Total: 30}, reserve: 0.1,
			bucket:    quota.BucketPlan{Total: 30, Reserve: 3, Available: 27, Expected: 27, Headroom: 0},
			workflows: map[string]wantWorkflow{"high1": {five, 12, false}, "normal1": {five, 12, false}, "low1": {4 * five, 3, true}},
		},
		{
			name: "then normal, once low is at its limit", demands: three, supply: quota.Supply{Total: 30, External: 10}, reserve: 0.1,
			bucket:    quota.BucketPlan{Total: 30, Reserve: 3, External: 10, Available: 17, Expected: 17, Headroom: 0},
			workflows: map[string]wantWorkflow{"high1": {five, 12, false}, "normal1": {3 * five, 4, true}, "low1": {12 * five, 1, true}},
		},
		{
			name: "then high", demands: three, supply: quota.Supply{Total: 30, External: 22}, reserve: 0.1,
			bucket:    quota.BucketPlan{Total: 30, Reserve: 3, External: 22, Available: 5, Expected: 5, Headroom: 0},
			workflows: map[string]wantWorkflow{"high1": {4 * five, 3, true}, "normal1": {12 * five, 1, true}, "low1": {12 * five, 1, true}},
		},
		{
			name: "cannot fit at the limit: everyone warned", demands: three, supply: quota.Supply{Total: 30, External: 27}, reserve: 0.1,
			bucket:    quota.BucketPlan{Total: 30, Reserve: 3, External: 27, Available: 0, Expected: 3, Headroom: -3},
			workflows: map[string]wantWorkflow{"high1": {12 * five, 1, true}, "normal1": {12 * five, 1, true}, "low1": {12 * five, 1, true}},
		},
		{
			name: "unknown total: nothing stretched", demands: three, supply: quota.Supply{}, reserve: 0.1,
			bucket:    quota.BucketPlan{Expected: 36},
			workflows: map[string]wantWorkflow{"high1": {five, 12, false}, "normal1": {five, 12, false}, "low1": {five, 12, false}},
		},
		{
			name: "a larger reserve", demands: three, supply: quota.Supply{Total: 30}, reserve: 0.2,
			bucket:    quota.BucketPlan{Total: 30, Reserve: 6, Available: 24, Expected: 19, Headroom: 5},
			workflows: map[string]wantWorkflow{"high1": {five, 12, false}, "normal1": {2 * five, 6, true}, "low1": {12 * five, 1, true}},
		},
		{
			name: "the reserve rounds up", demands: every(1, "a", "", k, five, quota.Normal), supply: quota.Supply{Total: 25}, reserve: 0.1,
			bucket:    quota.BucketPlan{Total: 25, Reserve: 3, Available: 22, Expected: 12, Headroom: 10},
			workflows: map[string]wantWorkflow{"a1": {five, 12, false}},
		},
		{
			name:    "a share group is stretched together",
			demands: every(12, "wf", "me", k, five, quota.Normal), supply: quota.Supply{Total: 30, External: 20}, reserve: 0.1,
			bucket: quota.BucketPlan{Total: 30, Reserve: 3, External: 20, Available: 7, Expected: 6, Headroom: 1},
			workflows: func() map[string]wantWorkflow {
				m := map[string]wantWorkflow{}
				for i := range 12 {
					m[fmt.Sprintf("wf%d", i+1)] = wantWorkflow{2 * five, 6, true}
				}
				return m
			}(),
		},
		{
			name:    "rounding up to the tick is no stretch",
			demands: join(every(1, "a", "", k, five, quota.Normal), every(1, "b", "", k, 7*time.Minute, quota.Low)),
			supply:  quota.Supply{Total: 30}, reserve: 0.1,
			bucket:    quota.BucketPlan{Total: 30, Reserve: 3, Available: 27, Expected: 18, Headroom: 9},
			workflows: map[string]wantWorkflow{"a1": {five, 12, false}, "b1": {2 * five, 6, false}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.bucket.Key, tc.bucket.Tick = k, five
			checkPlan(t, quota.MakePlan(tc.demands, map[quota.Key]quota.Supply{k: tc.supply}, tc.reserve), tc.bucket, tc.workflows)
		})
	}
}

// TestPlanCronOverBudget: a cron schedule cannot be stretched; when the bucket cannot afford
// it, every workflow of the bucket is warned, the cron one included.
func TestPlanCronOverBudget(t *testing.T) {
	k := quota.Key{Connection: "toggl-main", Bucket: "user"}
	demands := []quota.Demand{
		{Workflow: "minutely", Key: k, CallsPerPoll: 1, CronPerHour: 60},
		{Workflow: "poll", Key: k, CallsPerPoll: 1, Every: 5 * time.Minute, Priority: quota.High},
	}
	checkPlan(t, quota.MakePlan(demands, map[quota.Key]quota.Supply{k: {Total: 30}}, 0.1),
		quota.BucketPlan{Key: k, Total: 30, Reserve: 3, Available: 27, Expected: 61, Headroom: -34, Tick: 5 * time.Minute},
		map[string]wantWorkflow{"minutely": {0, 60, true}, "poll": {time.Hour, 1, true}})
	// Alone, the cron workflow fits and is not warned.
	checkPlan(t, quota.MakePlan(demands[:1], map[quota.Key]quota.Supply{k: {Total: 240}}, 0.1),
		quota.BucketPlan{Key: k, Total: 240, Reserve: 24, Available: 216, Expected: 60, Headroom: 156},
		map[string]wantWorkflow{"minutely": {0, 60, false}})
}

// TestPlanBuckets: each bucket is planned on its own, in order of connection and bucket.
func TestPlanBuckets(t *testing.T) {
	user := quota.Key{Connection: "toggl-b", Bucket: "user"}
	org := quota.Key{Connection: "toggl-b", Bucket: "org"}
	jira := quota.Key{Connection: "jira", Bucket: "api"}
	demands := join(every(2, "u", "me", user, 10*time.Minute, quota.Normal), every(1, "o", "", org, time.Hour, quota.Low),
		every(1, "j", "", jira, 15*time.Minute, quota.High))
	plan := quota.MakePlan(demands, map[quota.Key]quota.Supply{user: {Total: 30}, org: {Total: 600}}, 0.1)
	var keys []quota.Key
	for _, bp := range plan.Buckets {
		keys = append(keys, bp.Key)
	}
	if fmt.Sprint(keys) != fmt.Sprint([]quota.Key{jira, org, user}) {
		t.Errorf("buckets planned in order %v, want jira, org, user", keys)
	}
	want := map[quota.Key][2]float64{jira: {4, 0}, org: {1, 540}, user: {6, 27}}
	for _, bp := range plan.Buckets {
		if w := want[bp.Key]; !near(bp.Expected, w[0]) || !near(bp.Available, w[1]) {
			t.Errorf("bucket %v: expected %g of %g available; want %g of %g", bp.Key, bp.Expected, bp.Available, w[0], w[1])
		}
	}
}

// TestNext: polls fall on multiples of their interval counted from the Unix epoch, so that
// intervals on one grid coincide whatever the time zone.
func TestNext(t *testing.T) {
	utc := func(h, m, s, ns int) time.Time { return time.Date(2030, time.January, 7, h, m, s, ns, time.UTC) }
	kathmandu := time.FixedZone("NPT", 5*3600+45*60)
	for _, tc := range []struct {
		name  string
		every time.Duration
		t     time.Time
		want  time.Time
	}{
		{"between ticks", 5 * time.Minute, utc(10, 2, 30, 0), utc(10, 5, 0, 0)},
		{"on a tick: the next one", 5 * time.Minute, utc(10, 5, 0, 0), utc(10, 10, 0, 0)},
		{"a nanosecond before a tick", 5 * time.Minute, utc(10, 4, 59, 999999999), utc(10, 5, 0, 0)},
		{"15m ticks are 5m ticks", 15 * time.Minute, utc(10, 5, 0, 0), utc(10, 15, 0, 0)},
		{"hourly", time.Hour, utc(10, 30, 0, 0), utc(11, 0, 0, 0)},
		{"7m from the epoch", 7 * time.Minute, time.Unix(0, 0).Add(1000000*7*time.Minute + 3*time.Minute).UTC(),
			time.Unix(0, 0).Add(1000001 * 7 * time.Minute).UTC()},
		{"another zone: same instants, its location kept", time.Hour, utc(10, 30, 0, 0).In(kathmandu),
			utc(11, 0, 0, 0).In(kathmandu)},
		{"zero interval", 0, utc(10, 2, 30, 0), time.Time{}},
		{"negative interval", -time.Minute, utc(10, 2, 30, 0), time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := quota.Next(tc.every, tc.t)
			if !got.Equal(tc.want) || got.Location().String() != tc.want.Location().String() {
				t.Errorf("Next(%s, %s) = %s, want %s", tc.every, tc.t, got, tc.want)
			}
		})
	}
	// Every 15-minute poll is also a 5-minute tick.
	at := utc(0, 1, 0, 0)
	for range 8 {
		at = quota.Next(15*time.Minute, at)
		if prev := at.Add(-time.Nanosecond); !quota.Next(5*time.Minute, prev).Equal(at) {
			t.Errorf("15m poll at %s is not on the 5m grid", at)
		}
	}
}
