package togglsim

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestCreateValidation(t *testing.T) {
	f := newFixture(t, Options{}, PlanStarter)
	bob, _ := f.addUser("bob")
	p := f.sim.AddProject(f.ws, 0, "P", false)
	other := f.sim.AddProject(f.ws, 0, "Other", false)
	tk := f.sim.AddTask(p, "T")
	otherOrg := f.sim.AddOrganization("X", PlanFree)
	foreignWS := f.sim.AddWorkspace(otherOrg, "X WS")
	foreignProject := f.sim.AddProject(foreignWS, 0, "Foreign", false)

	base := map[string]any{"created_with": "sluice-test", "workspace_id": f.ws, "start": "2025-10-06T08:00:00Z", "duration": 3600}
	with := func(kv ...any) map[string]any {
		m := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name   string
		body   any
		status int
		msg    string
		check  func(t *testing.T, e entryMap)
	}{
		{"invalid JSON", `{"created_with":`, 400, msgBadJSON, nil},
		{"empty body", ``, 400, msgBadJSON, nil},
		{"wrong type", with("duration", "long"), 400, msgBadJSON, nil},
		{"no created_with", with("created_with", nil), 400, msgCreatedWith, nil},
		{"blank created_with", with("created_with", "  "), 400, msgCreatedWith, nil},
		{"null created_with", `{"created_with":null,"workspace_id":` + itoa(f.ws) + `,"start":"2025-10-06T08:00:00Z"}`, 400, msgCreatedWith, nil},
		{"no workspace_id", with("workspace_id", nil), 400, msgWorkspaceRequired, nil},
		{"other workspace_id", with("workspace_id", foreignWS), 400, msgWorkspaceMismatch, nil},
		{"no start", with("start", nil), 400, msgStartRequired, nil},
		{"bad start", with("start", "06.10.2025 08:00"), 400, "Invalid 'start' value", nil},
		{"bad stop", with("stop", "later"), 400, "Invalid 'stop' value", nil},
		{"stop before start", with("duration", nil, "stop", "2025-10-06T07:59:59Z"), 400, msgStopBeforeStart, nil},
		{"stop and duration disagree", with("stop", "2025-10-06T09:00:01Z"), 400, msgInconsistent, nil},
		{"foreign project", with("project_id", foreignProject), 400, msgBadProject, nil},
		{"unknown project", with("project_id", 123), 400, msgBadProject, nil},
		{"task of another project", with("project_id", other, "task_id", tk), 400, msgBadTask, nil},
		{"unknown tag id", with("tag_ids", []int64{42}), 400, "Invalid 'tag_ids' value", nil},
		{"for another user", with("user_id", bob), 403, msgNoAccess, nil},
		{"bad start_date", with("start_date", "tomorrow"), 400, "Invalid 'start_date' value", nil},

		{"duration only", base, 200, "", func(t *testing.T, e entryMap) {
			if e["stop"] != "2025-10-06T09:00:00+00:00" || e["duration"] != float64(3600) {
				t.Errorf("stop %v duration %v", e["stop"], e["duration"])
			}
		}},
		{"stop only", with("duration", nil, "stop", "2025-10-06T08:30:00+00:00"), 200, "", func(t *testing.T, e entryMap) {
			if e["duration"] != float64(1800) {
				t.Errorf("duration %v, want 1800", e["duration"])
			}
		}},
		{"stop and duration agree", with("stop", "2025-10-06T09:00:00Z"), 200, "", nil},
		{"neither stop nor duration", with("duration", nil), 200, "", func(t *testing.T, e entryMap) {
			if e["duration"] != float64(0) || e["stop"] != "2025-10-06T08:00:00+00:00" {
				t.Errorf("duration %v stop %v, want a zero-length entry", e["duration"], e["stop"])
			}
		}},
		{"offset start", with("start", "2025-10-06T10:00:00+02:00"), 200, "", func(t *testing.T, e entryMap) {
			if e["start"] != "2025-10-06T08:00:00+00:00" {
				t.Errorf("start %v, want UTC", e["start"])
			}
		}},
		{"start_date wins", with("start_date", "2025-10-01"), 200, "", func(t *testing.T, e entryMap) {
			if e["start"] != "2025-10-01T08:00:00+00:00" {
				t.Errorf("start %v", e["start"])
			}
		}},
		{"legacy wid and pid", with("workspace_id", nil, "wid", f.ws, "pid", p), 200, "", func(t *testing.T, e entryMap) {
			if e["project_id"] != float64(p) {
				t.Errorf("project_id %v", e["project_id"])
			}
		}},
		{"task implies project", with("task_id", tk), 200, "", func(t *testing.T, e entryMap) {
			if e["project_id"] != float64(p) || e["task_id"] != float64(tk) {
				t.Errorf("project %v task %v", e["project_id"], e["task_id"])
			}
		}},
		{"own user_id", with("user_id", f.user, "tags", []string{"new-tag"}, "billable", true), 200, "", func(t *testing.T, e entryMap) {
			if e["billable"] != true || len(e["tag_ids"].([]any)) != 1 {
				t.Errorf("billable %v tag_ids %v", e["billable"], e["tag_ids"])
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.sim.Entries())
			r := f.do("POST", f.wsPath("/time_entries"), f.token, tc.body).want(t, tc.status)
			after := len(f.sim.Entries())
			if tc.status != 200 {
				if got := r.msg(t); got != tc.msg {
					t.Errorf("body = %q, want %q", got, tc.msg)
				}
				if after != before {
					t.Errorf("a refused create stored an entry")
				}
				return
			}
			if after != before+1 {
				t.Fatalf("entries %d -> %d", before, after)
			}
			var e entryMap
			r.decode(t, &e)
			if e["workspace_id"] != float64(f.ws) || e["user_id"] != float64(f.user) || e["at"] != fmtTime(t0) || e["server_deleted_at"] != nil {
				t.Errorf("created entry %v", e)
			}
			stored, ok := f.sim.Entry(int64(e["id"].(float64)))
			if !ok || stored.CreatedWith == "" {
				t.Errorf("stored %+v", stored)
			}
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
	if tag := f.sim.tagByName(f.ws, "new-tag"); tag == nil {
		t.Error("unknown tag name was not created")
	}
}

func TestCreateRunningStopsPrevious(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	first := f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws, Start: t0.Add(-time.Hour)})
	f.clock.Advance(time.Minute)
	var e entryMap
	f.do("POST", f.wsPath("/time_entries"), f.token, map[string]any{
		"created_with": "t", "workspace_id": f.ws, "start": fmtTime(f.clock.Now()), "duration": -1,
	}).want(t, 200).decode(t, &e)
	if e["stop"] != nil || e["duration"] != float64(-f.clock.Now().Unix()) {
		t.Errorf("new entry stop %v duration %v, want running", e["stop"], e["duration"])
	}
	prev, _ := f.sim.Entry(first)
	if prev.Running() || !prev.Stop.Equal(f.clock.Now()) || !prev.At.Equal(f.clock.Now()) {
		t.Errorf("previous entry %+v, want stopped at the new start with at bumped", prev)
	}
	var cur entryMap
	f.get("/api/v9/me/time_entries/current").want(t, 200).decode(t, &cur)
	if cur["id"] != e["id"] {
		t.Errorf("current %v, want %v", cur["id"], e["id"])
	}
}

func TestStopEntry(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	running := f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws, Start: t0.Add(-time.Hour)})
	f.clock.Advance(90 * time.Second)
	var e entryMap
	f.do("PATCH", f.wsPath("/time_entries/%d/stop", running), f.token, nil).want(t, 200).decode(t, &e)
	now := f.clock.Now()
	if e["stop"] != fmtTime(now) || e["duration"] != float64(3690) || e["at"] != fmtTime(now) {
		t.Errorf("stopped entry %v", e)
	}
	r := f.do("PATCH", f.wsPath("/time_entries/%d/stop", running), f.token, nil).want(t, http.StatusConflict)
	if got := r.msg(t); got != "Time entry already stopped" {
		t.Errorf("409 body = %q", got)
	}
	r = f.do("PATCH", f.wsPath("/time_entries/4999999999/stop"), f.token, nil).want(t, 404)
	if got := r.msg(t); got != "Time entry not found" {
		t.Errorf("404 body = %q", got)
	}
	f.do("PATCH", f.wsPath("/time_entries/0/stop"), f.token, nil).want(t, 400)
	f.get("/api/v9/me/time_entries/current").want(t, 404)
}

