package togglsim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestUserBucketWindow drains the user bucket one request a second, checks both headers on
// every response, the 402 at the limit, and the reset exactly 60 minutes after the first
// request.
func TestUserBucketWindow(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	for i := 1; i <= 30; i++ {
		r := f.get("/api/v9/me").want(t, 200)
		if got, want := r.remaining(t), 30-i; got != want {
			t.Fatalf("request %d: remaining = %d, want %d", i, got, want)
		}
		if got, want := r.resetsIn(t), 3600-(i-1); got != want {
			t.Fatalf("request %d: resets in = %d, want %d", i, got, want)
		}
		f.clock.Advance(time.Second)
	}
	// 30 s into the window: refused.
	r := f.get("/api/v9/me").want(t, http.StatusPaymentRequired)
	if got := r.msg(t); got != "Quota exceeded: You've used 31 / 30 requests from user specific requests quota" {
		t.Errorf("402 body = %q", got)
	}
	if r.remaining(t) != 0 || r.resetsIn(t) != 3570 {
		t.Errorf("402 headers: remaining %d resets %d, want 0 and 3570", r.remaining(t), r.resetsIn(t))
	}
	// A refused call consumes nothing and does not move the window.
	if q := f.sim.Quota(f.token, "user"); q.Used != 30 {
		t.Errorf("used after 402 = %d, want 30", q.Used)
	}
	// One second before the reset: still refused, resets in 1.
	f.clock.Advance(3570*time.Second - time.Second)
	r = f.get("/api/v9/me/workspaces").want(t, http.StatusPaymentRequired)
	if r.resetsIn(t) != 1 {
		t.Errorf("resets in = %d, want 1", r.resetsIn(t))
	}
	// Half a second before: the header rounds up.
	f.clock.Advance(500 * time.Millisecond)
	if got := f.get("/api/v9/me").want(t, 402).resetsIn(t); got != 1 {
		t.Errorf("resets in at 0.5 s = %d, want 1", got)
	}
	// Exactly 60 minutes after the first request: a new window opens with this request.
	f.clock.Advance(500 * time.Millisecond)
	r = f.get("/api/v9/me").want(t, 200)
	if r.remaining(t) != 29 || r.resetsIn(t) != 3600 {
		t.Errorf("after reset: remaining %d resets %d, want 29 and 3600", r.remaining(t), r.resetsIn(t))
	}
}

// TestBucketRouting checks which bucket each path family charges.
func TestBucketRouting(t *testing.T) {
	f := newFixture(t, Options{}, PlanStarter)
	org := "org:" + itoa(f.org)
	cases := []struct {
		method, path string
		body         any
		bucket       string
		limit        int
	}{
		{"GET", "/api/v9/me", nil, "user", 30},
		{"GET", "/api/v9/me/time_entries", nil, "user", 30},
		{"GET", "/api/v9/me/time_entries/current", nil, "user", 30},
		{"GET", "/api/v9/me/quota", nil, "user", 30},
		{"GET", "/api/v9/no/such/path", nil, "user", 30},
		{"GET", "/api/v9/workspaces/" + itoa(f.ws) + "/projects", nil, org, 240},
		{"GET", "/api/v9/workspaces/" + itoa(f.ws), nil, org, 240},
		{"GET", "/api/v9/organizations/" + itoa(f.org), nil, org, 240},
		{"GET", "/api/v9/workspaces/" + itoa(f.ws) + "/no_such_thing", nil, org, 240},
		{"POST", f.reportsPath(), map[string]any{"start_date": "2025-10-01", "end_date": "2025-10-05"}, org, 240},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			before := map[string]int{"user": f.sim.Quota(f.token, "user").Used, org: f.sim.Quota(f.token, org).Used}
			r := f.do(tc.method, tc.path, f.token, tc.body)
			for _, b := range []string{"user", org} {
				want := before[b]
				if b == tc.bucket {
					want++
				}
				if got := f.sim.Quota(f.token, b).Used; got != want {
					t.Errorf("bucket %s used %d, want %d", b, got, want)
				}
			}
			if got, want := r.remaining(t), tc.limit-f.sim.Quota(f.token, tc.bucket).Used; got != want {
				t.Errorf("remaining header %d, want %d", got, want)
			}
			reqs := f.sim.Requests()
			if last := reqs[len(reqs)-1]; last.Bucket != tc.bucket || !last.Charged || last.UserID != f.user {
				t.Errorf("request log %+v, want bucket %s charged by %d", last, tc.bucket, f.user)
			}
		})
	}
}

