package toggl

import (
	"time"

	"github.com/sluicehq/sluice/connectors"
)

func init() {
	connectors.Register(Spec)
}

// Spec describes the toggl connector.
var Spec = connectors.Spec{
	Name:    "toggl",
	Doc:     "Toggl Track time entries (source)",
	BaseURL: "https://api.track.toggl.com",
	Connection: []connectors.Field{
		{Name: "api_token", Type: connectors.String, Required: true, Secret: true,
			Doc: "API token from Toggl's profile page; use ${TOGGL_API_TOKEN}"},
		{Name: "plan", Type: connectors.String, Enum: []string{"free", "starter", "premium", "enterprise"},
			Doc: "the organization's Toggl plan, which sets its hourly API quota; learned from /me/quota when not given"},
		{Name: "org_quota", Type: connectors.Int,
			Doc: "the organization's hourly quota per user, for Enterprise plans or when Toggl changes it"},
		{Name: "cache_ttl", Type: connectors.Duration, Default: "1m",
			Doc: "how long a read is reused by the connection's other workflows before Toggl is asked again"},
	},
	Source: []connectors.Field{
		{Name: "entries", Type: connectors.String, Default: modeMine, Enum: []string{modeMine, modeWorkspace},
			Doc: "mine: the token owner's entries, read incrementally; workspace: every member's, through Reports v3"},
		{Name: "read", Type: connectors.String, Default: readAuto, Enum: []string{readAuto, readMe, readReports},
			Doc: "entries: mine: how changes are read: me (/me/time_entries, the user bucket), reports (Reports v3, the organization bucket), or auto: me while the user bucket can afford it"},
		{Name: "workspace_id", Type: connectors.Int, Doc: "the workspace to read (entries: workspace)"},
		{Name: "user_ids", Type: connectors.Ints, Doc: "only these users' entries (entries: workspace)"},
		{Name: "project_ids", Type: connectors.Ints, Doc: "only these projects' entries (entries: workspace)"},
		{Name: "start_date", Type: connectors.Date, Doc: "ignore entries starting before this date; the first run backfills from it"},
		{Name: "end_date", Type: connectors.Date, Doc: "ignore entries starting after this date (inclusive)"},
		{Name: "backfill", Type: connectors.Duration, Default: "30d",
			Doc: "without start_date, how far back the first run reads"},
		{Name: "lookback", Type: connectors.Duration, Default: "14d",
			Doc: "entries: workspace: how far back each run re-reads to see edits and deletions"},
		{Name: "page_size", Type: connectors.Int, Default: "50", Doc: "entries: workspace: rows per Reports page"},
	},
	CheckSource: checkSource,
	Quota:       quotaPolicy{},
	QuotaTotals: quotaTotals,
	ProbeQuota:  probeQuota,
	PollCost:    pollCost,
	NewSource:   newSource,
}

func checkSource(v connectors.Values) []connectors.FieldError {
	var errs []connectors.FieldError
	workspace := v.String("entries") == modeWorkspace
	if workspace && v.Int("workspace_id") <= 0 {
		errs = append(errs, connectors.FieldError{Field: "entries", Msg: `"workspace" needs workspace_id as well`})
	}
	if !workspace {
		for _, f := range []string{"workspace_id", "user_ids", "project_ids"} {
			if v.Has(f) {
				errs = append(errs, connectors.FieldError{Field: f, Msg: "applies to entries: workspace only (your own entries come from /me)"})
			}
		}
	}
	if s, e := v.Time("start_date"), v.Time("end_date"); !s.IsZero() && !e.IsZero() && e.Before(s) {
		errs = append(errs, connectors.FieldError{Field: "end_date", Msg: "comes before start_date"})
	}
	if n := v.Int("page_size"); n < 1 || n > 1000 {
		errs = append(errs, connectors.FieldError{Field: "page_size", Msg: "must be between 1 and 1000"})
	}
	if v.Duration("backfill") <= 0 {
		errs = append(errs, connectors.FieldError{Field: "backfill", Msg: "must be longer than zero"})
	}
	if v.Duration("lookback") < 24*time.Hour {
		errs = append(errs, connectors.FieldError{Field: "lookback", Msg: "must be at least 1d"})
	}
	return errs
}

// pollCost implements connectors.Spec.PollCost: one /me read shared by every workflow of
// the connection, or Reports pages (a guess of one; the engine corrects it from the audit).
func pollCost(v connectors.Values) connectors.PollCost {
	if v.String("entries") == modeWorkspace {
		return connectors.PollCost{Bucket: BucketOrg, Calls: 1}
	}
	return connectors.PollCost{Bucket: BucketUser, Share: "me/time_entries", Calls: 1}
}