func TestUpdateEntry(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	p := f.sim.AddProject(f.ws, 0, "P", false)
	id := f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws, ProjectID: p, Description: "old",
		Start: t0.Add(-2 * time.Hour), Duration: time.Hour, Tags: []string{"a", "b"}})
	put := func(body any) resp {
		t.Helper()
		f.clock.Advance(time.Minute)
		return f.do("PUT", f.wsPath("/time_entries/%d", id), f.token, body)
	}
	steps := []struct {
		name  string
		body  any
		check func(e Entry) bool
	}{
		{"description", map[string]any{"description": "new"}, func(e Entry) bool {
			return e.Description == "new" && e.ProjectID == p && slices.Equal(e.Tags, []string{"a", "b"})
		}},
		{"tags replace", map[string]any{"tags": []string{"c"}}, func(e Entry) bool { return slices.Equal(e.Tags, []string{"c"}) }},
		{"tag_action add", map[string]any{"tags": []string{"Dee", "c"}, "tag_action": "add"}, func(e Entry) bool {
			return slices.Equal(e.Tags, []string{"c", "Dee"})
		}},
		{"tag_action delete", map[string]any{"tags": []string{"C"}, "tag_action": "delete"}, func(e Entry) bool {
			return slices.Equal(e.Tags, []string{"Dee"})
		}},
		{"clear project", `{"project_id": null}`, func(e Entry) bool { return e.ProjectID == 0 }},
		{"move start keeps stop", map[string]any{"start": "2025-10-06T10:30:00Z"}, func(e Entry) bool {
			return e.Start.Equal(t0.Add(-90*time.Minute)) && e.Stop.Equal(t0.Add(-time.Hour))
		}},
		{"duration sets stop", map[string]any{"duration": 600}, func(e Entry) bool { return e.Stop.Equal(e.Start.Add(10 * time.Minute)) }},
		{"negative duration restarts", map[string]any{"duration": -1}, func(e Entry) bool { return e.Running() }},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := put(s.body).want(t, 200)
			var j entryMap
			r.decode(t, &j)
			e, _ := f.sim.Entry(id)
			if !s.check(e) {
				t.Errorf("entry after update: %+v", e)
			}
			if !e.At.Equal(f.clock.Now()) || j["at"] != fmtTime(f.clock.Now()) {
				t.Errorf("at = %s (json %v), want bumped to %s", e.At, j["at"], f.clock.Now())
			}
			// since picks up the change.
			if !slices.Contains(ids(f.listEntries(fmt.Sprintf("?since=%d", f.clock.Now().Unix()))), id) {
				t.Error("since did not return the updated entry")
			}
		})
	}
	refused := []struct {
		name   string
		body   any
		status int
	}{
		{"stop before start", map[string]any{"stop": "2000-01-01T00:00:00Z"}, 400},
		{"workspace change", map[string]any{"workspace_id": 1}, 400},
		{"bad tag_action", map[string]any{"tags": []string{"x"}, "tag_action": "toggle"}, 400},
		{"bad JSON", "[", 400},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := f.sim.Entry(id)
			put(tc.body).want(t, tc.status)
			if after, _ := f.sim.Entry(id); !after.At.Equal(before.At) || !slices.Equal(after.Tags, before.Tags) {
				t.Errorf("refused update changed the entry: %+v -> %+v", before, after)
			}
		})
	}
	f.do("PUT", f.wsPath("/time_entries/4999999999"), f.token, map[string]any{"description": "x"}).want(t, 404)
}

