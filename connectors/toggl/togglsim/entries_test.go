package togglsim

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestSinceWithDeletions: since returns entries changed at or after it, deleted ones as
// tombstones; without since, deleted entries are hidden.
func TestSinceWithDeletions(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	a := f.entry("a", 5*time.Hour, time.Hour)
	b := f.entry("b", 4*time.Hour, time.Hour)
	c := f.entry("c", 3*time.Hour, time.Hour)
	seeded := f.clock.Now().Unix()

	f.clock.Advance(10 * time.Minute)
	changed := f.clock.Now()
	f.do("DELETE", f.wsPath("/time_entries/%d", b), f.token, nil).want(t, 200)
	if err := f.sim.UpdateEntry(a, func(e *Entry) { e.Description = "a2" }); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name    string
		query   string
		want    []int64
		deleted []int64
	}{
		{"no since hides deleted", "", []int64{c, a}, nil},
		{"since seed time returns all", fmt.Sprintf("?since=%d", seeded), []int64{c, b, a}, []int64{b}},
		{"since change time is inclusive", fmt.Sprintf("?since=%d", changed.Unix()), []int64{b, a}, []int64{b}},
		{"since after changes is empty", fmt.Sprintf("?since=%d", changed.Unix()+1), []int64{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			es := f.listEntries(tc.query)
			if got := ids(es); !slices.Equal(got, tc.want) {
				t.Fatalf("ids = %v, want %v", got, tc.want)
			}
			for _, e := range es {
				id := int64(e["id"].(float64))
				v, ok := e["server_deleted_at"]
				if !ok {
					t.Fatalf("entry %d lacks server_deleted_at", id)
				}
				if slices.Contains(tc.deleted, id) {
					if v != fmtTime(changed) {
						t.Errorf("entry %d server_deleted_at = %v, want %s", id, v, fmtTime(changed))
					}
					if e["at"] != fmtTime(changed) {
						t.Errorf("deleted entry %d at = %v, want %s", id, e["at"], fmtTime(changed))
					}
				} else if v != nil {
					t.Errorf("entry %d server_deleted_at = %v, want null", id, v)
				}
			}
		})
	}
	f.get("/api/v9/me/time_entries?since=yesterday").want(t, 400)
}

func TestRunningDuration(t *testing.T) {
	cases := []struct {
		mode string
		want func(start time.Time) float64
	}{
		{"", func(s time.Time) float64 { return float64(-s.Unix()) }},
		{RunningNegativeStart, func(s time.Time) float64 { return float64(-s.Unix()) }},
		{RunningMinusOne, func(time.Time) float64 { return -1 }},
	}
	for _, tc := range cases {
		t.Run("mode "+tc.mode, func(t *testing.T) {
			f := newFixture(t, Options{RunningDuration: tc.mode}, PlanFree)
			start := f.clock.Now().Add(-25 * time.Minute)
			id := f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws, Start: start})
			var cur entryMap
			f.get("/api/v9/me/time_entries/current").want(t, 200).decode(t, &cur)
			if int64(cur["id"].(float64)) != id {
				t.Fatalf("current id = %v, want %d", cur["id"], id)
			}
			if cur["stop"] != nil {
				t.Errorf("stop = %v, want null", cur["stop"])
			}
			if cur["duration"] != tc.want(start) {
				t.Errorf("duration = %v, want %v", cur["duration"], tc.want(start))
			}
			es := f.listEntries("")
			if len(es) != 1 || es[0]["duration"] != tc.want(start) || es[0]["stop"] != nil {
				t.Errorf("listed running entry %v", es)
			}
		})
	}
}

func TestCurrentEntryNone(t *testing.T) {
	cases := []struct {
		mode   string
		status int
		body   string
	}{
		{"", 404, "\"Resource can not be found\"\n"},
		{CurrentNone404, 404, "\"Resource can not be found\"\n"},
		{CurrentNoneNull, 200, "null\n"},
	}
	for _, tc := range cases {
		t.Run("mode "+tc.mode, func(t *testing.T) {
			f := newFixture(t, Options{CurrentEntryNone: tc.mode}, PlanFree)
			f.entry("done", 2*time.Hour, time.Hour)
			r := f.get("/api/v9/me/time_entries/current").want(t, tc.status)
			if string(r.body) != tc.body {
				t.Errorf("body = %q, want %q", r.body, tc.body)
			}
			r.remaining(t)
		})
	}
}