func TestOrgBucketSizeByPlan(t *testing.T) {
	cases := []struct {
		plan  Plan
		limit int
	}{
		{PlanFree, 30}, {PlanStarter, 240}, {PlanPremium, 600}, {PlanEnterprise, 2000},
	}
	for _, tc := range cases {
		t.Run(string(tc.plan), func(t *testing.T) {
			f := newFixture(t, Options{}, tc.plan)
			path := f.wsPath("/clients")
			if got := f.get(path).want(t, 200).remaining(t); got != tc.limit-1 {
				t.Fatalf("remaining = %d, want %d", got, tc.limit-1)
			}
			// Another application drains the rest; the next call is refused.
			f.sim.SpendQuota(f.token, "org:"+itoa(f.org), tc.limit-1)
			r := f.get(path).want(t, http.StatusPaymentRequired)
			want := fmt.Sprintf("Quota exceeded: You've used %d / %d requests in Acme (%s)", tc.limit+1, tc.limit, planTitle(tc.plan))
			if got := r.msg(t); got != want {
				t.Errorf("body = %q, want %q", got, want)
			}
			if r.remaining(t) != 0 {
				t.Errorf("remaining = %d, want 0", r.remaining(t))
			}
			// The user bucket is separate.
			if got := f.get("/api/v9/me").want(t, 200).remaining(t); got != 29 {
				t.Errorf("user bucket remaining = %d, want 29", got)
			}
		})
	}
}

func TestPlanQuotaOverride(t *testing.T) {
	f := newFixture(t, Options{PlanQuota: map[Plan]int{PlanFree: 3}, UserQuota: 2}, PlanFree)
	if got := f.get(f.wsPath("/tags")).remaining(t); got != 2 {
		t.Errorf("org remaining = %d, want 2", got)
	}
	if got := f.get("/api/v9/me").remaining(t); got != 1 {
		t.Errorf("user remaining = %d, want 1", got)
	}
}

// TestRefusedCallHasNoSideEffect sends writes into an exhausted bucket: nothing changes.
func TestRefusedCallHasNoSideEffect(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	running := f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws, Start: f.clock.Now().Add(-time.Hour)})
	stopped := f.entry("keep me", 3*time.Hour, time.Hour)
	f.sim.SpendQuota(f.token, "org:"+itoa(f.org), 30)
	before := f.sim.Entries()
	f.clock.Advance(time.Minute)

	create := map[string]any{"created_with": "test", "workspace_id": f.ws, "start": "2025-10-06T08:00:00Z", "duration": 60}
	f.do("POST", f.wsPath("/time_entries"), f.token, create).want(t, 402)
	f.do("PUT", f.wsPath("/time_entries/%d", stopped), f.token, map[string]any{"description": "changed"}).want(t, 402)
	f.do("DELETE", f.wsPath("/time_entries/%d", stopped), f.token, nil).want(t, 402)
	f.do("PATCH", f.wsPath("/time_entries/%d/stop", running), f.token, nil).want(t, 402)

	after := f.sim.Entries()
	if len(after) != len(before) {
		t.Fatalf("entries %d -> %d", len(before), len(after))
	}
	for i := range before {
		if !before[i].At.Equal(after[i].At) || before[i].Description != after[i].Description ||
			!before[i].Stop.Equal(after[i].Stop) || after[i].Deleted() {
			t.Errorf("entry %d changed: %+v -> %+v", before[i].ID, before[i], after[i])
		}
	}
	if q := f.sim.Quota(f.token, "org:"+itoa(f.org)); q.Used != 30 {
		t.Errorf("used = %d, want 30", q.Used)
	}
	st := f.sim.Stats()
	if st.QuotaExceeded != 4 || st.ByStatus[402] != 4 || st.Charged != 0 {
		t.Errorf("stats %+v, want 4 quota 402s and nothing charged", st)
	}
	// After the window the same create goes through.
	f.clock.Advance(time.Hour)
	f.do("POST", f.wsPath("/time_entries"), f.token, create).want(t, 200)
	if got := len(f.sim.Entries()); got != len(before)+1 {
		t.Errorf("entries after reset = %d, want %d", got, len(before)+1)
	}
}