func TestGoSideUpdateBumpsAt(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	id := f.entry("x", time.Hour, time.Minute)
	f.clock.Advance(time.Hour)
	if err := f.sim.UpdateEntry(id, func(e *Entry) { e.Description = "y"; e.ID = 1 }); err != nil {
		t.Fatal(err)
	}
	e, ok := f.sim.Entry(id)
	if !ok || e.Description != "y" || !e.At.Equal(f.clock.Now()) {
		t.Errorf("entry %+v, want description y and at %s", e, f.clock.Now())
	}
}

func TestGoSideDeleteIsATombstone(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	id := f.entry("x", time.Hour, time.Minute)
	f.clock.Advance(time.Hour)
	if err := f.sim.DeleteEntry(id); err != nil {
		t.Fatal(err)
	}
	e, _ := f.sim.Entry(id)
	if !e.Deleted() || !e.DeletedAt.Equal(f.clock.Now()) || !e.At.Equal(f.clock.Now()) {
		t.Errorf("deleted entry %+v, want deleted and at bumped to %s", e, f.clock.Now())
	}
	es := f.listEntries(fmt.Sprintf("?since=%d", f.clock.Now().Unix()))
	if len(es) != 1 || es[0]["server_deleted_at"] != fmtTime(f.clock.Now()) {
		t.Errorf("since after delete = %v, want the tombstone", es)
	}
	if len(f.listEntries("")) != 0 {
		t.Error("deleted entry listed without since")
	}
}

func TestDeleteEntry(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	bob, bobToken := f.addUser("bob")
	id := f.entry("x", time.Hour, time.Minute)
	bobs := f.sim.AddEntry(NewEntry{UserID: bob, WorkspaceID: f.ws, Start: t0.Add(-time.Hour), Duration: time.Minute})
	f.clock.Advance(time.Minute)

	r := f.do("DELETE", f.wsPath("/time_entries/%d", id), f.token, nil).want(t, 200)
	if len(r.body) != 0 {
		t.Errorf("delete body = %q, want empty", r.body)
	}
	e, _ := f.sim.Entry(id)
	if !e.DeletedAt.Equal(f.clock.Now()) || !e.At.Equal(f.clock.Now()) {
		t.Errorf("deleted entry %+v", e)
	}
	f.do("DELETE", f.wsPath("/time_entries/%d", id), f.token, nil).want(t, 404)
	f.do("DELETE", f.wsPath("/time_entries/%d", bobs), f.token, nil).want(t, 404)
	f.do("DELETE", f.wsPath("/time_entries/%d", bobs), bobToken, nil).want(t, 200)
}