func TestStartEndDatePairing(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	// Ann's entries on Oct 3, 4 and 5 at 10:00.
	var byDay []int64
	for d := 3; d <= 5; d++ {
		byDay = append(byDay, f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws,
			Start: time.Date(2025, 10, d, 10, 0, 0, 0, time.UTC), Duration: time.Hour}))
	}
	cases := []struct {
		name   string
		query  string
		status int
		msg    string
		want   []int64
	}{
		{"only start_date", "?start_date=2025-10-01", 400, msgDatesTogether, nil},
		{"only end_date", "?end_date=2025-10-05", 400, msgDatesTogether, nil},
		{"end before start", "?start_date=2025-10-05&end_date=2025-10-04", 400, msgEndAfterStart, nil},
		{"end equals start", "?start_date=2025-10-05&end_date=2025-10-05", 400, msgEndAfterStart, nil},
		{"bad start", "?start_date=5.10.2025&end_date=2025-10-06", 400, "Invalid 'start_date' value", nil},
		{"bad end", "?start_date=2025-10-01&end_date=tomorrow", 400, "Invalid 'end_date' value", nil},
		{"dates, end exclusive", "?start_date=2025-10-04&end_date=2025-10-05", 200, "", []int64{byDay[1]}},
		{"wide dates", "?start_date=2025-10-01&end_date=2025-10-06", 200, "", []int64{byDay[2], byDay[1], byDay[0]}},
		{"RFC 3339", "?start_date=2025-10-03T10:00:00Z&end_date=2025-10-04T10:00:01%2B00:00", 200, "", []int64{byDay[1], byDay[0]}},
		{"RFC 3339 end is exclusive", "?start_date=2025-10-03T10:00:00Z&end_date=2025-10-04T10:00:00Z", 200, "", []int64{byDay[0]}},
		{"before", "?before=2025-10-05", 200, "", []int64{byDay[1], byDay[0]}},
		{"bad before", "?before=soon", 400, "Invalid 'before' value", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.get("/api/v9/me/time_entries"+tc.query).want(t, tc.status)
			if tc.status != 200 {
				if got := r.msg(t); got != tc.msg {
					t.Errorf("body = %q, want %q", got, tc.msg)
				}
				return
			}
			var es []entryMap
			r.decode(t, &es)
			if got := ids(es); !slices.Equal(got, tc.want) {
				t.Errorf("ids = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMeEntriesCapAndMaxAge(t *testing.T) {
	f := newFixture(t, Options{MeEntriesCap: 3, MeEntriesMaxAge: 10 * 24 * time.Hour}, PlanFree)
	var recent []int64
	for i := 1; i <= 5; i++ {
		recent = append(recent, f.entry(fmt.Sprint(i), time.Duration(i)*24*time.Hour, time.Hour))
	}
	old := f.entry("old", 11*24*time.Hour, time.Hour)
	edge := f.entry("edge", 10*24*time.Hour, time.Hour) // exactly at the age limit: kept
	past := f.entry("past", 10*24*time.Hour+time.Second, time.Hour)
	_ = f.sim.UpdateEntry(old, func(e *Entry) { e.Description = "old but touched" })

	if got := ids(f.listEntries("")); !slices.Equal(got, recent[:3]) {
		t.Errorf("capped ids = %v, want newest three %v", got, recent[:3])
	}
	// A range selecting four entries still hits the cap.
	got := ids(f.listEntries("?start_date=2025-09-01&end_date=2025-10-04"))
	if want := recent[2:5]; !slices.Equal(got, want) {
		t.Errorf("ids = %v, want %v", got, want)
	}
	// The age limit hides "old" even though since and the range match it; "edge" started
	// exactly at the limit and stays.
	got = ids(f.listEntries("?since=0&start_date=2025-09-01&end_date=2025-10-02"))
	if want := []int64{recent[4], edge}; !slices.Equal(got, want) {
		t.Errorf("ids = %v, want %v", got, want)
	}
	for _, id := range []int64{old, past} {
		if slices.Contains(ids(f.listEntries("?since=0&start_date=2025-09-01&end_date=2025-10-02")), id) {
			t.Errorf("entry %d older than the max age was returned", id)
		}
	}
}

func TestMeEntriesDefaultCap(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	for i := 0; i < DefaultMeEntriesCap+5; i++ {
		f.entry("e", time.Duration(i)*time.Minute+time.Hour, time.Minute)
	}
	if n := len(f.listEntries("")); n != DefaultMeEntriesCap {
		t.Errorf("rows = %d, want %d", n, DefaultMeEntriesCap)
	}
}

func TestEntryShape(t *testing.T) {
	f := newFixture(t, Options{}, PlanPremium)
	cl := f.sim.AddClient(f.ws, "Big Client")
	p := f.sim.AddProject(f.ws, cl, "Proj", true)
	tk := f.sim.AddTask(p, "Task one")
	id := f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws, TaskID: tk, Description: "work",
		Start: t0.Add(-2 * time.Hour), Duration: 90 * time.Minute, Billable: true, Tags: []string{"x", "y"}})
	bare := f.entry("", time.Hour, time.Minute)

	var e entryMap
	f.get(fmt.Sprintf("/api/v9/me/time_entries/%d", id)).want(t, 200).decode(t, &e)
	want := map[string]any{
		"id": float64(id), "workspace_id": float64(f.ws), "wid": float64(f.ws),
		"project_id": float64(p), "pid": float64(p), "task_id": float64(tk), "tid": float64(tk),
		"user_id": float64(f.user), "uid": float64(f.user), "billable": true, "duronly": true,
		"start": "2025-10-06T10:00:00+00:00", "stop": "2025-10-06T11:30:00+00:00", "duration": float64(5400),
		"description": "work", "at": fmtTime(t0), "server_deleted_at": nil,
	}
	for k, v := range want {
		if got, ok := e[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if tags := e["tags"].([]any); len(tags) != 2 || tags[0] != "x" || tags[1] != "y" {
		t.Errorf("tags = %v", e["tags"])
	}
	if tagIDs := e["tag_ids"].([]any); len(tagIDs) != 2 {
		t.Errorf("tag_ids = %v", e["tag_ids"])
	}
	for _, k := range []string{"project_name", "client_name", "user_name", "task_name", "shared_with"} {
		if _, ok := e[k]; ok {
			t.Errorf("%s present without meta/include_sharing", k)
		}
	}

	var m entryMap
	f.get(fmt.Sprintf("/api/v9/me/time_entries/%d?meta=true&include_sharing=true", id)).want(t, 200).decode(t, &m)
	meta := map[string]any{
		"client_name": "Big Client", "client_id": float64(cl), "project_name": "Proj", "project_active": true,
		"project_billable": true, "task_name": "Task one", "user_name": "Ann Example",
	}
	for k, v := range meta {
		if got := m[k]; got != v {
			t.Errorf("meta %s = %v, want %v", k, got, v)
		}
	}
	for _, k := range []string{"project_color", "user_avatar_url", "shared_with"} {
		if _, ok := m[k]; !ok {
			t.Errorf("meta lacks %s", k)
		}
	}

	var b entryMap
	f.get(fmt.Sprintf("/api/v9/me/time_entries/%d", bare)).want(t, 200).decode(t, &b)
	if b["project_id"] != nil || b["task_id"] != nil || len(b["tags"].([]any)) != 0 || len(b["tag_ids"].([]any)) != 0 {
		t.Errorf("bare entry: %v", b)
	}
	if _, ok := b["project_id"]; !ok {
		t.Error("project_id must be present as null")
	}
	if id <= 1<<31 {
		t.Errorf("entry id %d fits in int32", id)
	}
}

func TestGetMeTimeEntryAccess(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	bob, _ := f.addUser("bob")
	mine := f.entry("mine", time.Hour, time.Minute)
	gone := f.entry("gone", time.Hour, time.Minute)
	_ = f.sim.DeleteEntry(gone)
	theirs := f.sim.AddEntry(NewEntry{UserID: bob, WorkspaceID: f.ws, Start: t0.Add(-time.Hour), Duration: time.Minute})
	cases := []struct {
		name   string
		path   string
		status int
	}{
		{"own", fmt.Sprint(mine), 200},
		{"deleted", fmt.Sprint(gone), 404},
		{"other user's", fmt.Sprint(theirs), 404},
		{"unknown", "4999999999", 404},
		{"not a number", "abc", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.get("/api/v9/me/time_entries/"+tc.path).want(t, tc.status)
		})
	}
	if slices.Contains(ids(f.listEntries("?since=0")), theirs) {
		t.Error("another user's entry listed")
	}
}

func TestMeAndLookups(t *testing.T) {
	f := newFixture(t, Options{}, PlanStarter)
	cl := f.sim.AddClient(f.ws, "Client A")
	p1 := f.sim.AddProject(f.ws, cl, "Zeta", false)
	p2 := f.sim.AddProject(f.ws, 0, "alpha", true)
	f.sim.AddTask(p1, "T1")
	f.sim.AddTag(f.ws, "urgent")
	f.entry("e", time.Hour, time.Minute)
	second := f.sim.AddWorkspace(f.org, "Second WS")
	f.sim.AddMember(second, f.user)

	var me map[string]any
	f.get("/api/v9/me").want(t, 200).decode(t, &me)
	if me["id"] != float64(f.user) || me["default_workspace_id"] != float64(f.ws) || me["email"] != "ann@example.com" {
		t.Errorf("me = %v", me)
	}
	for _, k := range []string{"clients", "projects", "tags", "tasks", "time_entries", "workspaces"} {
		if v, ok := me[k]; !ok || v != nil {
			t.Errorf("without related data %s = %v (present %v), want null", k, v, ok)
		}
	}
	f.get("/api/v9/me?with_related_data=true").want(t, 200).decode(t, &me)
	for k, n := range map[string]int{"clients": 1, "projects": 2, "tags": 1, "tasks": 1, "time_entries": 1, "workspaces": 2} {
		if l, ok := me[k].([]any); !ok || len(l) != n {
			t.Errorf("related %s = %v, want %d items", k, me[k], n)
		}
	}

	var wss []map[string]any
	f.get("/api/v9/me/workspaces").want(t, 200).decode(t, &wss)
	if len(wss) != 2 || wss[0]["id"] != float64(f.ws) || wss[0]["organization_id"] != float64(f.org) ||
		wss[0]["premium"] != true || wss[0]["business_ws"] != false || wss[0]["active_project_count"] != float64(2) {
		t.Errorf("workspaces = %v", wss)
	}
	var orgs []map[string]any
	f.get("/api/v9/me/organizations").want(t, 200).decode(t, &orgs)
	if len(orgs) != 1 || orgs[0]["id"] != float64(f.org) || orgs[0]["pricing_plan_name"] != "Starter" || orgs[0]["user_count"] != float64(1) {
		t.Errorf("organizations = %v", orgs)
	}

	var projects []map[string]any
	f.get(f.wsPath("/projects")).want(t, 200).decode(t, &projects)
	if len(projects) != 2 || projects[0]["id"] != float64(p2) || projects[1]["client_id"] != float64(cl) {
		t.Errorf("projects (by name) = %v", projects)
	}
	f.get(f.wsPath("/projects?per_page=201")).want(t, http.StatusBadRequest)
	f.get(f.wsPath("/projects?per_page=1&page=2")).want(t, 200).decode(t, &projects)
	if len(projects) != 1 || projects[0]["id"] != float64(p1) {
		t.Errorf("page 2 = %v", projects)
	}
	var clients, tags []map[string]any
	f.get(f.wsPath("/clients")).want(t, 200).decode(t, &clients)
	f.get(f.wsPath("/tags")).want(t, 200).decode(t, &tags)
	if len(clients) != 1 || clients[0]["name"] != "Client A" || len(tags) != 1 || tags[0]["name"] != "urgent" {
		t.Errorf("clients %v tags %v", clients, tags)
	}
	var tasks struct {
		Data       []map[string]any `json:"data"`
		TotalCount int              `json:"total_count"`
	}
	f.get(f.wsPath("/tasks")).want(t, 200).decode(t, &tasks)
	if tasks.TotalCount != 1 || len(tasks.Data) != 1 || tasks.Data[0]["project_id"] != float64(p1) {
		t.Errorf("tasks = %+v", tasks)
	}
}

func TestDateHeaderFollowsClock(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	f.clock.Advance(36 * time.Hour)
	r := f.get("/api/v9/me")
	got, err := http.ParseTime(r.header.Get("Date"))
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(36 * time.Hour); !got.Equal(want) {
		t.Errorf("Date = %s, want %s", got, want)
	}
	// Also on auth failures.
	got, _ = http.ParseTime(f.do("GET", "/api/v9/me", "", nil).header.Get("Date"))
	if !got.Equal(t0.Add(36 * time.Hour)) {
		t.Errorf("Date on 403 = %s", got)
	}
}