func TestQuotaNotEnforced(t *testing.T) {
	f := newFixture(t, Options{QuotaNotEnforced: true}, PlanFree)
	for i := 1; i <= 35; i++ {
		r := f.get("/api/v9/me").want(t, 200)
		if got := r.remaining(t); got != 30-i {
			t.Fatalf("request %d: remaining = %d, want %d", i, got, 30-i)
		}
	}
	var items []quotaItem
	f.get("/api/v9/me/quota").want(t, 200).decode(t, &items)
	if u := items[len(items)-1]; u.OrganizationID != nil || u.Remaining != -6 || u.Total != 30 {
		t.Errorf("user item %+v, want remaining -6 of 30", u)
	}
	if st := f.sim.Stats(); st.QuotaExceeded != 0 || st.ByStatus[200] != 36 {
		t.Errorf("stats %+v, want 36 OK and no 402", st)
	}
	// SpendQuota is not clamped either.
	f.sim.SpendQuota(f.token, "user", 100)
	if q := f.sim.Quota(f.token, "user"); q.Used != 136 || q.Remaining != -106 {
		t.Errorf("quota %+v, want used 136 remaining -106", q)
	}
}

type quotaItem struct {
	OrganizationID *int64 `json:"organization_id"`
	Remaining      int    `json:"remaining"`
	ResetsInSecs   int    `json:"resets_in_secs"`
	Total          int    `json:"total"`
}

