package togglsim

import (
	"slices"
	"strings"
	"time"
)

// tsLayout is how Track v9 formats timestamps: UTC with a "+00:00" offset.
const tsLayout = "2006-01-02T15:04:05-07:00"

func fmtTime(t time.Time) string { return t.UTC().Format(tsLayout) }

func fmtTimePtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := fmtTime(t)
	return &s
}

func idPtr(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func ptr[T any](v T) *T { return &v }

// entryJSON is github_com_toggl_toggl_api_internal_models.TimeEntry plus server_deleted_at,
// in the field order of captured real responses.
type entryJSON struct {
	ID              int64    `json:"id"`
	WorkspaceID     int64    `json:"workspace_id"`
	ProjectID       *int64   `json:"project_id"`
	TaskID          *int64   `json:"task_id"`
	Billable        bool     `json:"billable"`
	Start           string   `json:"start"`
	Stop            *string  `json:"stop"`
	Duration        int64    `json:"duration"`
	Description     string   `json:"description"`
	Tags            []string `json:"tags"`
	TagIDs          []int64  `json:"tag_ids"`
	Duronly         bool     `json:"duronly"`
	At              string   `json:"at"`
	ServerDeletedAt *string  `json:"server_deleted_at"`
	UserID          int64    `json:"user_id"`
	UID             int64    `json:"uid"`
	WID             int64    `json:"wid"`
	PID             *int64   `json:"pid,omitempty"`
	TID             *int64   `json:"tid,omitempty"`
	Permissions     []string `json:"permissions"`
	SharedWith      *[]any   `json:"shared_with,omitempty"`

	ClientID        *int64  `json:"client_id,omitempty"`
	ClientName      *string `json:"client_name,omitempty"`
	ProjectName     *string `json:"project_name,omitempty"`
	ProjectColor    *string `json:"project_color,omitempty"`
	ProjectActive   *bool   `json:"project_active,omitempty"`
	ProjectBillable *bool   `json:"project_billable,omitempty"`
	TaskName        *string `json:"task_name,omitempty"`
	UserName        *string `json:"user_name,omitempty"`
	UserAvatarURL   *string `json:"user_avatar_url,omitempty"`
}

type renderOpts struct{ meta, sharing bool }

// tagIDs maps an entry's tag names to ids. Callers hold s.mu.
func (s *Server) tagIDs(wid int64, names []string) []int64 {
	ids := make([]int64, 0, len(names))
	for _, n := range names {
		if t := s.tagByName(wid, n); t != nil {
			ids = append(ids, t.id)
		}
	}
	return ids
}

// renderEntry builds the JSON of e. Callers hold s.mu.
func (s *Server) renderEntry(e *Entry, o renderOpts) entryJSON {
	j := entryJSON{
		ID:              e.ID,
		WorkspaceID:     e.WorkspaceID,
		ProjectID:       idPtr(e.ProjectID),
		TaskID:          idPtr(e.TaskID),
		Billable:        e.Billable,
		Start:           fmtTime(e.Start),
		Stop:            fmtTimePtr(e.Stop),
		Description:     e.Description,
		Tags:            append([]string{}, e.Tags...),
		TagIDs:          s.tagIDs(e.WorkspaceID, e.Tags),
		Duronly:         true,
		At:              fmtTime(e.At),
		ServerDeletedAt: fmtTimePtr(e.DeletedAt),
		UserID:          e.UserID,
		UID:             e.UserID,
		WID:             e.WorkspaceID,
		PID:             idPtr(e.ProjectID),
		TID:             idPtr(e.TaskID),
	}
	switch {
	case !e.Running():
		j.Duration = int64(e.Stop.Sub(e.Start) / time.Second)
	case s.opts.RunningDuration == RunningMinusOne:
		j.Duration = -1
	default:
		j.Duration = -e.Start.Unix()
	}
	if o.sharing {
		j.SharedWith = &[]any{}
	}
	if o.meta {
		if u := s.users[e.UserID]; u != nil {
			j.UserName = ptr(u.fullname)
			j.UserAvatarURL = ptr("")
		}
		if p := s.projects[e.ProjectID]; p != nil {
			j.ProjectName = ptr(p.name)
			j.ProjectColor = ptr(p.color)
			j.ProjectActive = ptr(p.active)
			j.ProjectBillable = ptr(p.billable)
			if cl := s.clients[p.clientID]; cl != nil {
				j.ClientID = ptr(cl.id)
				j.ClientName = ptr(cl.name)
			}
		}
		if t := s.tasks[e.TaskID]; t != nil {
			j.TaskName = ptr(t.name)
		}
	}
	return j
}

func (s *Server) renderEntries(es []*Entry, o renderOpts) []entryJSON {
	out := make([]entryJSON, 0, len(es))
	for _, e := range es {
		out = append(out, s.renderEntry(e, o))
	}
	return out
}

// meJSON is related.UserWithRelated.
type meJSON struct {
	ID                     int64           `json:"id"`
	APIToken               string          `json:"api_token,omitempty"`
	Email                  string          `json:"email"`
	Fullname               string          `json:"fullname"`
	Timezone               string          `json:"timezone"`
	DefaultWorkspaceID     int64           `json:"default_workspace_id"`
	BeginningOfWeek        int             `json:"beginning_of_week"`
	ImageURL               string          `json:"image_url"`
	CreatedAt              string          `json:"created_at"`
	UpdatedAt              string          `json:"updated_at"`
	OpenIDEmail            *string         `json:"openid_email"`
	OpenIDEnabled          bool            `json:"openid_enabled"`
	CountryID              *int64          `json:"country_id"`
	HasPassword            bool            `json:"has_password"`
	At                     string          `json:"at"`
	TwoFAEnabled           bool            `json:"2fa_enabled"`
	OAuthProviders         []string        `json:"oauth_providers"`
	AuthorizationUpdatedAt string          `json:"authorization_updated_at"`
	Clients                []clientJSON    `json:"clients"`
	Projects               []projectJSON   `json:"projects"`
	Tags                   []tagJSON       `json:"tags"`
	Tasks                  []taskJSON      `json:"tasks"`
	TimeEntries            []entryJSON     `json:"time_entries"`
	Workspaces             []workspaceJSON `json:"workspaces"`
}

// workspaceJSON is the Workspace model (and workspace.WithActiveProjectCount).
type workspaceJSON struct {
	ID                          int64    `json:"id"`
	OrganizationID              int64    `json:"organization_id"`
	Name                        string   `json:"name"`
	Premium                     bool     `json:"premium"`
	BusinessWS                  bool     `json:"business_ws"`
	Admin                       bool     `json:"admin"`
	Role                        string   `json:"role"`
	SuspendedAt                 *string  `json:"suspended_at"`
	ServerDeletedAt             *string  `json:"server_deleted_at"`
	DefaultHourlyRate           *float64 `json:"default_hourly_rate"`
	RateLastUpdated             *string  `json:"rate_last_updated"`
	DefaultCurrency             string   `json:"default_currency"`
	OnlyAdminsMayCreateProjects bool     `json:"only_admins_may_create_projects"`
	OnlyAdminsMayCreateTags     bool     `json:"only_admins_may_create_tags"`
	OnlyAdminsSeeTeamDashboard  bool     `json:"only_admins_see_team_dashboard"`
	ProjectsBillableByDefault   bool     `json:"projects_billable_by_default"`
	ProjectsPrivateByDefault    bool     `json:"projects_private_by_default"`
	ProjectsEnforceBillable     bool     `json:"projects_enforce_billable"`
	LimitPublicProjectData      bool     `json:"limit_public_project_data"`
	ReportsCollapse             bool     `json:"reports_collapse"`
	Rounding                    int      `json:"rounding"`
	RoundingMinutes             int      `json:"rounding_minutes"`
	At                          string   `json:"at"`
	LogoURL                     string   `json:"logo_url"`
	IcalURL                     string   `json:"ical_url"`
	IcalEnabled                 bool     `json:"ical_enabled"`
	HideStartEndTimes           bool     `json:"hide_start_end_times"`
	WorkingHoursInMinutes       *int     `json:"working_hours_in_minutes"`
	Permissions                 []string `json:"permissions"`
	ActiveProjectCount          *int     `json:"active_project_count,omitempty"`
}

// premium and business say which plan features a workspace has: "premium" is Starter and up,
// "business_ws" Premium and up (per the field docs in the spec).
func premium(p Plan) bool  { return p != PlanFree }
func business(p Plan) bool { return p == PlanPremium || p == PlanEnterprise }

func (s *Server) renderWorkspace(w *workspace, u *user, withCount bool) workspaceJSON {
	plan := s.orgs[w.orgID].plan
	admin := len(w.members) > 0 && w.members[0] == u.id
	role := "user"
	if admin {
		role = "admin"
	}
	j := workspaceJSON{
		ID:                         w.id,
		OrganizationID:             w.orgID,
		Name:                       w.name,
		Premium:                    premium(plan),
		BusinessWS:                 business(plan),
		Admin:                      admin,
		Role:                       role,
		DefaultCurrency:            "USD",
		OnlyAdminsSeeTeamDashboard: false,
		ReportsCollapse:            true,
		At:                         fmtTime(w.at),
		IcalURL:                    "",
		LogoURL:                    "https://assets.track.toggl.com/images/workspace.jpg",
	}
	if withCount {
		n := 0
		for _, p := range s.projects {
			if p.wid == w.id && p.active {
				n++
			}
		}
		j.ActiveProjectCount = &n
	}
	return j
}

// orgJSON is models.MeOrganization.
type orgJSON struct {
	ID                      int64     `json:"id"`
	Name                    string    `json:"name"`
	PricingPlanID           int       `json:"pricing_plan_id"`
	PricingPlanName         string    `json:"pricing_plan_name"`
	PricingPlanEnterprise   bool      `json:"pricing_plan_enterprise"`
	CreatedAt               string    `json:"created_at"`
	At                      string    `json:"at"`
	ServerDeletedAt         *string   `json:"server_deleted_at"`
	IsMultiWorkspaceEnabled bool      `json:"is_multi_workspace_enabled"`
	IsUnified               bool      `json:"is_unified"`
	SuspendedAt             *string   `json:"suspended_at"`
	UserCount               int       `json:"user_count"`
	MaxWorkspaces           int       `json:"max_workspaces"`
	Admin                   bool      `json:"admin"`
	Owner                   bool      `json:"owner"`
	Permissions             []string  `json:"permissions"`
	TrialInfo               trialJSON `json:"trial_info"`
	MaxDataRetentionDays    *int      `json:"max_data_retention_days"`
}

type trialJSON struct {
	Trial             bool    `json:"trial"`
	TrialAvailable    bool    `json:"trial_available"`
	TrialEndDate      *string `json:"trial_end_date"`
	NextPaymentDate   *string `json:"next_payment_date"`
	LastPricingPlanID *int    `json:"last_pricing_plan_id"`
	CanHaveTrial      bool    `json:"can_have_trial"`
	TrialPlanID       *int    `json:"trial_plan_id"`
}

// planIDs are simulator-made pricing plan ids.
var planIDs = map[Plan]int{PlanFree: 0, PlanStarter: 1, PlanPremium: 2, PlanEnterprise: 3}

func (s *Server) renderOrg(o *organization, u *user) orgJSON {
	members := map[int64]bool{}
	owner := false
	first := true
	var wids []int64
	for _, w := range s.workspaces {
		if w.orgID == o.id {
			wids = append(wids, w.id)
		}
	}
	slices.Sort(wids)
	for _, wid := range wids {
		w := s.workspaces[wid]
		for _, m := range w.members {
			members[m] = true
		}
		if first && len(w.members) > 0 {
			owner = w.members[0] == u.id
			first = false
		}
	}
	maxWS := 1
	if business(o.plan) {
		maxWS = 100
	}
	return orgJSON{
		ID:                      o.id,
		Name:                    o.name,
		PricingPlanID:           planIDs[o.plan],
		PricingPlanName:         planTitle(o.plan),
		PricingPlanEnterprise:   o.plan == PlanEnterprise,
		CreatedAt:               fmtTime(o.at),
		At:                      fmtTime(o.at),
		IsMultiWorkspaceEnabled: business(o.plan),
		IsUnified:               true,
		UserCount:               len(members),
		MaxWorkspaces:           maxWS,
		Admin:                   owner,
		Owner:                   owner,
		TrialInfo:               trialJSON{CanHaveTrial: o.plan == PlanFree, TrialAvailable: o.plan == PlanFree},
	}
}

// projectJSON is the Project model.
type projectJSON struct {
	ID                  int64    `json:"id"`
	WorkspaceID         int64    `json:"workspace_id"`
	ClientID            *int64   `json:"client_id"`
	Name                string   `json:"name"`
	IsPrivate           bool     `json:"is_private"`
	Active              bool     `json:"active"`
	At                  string   `json:"at"`
	CreatedAt           string   `json:"created_at"`
	ServerDeletedAt     *string  `json:"server_deleted_at"`
	Color               string   `json:"color"`
	Billable            *bool    `json:"billable"`
	Template            *bool    `json:"template"`
	AutoEstimates       *bool    `json:"auto_estimates"`
	EstimatedHours      *int64   `json:"estimated_hours"`
	EstimatedSeconds    *int64   `json:"estimated_seconds"`
	Rate                *float64 `json:"rate"`
	RateLastUpdated     *string  `json:"rate_last_updated"`
	Currency            *string  `json:"currency"`
	Recurring           bool     `json:"recurring"`
	RecurringParameters []any    `json:"recurring_parameters"`
	CurrentPeriod       any      `json:"current_period"`
	FixedFee            *float64 `json:"fixed_fee"`
	ActualHours         *int64   `json:"actual_hours"`
	ActualSeconds       *int64   `json:"actual_seconds"`
	StartDate           string   `json:"start_date"`
	EndDate             *string  `json:"end_date"`
	Status              string   `json:"status"`
	Pinned              bool     `json:"pinned"`
	CanTrackTime        bool     `json:"can_track_time"`
	Permissions         []string `json:"permissions"`
	WID                 int64    `json:"wid"`
	CID                 *int64   `json:"cid"`
	ClientName          *string  `json:"client_name,omitempty"`
}

func (s *Server) renderProject(p *project) projectJSON {
	var secs int64
	for _, e := range s.entries {
		if e.ProjectID == p.id && !e.Running() && !e.Deleted() {
			secs += int64(e.Stop.Sub(e.Start) / time.Second)
		}
	}
	status := "active"
	if !p.active {
		status = "archived"
	}
	j := projectJSON{
		ID:            p.id,
		WorkspaceID:   p.wid,
		ClientID:      idPtr(p.clientID),
		Name:          p.name,
		Active:        p.active,
		At:            fmtTime(p.at),
		CreatedAt:     fmtTime(p.at),
		Color:         p.color,
		Billable:      ptr(p.billable),
		Template:      ptr(false),
		AutoEstimates: ptr(false),
		ActualHours:   ptr(secs / 3600),
		ActualSeconds: ptr(secs),
		StartDate:     p.at.UTC().Format(time.DateOnly),
		Status:        status,
		CanTrackTime:  true,
		WID:           p.wid,
		CID:           idPtr(p.clientID),
	}
	if cl := s.clients[p.clientID]; cl != nil {
		j.ClientName = ptr(cl.name)
	}
	return j
}

// clientJSON is models.Client (captured responses also carry workspace_id).
type clientJSON struct {
	ID              int64    `json:"id"`
	WID             int64    `json:"wid"`
	WorkspaceID     int64    `json:"workspace_id"`
	Name            string   `json:"name"`
	Archived        bool     `json:"archived"`
	At              string   `json:"at"`
	CreatorID       int64    `json:"creator_id"`
	ServerDeletedAt *string  `json:"server_deleted_at"`
	Notes           *string  `json:"notes"`
	Permissions     []string `json:"permissions"`
}

func renderClient(c *client) clientJSON {
	return clientJSON{ID: c.id, WID: c.wid, WorkspaceID: c.wid, Name: c.name, At: fmtTime(c.at), CreatorID: c.creatorID}
}

// tagJSON is models.Tag.
type tagJSON struct {
	ID          int64    `json:"id"`
	WorkspaceID int64    `json:"workspace_id"`
	Name        string   `json:"name"`
	At          string   `json:"at"`
	CreatorID   int64    `json:"creator_id"`
	DeletedAt   *string  `json:"deleted_at"`
	Permissions []string `json:"permissions"`
}

func renderTag(t *tag) tagJSON {
	return tagJSON{ID: t.id, WorkspaceID: t.wid, Name: t.name, At: fmtTime(t.at), CreatorID: t.creatorID}
}

// taskJSON is models.Task.
type taskJSON struct {
	ID               int64    `json:"id"`
	Name             string   `json:"name"`
	WorkspaceID      int64    `json:"workspace_id"`
	ProjectID        int64    `json:"project_id"`
	UserID           *int64   `json:"user_id"`
	Recurring        bool     `json:"recurring"`
	Active           bool     `json:"active"`
	At               string   `json:"at"`
	EstimatedSeconds *int64   `json:"estimated_seconds"`
	TrackedSeconds   int64    `json:"tracked_seconds"`
	Rate             float64  `json:"rate"`
	ProjectName      string   `json:"project_name"`
	ProjectColor     string   `json:"project_color"`
	ProjectBillable  bool     `json:"project_billable"`
	ClientID         *int64   `json:"client_id"`
	ClientName       *string  `json:"client_name"`
	Permissions      []string `json:"permissions"`
}

func (s *Server) renderTask(t *task) taskJSON {
	p := s.projects[t.pid]
	var ms int64
	for _, e := range s.entries {
		if e.TaskID == t.id && !e.Running() && !e.Deleted() {
			ms += e.Stop.Sub(e.Start).Milliseconds()
		}
	}
	j := taskJSON{
		ID: t.id, Name: t.name, WorkspaceID: t.wid, ProjectID: t.pid, Active: t.active, At: fmtTime(t.at),
		TrackedSeconds: ms, // the spec: "tracked_seconds is in milliseconds, not in seconds"
		ProjectName:    p.name, ProjectColor: p.color, ProjectBillable: p.billable,
		ClientID: idPtr(p.clientID),
	}
	if cl := s.clients[p.clientID]; cl != nil {
		j.ClientName = ptr(cl.name)
	}
	return j
}

// containsFold reports whether sub occurs in s, ignoring case.
func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
