package toggl_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/connectortest"
	"github.com/sluicehq/sluice/connectors/toggl"
	"github.com/sluicehq/sluice/connectors/toggl/togglsim"
)

// refusalStart is when the refusal tests' fake clock starts.
var refusalStart = time.Date(2026, time.March, 10, 14, 30, 0, 0, time.UTC)

// TestRefusal: what Toggl's failed answers mean for the connection. A 402 is a spent quota
// when its headers say nothing is left and a plan's feature otherwise; 401 anywhere and 403 on
// /me refuse the credentials; a 403 elsewhere is about access to that workspace only.
func TestRefusal(t *testing.T) {
	const (
		me        = "/api/v9/me"
		entries   = "/api/v9/me/time_entries"
		projects  = "/api/v9/workspaces/5000001/projects"
		orgPath   = "/api/v9/organizations/9000001"
		reports   = "/reports/api/v3/workspace/5000001/search/time_entries"
		webhooks  = "/webhooks/api/v1/subscriptions/5000001"
		noHeaders = "-"
	)
	for _, tc := range []struct {
		name      string
		path      string
		status    int
		remaining string // noHeaders leaves both quota headers out
		want      connectors.Refusal
	}{
		{"402, nothing left on /me", entries, 402, "0", connectors.QuotaExhausted},
		{"402, nothing left on a workspace", projects, 402, "0", connectors.QuotaExhausted},
		{"402, nothing left on Reports", reports, 402, "0", connectors.QuotaExhausted},
		{"402, below zero", entries, 402, "-3", connectors.QuotaExhausted},
		{"402 with quota left: a feature", reports, 402, "1", connectors.NeedsPlan},
		{"402 with much quota left", projects, 402, "228", connectors.NeedsPlan},
		{"402 without quota headers", reports, 402, noHeaders, connectors.NeedsPlan},
		{"402 with an unreadable count", reports, 402, "none", connectors.NeedsPlan},
		{"401 on /me", me, 401, noHeaders, connectors.BadCredentials},
		{"401 on a workspace", projects, 401, noHeaders, connectors.BadCredentials},
		{"401 on Reports", reports, 401, noHeaders, connectors.BadCredentials},
		{"401 outside the metered API", webhooks, 401, noHeaders, connectors.BadCredentials},
		{"403 on /me", me, 403, noHeaders, connectors.BadCredentials},
		{"403 on /me/time_entries", entries, 403, noHeaders, connectors.BadCredentials},
		{"403 on a workspace", projects, 403, noHeaders, connectors.NotRefused},
		{"403 on an organization", orgPath, 403, noHeaders, connectors.NotRefused},
		{"403 on Reports", reports, 403, noHeaders, connectors.NotRefused},
		{"403 outside the metered API", webhooks, 403, noHeaders, connectors.NotRefused},
		{"429", entries, 429, "12", connectors.NotRefused},
		{"429 with nothing left", entries, 429, "0", connectors.NotRefused},
		{"404", entries + "/current", 404, "20", connectors.NotRefused},
		{"500", projects, 500, noHeaders, connectors.NotRefused},
		{"200", entries, 200, "0", connectors.NotRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "https://api.track.toggl.com"+tc.path, nil)
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{}, Request: req}
			if tc.remaining != noHeaders {
				resp.Header.Set("X-Toggl-Quota-Remaining", tc.remaining)
				resp.Header.Set("X-Toggl-Quota-Resets-In", "1710")
			}
			if got := toggl.Spec.Quota.Refusal(req, resp); got != tc.want {
				t.Errorf("Refusal(%d on %s, %s left) = %d, want %d", tc.status, tc.path, tc.remaining, got, tc.want)
			}
		})
	}
}

// refusalSim is a simulator behind the checker of Toggl's documents: Ann in a Starter
// organization's workspace, and a workspace of another organization she is not in.
type refusalSim struct {
	clock     *clockwork.FakeClock
	sim       *togglsim.Server
	checked   *connectortest.Checked
	srv       *httptest.Server
	org, ws   int64
	strangers int64
	token     string
}

