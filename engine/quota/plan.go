package quota

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Demand is what one workflow asks of a metered bucket.
type Demand struct {
	Workflow string
	Key      Key
	// Share groups workflows whose polls one read answers (the same source on the same
	// credential): polls of a group that fall on the same tick cost one call. Empty: alone.
	Share string
	// CallsPerPoll is what one poll costs in the bucket.
	CallsPerPoll float64
	// Every is the wished interval; zero for cron schedules, which give CronPerHour.
	Every       time.Duration
	CronPerHour float64
	Priority    Priority
}

// Supply is what a bucket can give per window.
type Supply struct {
	Total int
	// External is the calls per hour other applications were seen spending.
	External float64
}

// Plan says how often each workflow polls so that every bucket's demand fits its supply.
type Plan struct {
	Buckets   []BucketPlan
	Workflows []WorkflowPlan
}

// BucketPlan is one bucket's side of a plan.
type BucketPlan struct {
	Key
	Total, Reserve int
	External       float64
	// Available is what sluice may spend per hour: total less reserve and external usage.
	Available float64
	// Expected is what the plan spends per hour; Headroom what is left.
	Expected, Headroom float64
	// Tick is the grid every interval on this bucket is a multiple of, aligned to the clock,
	// so that polls of one group coincide.
	Tick time.Duration
}

// WorkflowPlan is one workflow's side of a plan.
type WorkflowPlan struct {
	Workflow string
	Key
	Wished, Effective time.Duration
	// CallsPerHour is what its polls cost on their own; shared polls cost less in the bucket.
	CallsPerHour float64
	// Warning says why the wish could not be met, when it could not.
	Warning string
}

// maxStretch bounds how far an interval is stretched before the plan gives up on fitting.
const maxStretch = 12

// MakePlan fits every bucket's demands to its supply. Intervals are rounded up to a
// multiple of the bucket's tick (its shortest wish); when the bucket still cannot afford
// them, low-priority intervals are stretched first, then normal, then high, each by whole
// multiples, and a warning says so.
func MakePlan(demands []Demand, supply map[Key]Supply, reserve float64) Plan {
	var plan Plan
	byKey := map[Key][]Demand{}
	var keys []Key
	for _, d := range demands {
		if _, ok := byKey[d.Key]; !ok {
			keys = append(keys, d.Key)
		}
		byKey[d.Key] = append(byKey[d.Key], d)
	}
	slices.SortFunc(keys, func(a, b Key) int {
		if a.Connection != b.Connection {
			return cmpString(a.Connection, b.Connection)
		}
		return cmpString(a.Bucket, b.Bucket)
	})
	for _, k := range keys {
		ds := byKey[k]
		sup := supply[k]
		bp := BucketPlan{Key: k, Total: sup.Total, External: sup.External}
		if sup.Total > 0 {
			bp.Reserve = int(math.Ceil(float64(sup.Total) * reserve))
			bp.Available = float64(sup.Total-bp.Reserve) - sup.External
		}
		for _, d := range ds {
			if d.Every > 0 && (bp.Tick == 0 || d.Every < bp.Tick) {
				bp.Tick = d.Every
			}
		}
		mult := map[Priority]int{Low: 1, Normal: 1, High: 1}
		effective := func(d Demand) time.Duration {
			if d.Every == 0 {
				return 0
			}
			n := time.Duration(math.Ceil(float64(d.Every) / float64(bp.Tick)))
			return n * bp.Tick * time.Duration(mult[clampPriority(d.Priority)])
		}
		cost := func() float64 { return hourlyCost(ds, effective, bp.Tick) }
		fits := func() bool { return sup.Total == 0 || cost() <= bp.Available }
		for _, p := range []Priority{Low, Normal, High} {
			for !fits() && mult[p] < maxStretch {
				mult[p]++
			}
		}
		bp.Expected = cost()
		if sup.Total > 0 {
			bp.Headroom = bp.Available - bp.Expected
		}
		plan.Buckets = append(plan.Buckets, bp)
		for _, d := range ds {
			wp := WorkflowPlan{Workflow: d.Workflow, Key: k, Wished: d.Every, Effective: effective(d)}
			if wp.Effective > 0 {
				wp.CallsPerHour = d.CallsPerPoll * float64(time.Hour) / float64(wp.Effective)
			} else {
				wp.CallsPerHour = d.CallsPerPoll * d.CronPerHour
			}
			if wp.Effective > d.Every && d.Every > 0 && mult[clampPriority(d.Priority)] > 1 {
				wp.Warning = fmt.Sprintf("every %s is more than the %s bucket can afford; stretched to %s",
					shortDuration(d.Every), k.Bucket, shortDuration(wp.Effective))
			}
			if !fits() {
				wp.Warning = fmt.Sprintf("the %s bucket cannot afford this workflow even at %dx its interval; runs will be deferred",
					k.Bucket, maxStretch)
			}
			plan.Workflows = append(plan.Workflows, wp)
		}
	}
	return plan
}

// hourlyCost is what a bucket's demands cost per hour: polls of one share group that fall
// on the same tick of the aligned grid cost one poll.
func hourlyCost(ds []Demand, effective func(Demand) time.Duration, tick time.Duration) float64 {
	total := 0.0
	groups := map[string][]Demand{}
	for _, d := range ds {
		switch {
		case d.Every == 0:
			total += d.CallsPerPoll * d.CronPerHour
		case d.Share == "":
			total += d.CallsPerPoll * float64(time.Hour) / float64(effective(d))
		default:
			groups[d.Share] = append(groups[d.Share], d)
		}
	}
	for _, g := range groups {
		// Count, over a period all intervals divide, the ticks on which any member polls.
		period := time.Duration(1)
		for _, d := range g {
			period = lcm(period, effective(d)/tick)
		}
		if period > 100000 {
			period = 100000
		}
		calls := 0.0
		for i := time.Duration(0); i < period; i++ {
			most := 0.0
			for _, d := range g {
				if i%(effective(d)/tick) == 0 {
					most = max(most, d.CallsPerPoll)
				}
			}
			calls += most
		}
		total += calls / (float64(period) * float64(tick) / float64(time.Hour))
	}
	return total
}

func lcm(a, b time.Duration) time.Duration {
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	return a / x * b
}

func clampPriority(p Priority) Priority { return min(max(p, Low), High) }

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// shortDuration writes 15m, 1h, 1h30m.
func shortDuration(d time.Duration) string {
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case d%time.Minute != 0:
		return d.String()
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}

// Next returns a workflow's next poll after t on its plan: the next multiple of its
// effective interval, counted from the Unix epoch, so that polls of one bucket coincide.
func Next(every time.Duration, t time.Time) time.Time {
	if every <= 0 {
		return time.Time{}
	}
	n := t.UnixNano()/int64(every) + 1
	return time.Unix(0, n*int64(every)).In(t.Location())
}