func TestMeQuotaShape(t *testing.T) {
	f := newFixture(t, Options{}, PlanStarter)
	org2 := f.sim.AddOrganization("Beta", PlanPremium)
	ws2 := f.sim.AddWorkspace(org2, "Beta WS")
	f.sim.AddMember(ws2, f.user)
	f.sim.AddOrganization("Not mine", PlanFree)

	f.get(f.wsPath("/projects")).want(t, 200) // org 1 window opens at t0
	f.clock.Advance(10 * time.Minute)
	f.get("/api/v9/me").want(t, 200) // user window opens at t0+10m
	f.clock.Advance(5 * time.Minute)

	r := f.get("/api/v9/me/quota").want(t, 200)
	var raw []map[string]any
	r.decode(t, &raw)
	if len(raw) != 3 {
		t.Fatalf("got %d items, want 3: %s", len(raw), r.body)
	}
	for i, item := range raw {
		for _, k := range []string{"organization_id", "remaining", "resets_in_secs", "total"} {
			if _, ok := item[k]; !ok {
				t.Errorf("item %d lacks %q", i, k)
			}
		}
	}
	var items []quotaItem
	r.decode(t, &items)
	want := []quotaItem{
		{ptr(f.org), 239, 45 * 60, 240},
		{ptr(org2), 600, 0, 600}, // never used: full, no window
		{nil, 28, 55 * 60, 30},   // /me and this call
	}
	for i, w := range want {
		g := items[i]
		if (g.OrganizationID == nil) != (w.OrganizationID == nil) ||
			(g.OrganizationID != nil && *g.OrganizationID != *w.OrganizationID) ||
			g.Remaining != w.Remaining || g.ResetsInSecs != w.ResetsInSecs || g.Total != w.Total {
			t.Errorf("item %d = %+v (org %v), want %+v (org %v)", i, g, deref(g.OrganizationID), w, deref(w.OrganizationID))
		}
	}
	if r.remaining(t) != 28 {
		t.Errorf("/me/quota header remaining = %d, want 28 (it costs one user call)", r.remaining(t))
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestSpendQuota(t *testing.T) {
	f := newFixture(t, Options{}, PlanStarter)
	f.sim.SpendQuota(f.token, "user", 10)
	if got := f.get("/api/v9/me").remaining(t); got != 19 {
		t.Errorf("user remaining = %d, want 19", got)
	}
	org := "org:" + itoa(f.org)
	f.sim.SpendQuota(f.token, org, 100)
	if got := f.get(f.wsPath("/tags")).remaining(t); got != 139 {
		t.Errorf("org remaining = %d, want 139", got)
	}
	// Enforced: usage stops at the limit.
	f.sim.SpendQuota(f.token, org, 1000)
	if q := f.sim.Quota(f.token, org); q.Used != 240 || q.Remaining != 0 || q.ResetsIn != time.Hour {
		t.Errorf("quota %+v, want used 240 remaining 0 resets in 1h", q)
	}
	f.get(f.wsPath("/tags")).want(t, 402)
	// Spending does not show in Stats.
	if st := f.sim.Stats(); st.Charged != 2 {
		t.Errorf("Stats.Charged = %d, want 2", st.Charged)
	}
	// A spend opens the window when none is open.
	f.clock.Advance(time.Hour)
	f.sim.SpendQuota(f.token, "user", 1)
	f.clock.Advance(59 * time.Minute)
	if q := f.sim.Quota(f.token, "user"); q.Used != 1 || q.ResetsIn != time.Minute {
		t.Errorf("quota %+v, want used 1 resetting in 1m", q)
	}
}

func TestSpendQuotaPanicsOnBadBucket(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	other := f.sim.AddOrganization("Other", PlanFree)
	for _, tc := range []struct{ token, bucket string }{
		{"nope", "user"}, {f.token, "workspace"}, {f.token, "org:x"}, {f.token, "org:" + itoa(other)},
	} {
		t.Run(tc.token+"/"+tc.bucket, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f.sim.SpendQuota(tc.token, tc.bucket, 1)
		})
	}
}

// TestFeatureVersusQuota402 tells the two 402s apart by their headers and bodies.
func TestFeatureVersusQuota402(t *testing.T) {
	body := map[string]any{"start_date": "2025-10-01", "end_date": "2025-10-06", "billable": true}
	for _, plan := range []Plan{PlanFree, PlanStarter} {
		t.Run(string(plan), func(t *testing.T) {
			f := newFixture(t, Options{}, plan)
			limit := DefaultPlanQuota[plan]
			r := f.do("POST", f.reportsPath(), f.token, body).want(t, http.StatusPaymentRequired)
			if got := r.msg(t); got != "Workspace needs to have this feature enabled" {
				t.Errorf("feature 402 body = %q", got)
			}
			if got := r.remaining(t); got != limit-1 || got <= 0 {
				t.Errorf("feature 402 remaining = %d, want %d", got, limit-1)
			}
			f.sim.SpendQuota(f.token, "org:"+itoa(f.org), limit)
			delete(body, "billable")
			r = f.do("POST", f.reportsPath(), f.token, body).want(t, http.StatusPaymentRequired)
			body["billable"] = true
			if got := r.msg(t); !strings.HasPrefix(got, "Quota exceeded: ") {
				t.Errorf("quota 402 body = %q", got)
			}
			if got := r.remaining(t); got != 0 {
				t.Errorf("quota 402 remaining = %d, want 0", got)
			}
			if st := f.sim.Stats(); st.FeatureRefused != 1 || st.QuotaExceeded != 1 {
				t.Errorf("stats feature %d quota %d, want 1 and 1", st.FeatureRefused, st.QuotaExceeded)
			}
		})
	}
	for _, plan := range []Plan{PlanPremium, PlanEnterprise} {
		t.Run(string(plan), func(t *testing.T) {
			f := newFixture(t, Options{}, plan)
			f.do("POST", f.reportsPath(), f.token, body).want(t, 200)
		})
	}
}

// TestHeadersOnErrors: answered errors carry the quota headers of the charged bucket.
func TestHeadersOnErrors(t *testing.T) {
	f := newFixture(t, Options{}, PlanStarter)
	cases := []struct {
		name, method, path string
		body               any
		status, remaining  int
	}{
		{"unknown route", "GET", "/api/v9/me/nothing", nil, 404, 29},
		{"bad query", "GET", "/api/v9/me/time_entries?start_date=2025-01-01", nil, 400, 28},
		{"missing entry", "GET", "/api/v9/me/time_entries/123", nil, 404, 27},
		{"wrong method", "DELETE", "/api/v9/me", nil, 405, 26},
		{"bad create", "POST", "/api/v9/workspaces/" + itoa(f.ws) + "/time_entries", "{}", 400, 239},
		{"bad report", "POST", f.reportsPath(), "{}", 400, 238},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(tc.method, tc.path, f.token, tc.body).want(t, tc.status)
			if got := r.remaining(t); got != tc.remaining {
				t.Errorf("remaining = %d, want %d", got, tc.remaining)
			}
			if got := r.resetsIn(t); got != 3600 {
				t.Errorf("resets in = %d, want 3600", got)
			}
		})
	}
}

// TestDayOfWindows runs 24 simulated hours, one call a minute per bucket, with enforcement:
// each hour exactly the bucket size succeeds.
func TestDayOfWindows(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	ok := map[int]int{}
	for minute := 0; minute < 24*60; minute++ {
		if f.get("/api/v9/me").status == 200 {
			ok[minute/60]++
		}
		f.clock.Advance(time.Minute)
	}
	for h := 0; h < 24; h++ {
		if ok[h] != 30 {
			t.Errorf("hour %d: %d successful calls, want 30", h, ok[h])
		}
	}
	if st := f.sim.Stats(); st.ByStatus[200] != 24*30 || st.QuotaExceeded != 24*30 {
		t.Errorf("stats 200=%d 402=%d, want 720 each", st.ByStatus[200], st.QuotaExceeded)
	}
}