func newRefusalSim(t *testing.T, opts togglsim.Options) *refusalSim {
	t.Helper()
	s := &refusalSim{clock: clockwork.NewFakeClockAt(refusalStart), token: "tok-ann"}
	opts.Clock = s.clock
	s.sim = togglsim.New(opts)
	s.org = s.sim.AddOrganization("Acme", togglsim.PlanStarter)
	s.ws = s.sim.AddWorkspace(s.org, "Acme WS")
	ann := s.sim.AddUser("Ann Example", "ann@example.com", s.token)
	s.sim.AddMember(s.ws, ann)
	other := s.sim.AddOrganization("Globex", togglsim.PlanPremium)
	s.strangers = s.sim.AddWorkspace(other, "Globex WS")
	s.sim.AddMember(s.strangers, s.sim.AddUser("Bob Other", "bob@example.com", "tok-bob"))
	s.checked = connectortest.LoadSpec(t, connectortest.TogglTrack, connectortest.TogglReports).Check(s.sim)
	s.checked.RequireValid(t)
	s.srv = httptest.NewServer(s.checked)
	t.Cleanup(s.srv.Close)
	return s
}

// send makes one request with token and returns the request and the answer, body read.
func (s *refusalSim) send(t *testing.T, token, method, path, body string) (*http.Request, *http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(token, "api_token")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return req, resp, string(b)
}

func (s *refusalSim) reportsPath(ws int64) string {
	return "/reports/api/v3/workspace/" + strconv.FormatInt(ws, 10) + "/search/time_entries"
}

// TestRefusalFromSimulator: the policy reads the simulator's real refusals the same way.
func TestRefusalFromSimulator(t *testing.T) {
	const search = `{"start_date":"2026-03-01","end_date":"2026-03-10"}`
	type request struct{ token, method, path, body string }
	for _, tc := range []struct {
		name string
		opts togglsim.Options
		// setup prepares the simulator and returns the request to judge.
		setup      func(t *testing.T, s *refusalSim) request
		status     int
		want       connectors.Refusal
		wantInBody string
	}{
		{
			name: "user bucket spent",
			setup: func(_ *testing.T, s *refusalSim) request {
				s.sim.SpendQuota(s.token, "user", 30)
				return request{s.token, "GET", "/api/v9/me/time_entries", ""}
			},
			status: 402, want: connectors.QuotaExhausted, wantInBody: "Quota exceeded",
		},
		{
			name: "organization bucket spent",
			setup: func(_ *testing.T, s *refusalSim) request {
				s.sim.SpendQuota(s.token, "org:"+strconv.FormatInt(s.org, 10), 240)
				return request{s.token, "POST", s.reportsPath(s.ws), search}
			},
			status: 402, want: connectors.QuotaExhausted, wantInBody: "Quota exceeded",
		},
		{
			name: "billable filter on a Starter plan",
			setup: func(_ *testing.T, s *refusalSim) request {
				return request{s.token, "POST", s.reportsPath(s.ws), strings.TrimSuffix(search, "}") + `,"billable":true}`}
			},
			status: 402, want: connectors.NeedsPlan, wantInBody: "Workspace needs to have this feature enabled",
		},
		{
			name: "billable filter with little quota left",
			setup: func(_ *testing.T, s *refusalSim) request {
				s.sim.SpendQuota(s.token, "org:"+strconv.FormatInt(s.org, 10), 238)
				return request{s.token, "POST", s.reportsPath(s.ws), strings.TrimSuffix(search, "}") + `,"billable":true}`}
			},
			status: 402, want: connectors.NeedsPlan, wantInBody: "feature",
		},
		{
			name:   "wrong token on /me, 403",
			setup:  func(*testing.T, *refusalSim) request { return request{"tok-wrong", "GET", "/api/v9/me", ""} },
			status: 403, want: connectors.BadCredentials, wantInBody: "Incorrect username and/or password",
		},
		{
			name: "wrong token on /me/time_entries, 401",
			opts: togglsim.Options{AuthFailureStatus: 401},
			setup: func(*testing.T, *refusalSim) request {
				return request{"tok-wrong", "GET", "/api/v9/me/time_entries", ""}
			},
			status: 401, want: connectors.BadCredentials, wantInBody: "Incorrect username and/or password",
		},
		{
			name: "wrong token on Reports, 401",
			opts: togglsim.Options{AuthFailureStatus: 401},
			setup: func(_ *testing.T, s *refusalSim) request {
				return request{"tok-wrong", "POST", s.reportsPath(s.ws), search}
			},
			status: 401, want: connectors.BadCredentials, wantInBody: "Incorrect username and/or password",
		},
		{
			// A 403 outside /me cannot be told from a workspace the user may not see.
			name: "wrong token on a workspace, 403",
			setup: func(_ *testing.T, s *refusalSim) request {
				return request{"tok-wrong", "POST", s.reportsPath(s.ws), search}
			},
			status: 403, want: connectors.NotRefused, wantInBody: "Incorrect username and/or password",
		},
		{
			name: "another organization's workspace",
			setup: func(_ *testing.T, s *refusalSim) request {
				return request{s.token, "POST", s.reportsPath(s.strangers), search}
			},
			status: 403, want: connectors.NotRefused, wantInBody: "Workspace not found/accessible",
		},
		{
			name: "throttled",
			opts: togglsim.Options{ThrottleRate: 1, ThrottleBurst: 2},
			setup: func(t *testing.T, s *refusalSim) request {
				for range 2 {
					s.send(t, s.token, "GET", "/api/v9/me/time_entries", "")
				}
				return request{s.token, "GET", "/api/v9/me/time_entries", ""}
			},
			status: 429, want: connectors.NotRefused,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.ThrottleRate == 0 {
				tc.opts.ThrottleRate = -1
			}
			s := newRefusalSim(t, tc.opts)
			r := tc.setup(t, s)
			req, resp, body := s.send(t, r.token, r.method, r.path, r.body)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.wantInBody) {
				t.Fatalf("simulator answered %d %s; want %d with %q", resp.StatusCode, body, tc.status, tc.wantInBody)
			}
			if got := toggl.Spec.Quota.Refusal(req, resp); got != tc.want {
				t.Errorf("Refusal = %d, want %d (remaining header %q)", got, tc.want, resp.Header.Get("X-Toggl-Quota-Remaining"))
			}
		})
	}
}

