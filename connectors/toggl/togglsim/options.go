package togglsim

import (
	"fmt"
	"time"
)

// Clock tells the simulator what time it is. Every time-dependent behaviour (quota windows,
// the leaky bucket, `at` stamps, the Date header, the /me/time_entries age cap) reads it, so a
// fake clock makes the simulator fully deterministic. A nil Clock in Options means real time.
// github.com/jonboulle/clockwork fake clocks satisfy it.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Plan is an organization's Toggl subscription plan. It sets the organization's hourly quota
// per user and which premium features its workspaces have.
type Plan string

// The plans the simulator knows.
const (
	PlanFree       Plan = "free"
	PlanStarter    Plan = "starter"
	PlanPremium    Plan = "premium"
	PlanEnterprise Plan = "enterprise"
)

// Values of Options.RunningDuration.
const (
	// RunningNegativeStart reports a running entry's duration as minus its start time in unix
	// seconds, as captured real v9 responses do.
	RunningNegativeStart = "negative-start"
	// RunningMinusOne reports a running entry's duration as -1, the value the spec prefers.
	RunningMinusOne = "minus-one"
)

// Values of Options.CurrentEntryNone.
const (
	// CurrentNone404 answers GET /me/time_entries/current with 404 when nothing runs (spec).
	CurrentNone404 = "404"
	// CurrentNoneNull answers it with 200 and the body null (seen from the real API).
	CurrentNoneNull = "null"
)

// Defaults applied by New to zero-valued Options fields.
const (
	DefaultUserQuota       = 30
	DefaultThrottleRate    = 1.0
	DefaultThrottleBurst   = 5
	DefaultMeEntriesCap    = 1000
	DefaultMeEntriesMaxAge = 90 * 24 * time.Hour
	DefaultRequestLogSize  = 10000
	// QuotaWindow is the length of a quota window, anchored at its first charged request.
	QuotaWindow = time.Hour
)

// DefaultPlanQuota is the hourly per-user quota of an organization by plan (support.toggl.com
// "API & Webhook limits"; the enterprise figure is "custom" there, 2000 is a simulator choice).
var DefaultPlanQuota = map[Plan]int{
	PlanFree:       30,
	PlanStarter:    240,
	PlanPremium:    600,
	PlanEnterprise: 2000,
}

// Options configure a simulator; zero values mean the documented defaults.
type Options struct {
	// Clock drives all simulated time; nil means time.Now.
	Clock Clock
	// UserQuota is the hourly size of each user's bucket for /me… requests (default 30).
	UserQuota int
	// PlanQuota overrides DefaultPlanQuota for the plans it names.
	PlanQuota map[Plan]int
	// QuotaNotEnforced turns on "not enforced" mode: usage is still counted and reported
	// (remaining may go negative) but no request is refused with 402.
	QuotaNotEnforced bool
	// ThrottleRate is the leak rate of the short-term bucket per API token and client IP, in
	// requests per second (default 1). A negative value disables throttling.
	ThrottleRate float64
	// ThrottleBurst is how many requests the short-term bucket holds (default 5).
	ThrottleBurst int
	// AuthFailureStatus is the status for a missing or wrong token: 403 (default) or 401.
	AuthFailureStatus int
	// RunningDuration picks how running entries report duration: RunningNegativeStart
	// (default) or RunningMinusOne.
	RunningDuration string
	// MeEntriesCap caps the rows of GET /me/time_entries (default 1000, newest kept).
	MeEntriesCap int
	// MeEntriesMaxAge hides entries that started before now-MeEntriesMaxAge from
	// GET /me/time_entries (default 90 days).
	MeEntriesMaxAge time.Duration
	// CurrentEntryNone is CurrentNone404 (default) or CurrentNoneNull.
	CurrentEntryNone string
	// RequestLogSize is how many requests Requests keeps (default 10000).
	RequestLogSize int
}

// Validate reports an error for option values New cannot use. Callers that build Options from
// user input (flags) should call it; New panics on invalid Options.
func (o Options) Validate() error {
	switch {
	case o.UserQuota < 0:
		return fmt.Errorf("togglsim: user quota %d is negative", o.UserQuota)
	case o.ThrottleBurst < 0:
		return fmt.Errorf("togglsim: throttle burst %d is negative", o.ThrottleBurst)
	case o.AuthFailureStatus != 0 && o.AuthFailureStatus != 401 && o.AuthFailureStatus != 403:
		return fmt.Errorf("togglsim: auth failure status %d is neither 401 nor 403", o.AuthFailureStatus)
	case o.RunningDuration != "" && o.RunningDuration != RunningNegativeStart && o.RunningDuration != RunningMinusOne:
		return fmt.Errorf("togglsim: running duration mode %q is neither %q nor %q", o.RunningDuration, RunningNegativeStart, RunningMinusOne)
	case o.CurrentEntryNone != "" && o.CurrentEntryNone != CurrentNone404 && o.CurrentEntryNone != CurrentNoneNull:
		return fmt.Errorf("togglsim: current entry mode %q is neither %q nor %q", o.CurrentEntryNone, CurrentNone404, CurrentNoneNull)
	case o.MeEntriesCap < 0:
		return fmt.Errorf("togglsim: /me/time_entries cap %d is negative", o.MeEntriesCap)
	case o.MeEntriesMaxAge < 0:
		return fmt.Errorf("togglsim: /me/time_entries max age %s is negative", o.MeEntriesMaxAge)
	case o.RequestLogSize < 0:
		return fmt.Errorf("togglsim: request log size %d is negative", o.RequestLogSize)
	}
	for p, n := range o.PlanQuota {
		if _, ok := DefaultPlanQuota[p]; !ok {
			return fmt.Errorf("togglsim: unknown plan %q in plan quota", p)
		}
		if n <= 0 {
			return fmt.Errorf("togglsim: plan %q quota %d is not positive", p, n)
		}
	}
	return nil
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.UserQuota == 0 {
		o.UserQuota = DefaultUserQuota
	}
	quota := make(map[Plan]int, len(DefaultPlanQuota))
	for p, n := range DefaultPlanQuota {
		quota[p] = n
	}
	for p, n := range o.PlanQuota {
		quota[p] = n
	}
	o.PlanQuota = quota
	if o.ThrottleRate == 0 {
		o.ThrottleRate = DefaultThrottleRate
	}
	if o.ThrottleBurst == 0 {
		o.ThrottleBurst = DefaultThrottleBurst
	}
	if o.AuthFailureStatus == 0 {
		o.AuthFailureStatus = 403
	}
	if o.RunningDuration == "" {
		o.RunningDuration = RunningNegativeStart
	}
	if o.MeEntriesCap == 0 {
		o.MeEntriesCap = DefaultMeEntriesCap
	}
	if o.MeEntriesMaxAge == 0 {
		o.MeEntriesMaxAge = DefaultMeEntriesMaxAge
	}
	if o.CurrentEntryNone == "" {
		o.CurrentEntryNone = CurrentNone404
	}
	if o.RequestLogSize == 0 {
		o.RequestLogSize = DefaultRequestLogSize
	}
	return o
}