// TestProbeQuotaBuckets: GET /api/v9/me/quota gives both buckets with their totals; with
// several organizations, the one with the least left is the organization bucket.
func TestProbeQuotaBuckets(t *testing.T) {
	type org struct {
		plan  togglsim.Plan
		spent int
	}
	for _, tc := range []struct {
		name      string
		orgs      []org
		userSpent int
		// advance moves the clock between the spending and the probe.
		advance time.Duration
		want    map[string]connectors.Quota
	}{
		{
			name: "free plan, nothing spent", orgs: []org{{togglsim.PlanFree, 0}},
			want: map[string]connectors.Quota{
				// The probe itself opens the user bucket's window and costs one call.
				toggl.BucketUser: {Remaining: 29, ResetsIn: time.Hour, Total: 30},
				toggl.BucketOrg:  {Remaining: 30, ResetsIn: 0, Total: 30},
			},
		},
		{
			name: "starter plan, partly spent", orgs: []org{{togglsim.PlanStarter, 40}}, userSpent: 10, advance: 90 * time.Second,
			want: map[string]connectors.Quota{
				toggl.BucketUser: {Remaining: 19, ResetsIn: 58*time.Minute + 30*time.Second, Total: 30},
				toggl.BucketOrg:  {Remaining: 200, ResetsIn: 58*time.Minute + 30*time.Second, Total: 240},
			},
		},
		{
			name: "premium plan", orgs: []org{{togglsim.PlanPremium, 1}},
			want: map[string]connectors.Quota{
				toggl.BucketUser: {Remaining: 29, ResetsIn: time.Hour, Total: 30},
				toggl.BucketOrg:  {Remaining: 599, ResetsIn: time.Hour, Total: 600},
			},
		},
		{
			name: "the tightest organization listed first", orgs: []org{{togglsim.PlanStarter, 235}, {togglsim.PlanFree, 0}},
			want: map[string]connectors.Quota{
				toggl.BucketUser: {Remaining: 29, ResetsIn: time.Hour, Total: 30},
				toggl.BucketOrg:  {Remaining: 5, ResetsIn: time.Hour, Total: 240},
			},
		},
		{
			name: "the tightest organization listed last",
			orgs: []org{{togglsim.PlanStarter, 40}, {togglsim.PlanPremium, 590}, {togglsim.PlanFree, 27}},
			want: map[string]connectors.Quota{
				toggl.BucketUser: {Remaining: 29, ResetsIn: time.Hour, Total: 30},
				toggl.BucketOrg:  {Remaining: 3, ResetsIn: time.Hour, Total: 30},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := clockwork.NewFakeClockAt(refusalStart)
			sim := togglsim.New(togglsim.Options{Clock: clock, ThrottleRate: -1})
			const token = "tok-ann"
			ann := sim.AddUser("Ann Example", "ann@example.com", token)
			for i, o := range tc.orgs {
				id := sim.AddOrganization("Org "+strconv.Itoa(i+1), o.plan)
				sim.AddMember(sim.AddWorkspace(id, "WS "+strconv.Itoa(i+1)), ann)
				sim.SpendQuota(token, "org:"+strconv.FormatInt(id, 10), o.spent)
			}
			sim.SpendQuota(token, "user", tc.userSpent)
			clock.Advance(tc.advance)
			checked := connectortest.LoadSpec(t, connectortest.TogglTrack, connectortest.TogglReports).Check(sim)
			checked.RequireValid(t)
			srv := httptest.NewServer(checked)
			defer srv.Close()

			got, err := toggl.Spec.ProbeQuota(t.Context(), connectors.Config{Connection: "toggl", BaseURL: srv.URL,
				Conn: connectors.Values{"api_token": connectors.Secret(token)}}, connectors.Deps{HTTP: srv.Client(), Clock: clock})
			if err != nil {
				t.Fatalf("ProbeQuota: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ProbeQuota =\n %+v\nwant\n %+v", got, tc.want)
			}
			if n := checked.Count(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

// TestProbeQuotaRefused: a probe the service refuses is an error with Toggl's status.
func TestProbeQuotaRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		token  string
		spend  bool
		status int
	}{
		{"wrong token", "tok-wrong", false, http.StatusForbidden},
		{"user bucket spent", "tok-ann", true, http.StatusPaymentRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newRefusalSim(t, togglsim.Options{ThrottleRate: -1})
			if tc.spend {
				s.sim.SpendQuota(s.token, "user", 30)
			}
			got, err := toggl.Spec.ProbeQuota(context.Background(), connectors.Config{BaseURL: s.srv.URL,
				Conn: connectors.Values{"api_token": connectors.Secret(tc.token)}}, connectors.Deps{HTTP: s.srv.Client()})
			var apiErr *toggl.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != tc.status || got != nil {
				t.Errorf("ProbeQuota = %v, %v; want no buckets and an *APIError with status %d", got, err, tc.status)
			}
		})
	}
}

// TestTotalsFromSettings: a connection's plan or org_quota gives the organization bucket's
// size, and with it the user bucket's (30 on every plan); otherwise both are learned.
func TestTotalsFromSettings(t *testing.T) {
	both := func(org int) map[string]int { return map[string]int{toggl.BucketOrg: org, toggl.BucketUser: 30} }
	for _, tc := range []struct {
		name string
		conn connectors.Values
		want map[string]int
	}{
		{"nothing set", connectors.Values{}, map[string]int{}},
		{"free", connectors.Values{"plan": "free"}, both(30)},
		{"starter", connectors.Values{"plan": "starter"}, both(240)},
		{"premium", connectors.Values{"plan": "premium"}, both(600)},
		{"enterprise: custom, learned", connectors.Values{"plan": "enterprise"}, map[string]int{}},
		{"enterprise with org_quota", connectors.Values{"plan": "enterprise", "org_quota": int64(2000)}, both(2000)},
		{"org_quota alone", connectors.Values{"org_quota": int64(450)}, both(450)},
		{"org_quota overrides the plan", connectors.Values{"plan": "starter", "org_quota": int64(300)}, both(300)},
		{"org_quota as int", connectors.Values{"org_quota": 120}, both(120)},
		{"zero org_quota is unset", connectors.Values{"plan": "free", "org_quota": int64(0)}, both(30)},
		{"negative org_quota is unset", connectors.Values{"org_quota": int64(-5)}, map[string]int{}},
		{"unknown plan", connectors.Values{"plan": "gold"}, map[string]int{}},
		{"plan names are lower case", connectors.Values{"plan": "Starter"}, map[string]int{}},
		{"token alone", connectors.Values{"api_token": connectors.Secret("tok")}, map[string]int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := toggl.Spec.QuotaTotals(tc.conn); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("QuotaTotals(%v) = %v, want %v", tc.conn, got, tc.want)
			}
		})
	}
}
