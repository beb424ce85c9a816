package togglsim

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"zero", Options{}, true},
		{"all set", Options{UserQuota: 5, ThrottleRate: -1, ThrottleBurst: 2, AuthFailureStatus: 401,
			RunningDuration: RunningMinusOne, CurrentEntryNone: CurrentNoneNull, MeEntriesCap: 5,
			MeEntriesMaxAge: time.Hour, PlanQuota: map[Plan]int{PlanFree: 1}}, true},
		{"negative user quota", Options{UserQuota: -1}, false},
		{"negative burst", Options{ThrottleBurst: -1}, false},
		{"auth 500", Options{AuthFailureStatus: 500}, false},
		{"duration mode", Options{RunningDuration: "zero"}, false},
		{"current mode", Options{CurrentEntryNone: "204"}, false},
		{"negative cap", Options{MeEntriesCap: -1}, false},
		{"negative age", Options{MeEntriesMaxAge: -time.Hour}, false},
		{"negative log", Options{RequestLogSize: -1}, false},
		{"unknown plan", Options{PlanQuota: map[Plan]int{"gold": 10}}, false},
		{"zero plan quota", Options{PlanQuota: map[Plan]int{PlanFree: 0}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "togglsim: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			defer func() {
				if r := recover(); (r == nil) != tc.ok {
					t.Errorf("New panic = %v, want panic=%v", r, !tc.ok)
				}
			}()
			New(tc.opts)
		})
	}
}

func TestGoSideErrors(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	stopped := f.entry("s", time.Hour, time.Minute)
	running := f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws, Start: t0.Add(-time.Minute)})
	deleted := f.entry("d", time.Hour, time.Minute)
	if err := f.sim.DeleteEntry(deleted); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"update unknown", f.sim.UpdateEntry(1, func(*Entry) {}), ErrNotFound},
		{"update deleted", f.sim.UpdateEntry(deleted, func(*Entry) {}), ErrNotFound},
		{"update stop before start", f.sim.UpdateEntry(stopped, func(e *Entry) { e.Stop = e.Start.Add(-time.Second) }), ErrInvalidEntry},
		{"update unknown project", f.sim.UpdateEntry(stopped, func(e *Entry) { e.ProjectID = 5 }), ErrInvalidEntry},
		{"delete deleted", f.sim.DeleteEntry(deleted), ErrNotFound},
		{"delete unknown", f.sim.DeleteEntry(7), ErrNotFound},
		{"stop stopped", f.sim.StopEntry(stopped, t0), ErrAlreadyStopped},
		{"stop unknown", f.sim.StopEntry(8, t0), ErrNotFound},
		{"stop running", f.sim.StopEntry(running, t0.Add(-time.Hour)), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) {
				t.Errorf("err = %v, want %v", tc.err, tc.want)
			}
		})
	}
	// The failed edits left the entry as it was; the stop was clamped to the start.
	if e, _ := f.sim.Entry(stopped); e.ProjectID != 0 || e.Stop.Before(e.Start) {
		t.Errorf("discarded edit leaked: %+v", e)
	}
	if e, _ := f.sim.Entry(running); !e.Stop.Equal(e.Start) || e.Running() {
		t.Errorf("stopped entry %+v, want stop clamped to start", e)
	}
}

func TestEntryReturnsCopy(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	id := f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws, Start: t0, Duration: time.Minute, Tags: []string{"a"}})
	e, ok := f.sim.Entry(id)
	if !ok {
		t.Fatal("entry missing")
	}
	e.Tags[0] = "mutated"
	if again, _ := f.sim.Entry(id); again.Tags[0] != "a" {
		t.Errorf("Entry shares its tags slice with the store")
	}
	if _, ok := f.sim.Entry(id + 1); ok {
		t.Error("unknown id found")
	}
}

func TestSeedingPanics(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	outsider := f.sim.AddUser("Out", "out@example.com", "tok-out")
	cases := map[string]func(){
		"unknown plan":       func() { f.sim.AddOrganization("x", "gold") },
		"workspace, no org":  func() { f.sim.AddWorkspace(1, "x") },
		"empty token":        func() { f.sim.AddUser("x", "x", "") },
		"duplicate token":    func() { f.sim.AddUser("x", "x", f.token) },
		"member, no ws":      func() { f.sim.AddMember(1, f.user) },
		"project, no client": func() { f.sim.AddProject(f.ws, 1, "x", false) },
		"task, no project":   func() { f.sim.AddTask(1, "x") },
		"entry, non-member":  func() { f.sim.AddEntry(NewEntry{UserID: outsider, WorkspaceID: f.ws}) },
		"entry, bad task":    func() { f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws, TaskID: 3}) },
		"negative duration":  func() { f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws, Duration: -time.Second}) },
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.HasPrefix(s, "togglsim: ") {
					t.Errorf("panic = %v, want a togglsim message", r)
				}
			}()
			fn()
		})
	}
}

func TestIDsIncrease(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	a := f.entry("a", time.Hour, time.Minute)
	b := f.entry("b", time.Hour, time.Minute)
	if a < 4_000_000_000 || b != a+1 {
		t.Errorf("entry ids %d, %d", a, b)
	}
	w2 := f.sim.AddWorkspace(f.org, "w2")
	if w2 != f.ws+1 {
		t.Errorf("workspace ids %d, %d", f.ws, w2)
	}
}

func TestStatsAndRequestLog(t *testing.T) {
	f := newFixture(t, Options{RequestLogSize: 3, UserQuota: 2}, PlanFree)
	f.get("/api/v9/me").want(t, 200)
	f.clock.Advance(time.Second)
	f.get(f.wsPath("/tags")).want(t, 200)
	f.do("GET", "/api/v9/me", "bad", nil).want(t, 403)
	f.get("/api/v9/me/nope").want(t, 404)
	f.get("/api/v9/me").want(t, 402)

	st := f.sim.Stats()
	want := Stats{Requests: 5, Charged: 3, QuotaExceeded: 1, AuthFailed: 1}
	if st.Requests != want.Requests || st.Charged != want.Charged || st.QuotaExceeded != want.QuotaExceeded || st.AuthFailed != want.AuthFailed {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if st.ByStatus[200] != 2 || st.ByStatus[403] != 1 || st.ByStatus[404] != 1 || st.ByStatus[402] != 1 {
		t.Errorf("by status %v", st.ByStatus)
	}
	if st.ByBucket["user"] != 2 || st.ByBucket["org:"+itoa(f.org)] != 1 {
		t.Errorf("by bucket %v", st.ByBucket)
	}
	st.ByStatus[200] = 99 // a copy
	if f.sim.Stats().ByStatus[200] != 2 {
		t.Error("Stats shares its maps")
	}

	log := f.sim.Requests()
	if len(log) != 3 {
		t.Fatalf("log has %d requests, want the last 3", len(log))
	}
	paths := []string{log[0].Path, log[1].Path, log[2].Path}
	if !slices.Equal(paths, []string{"/api/v9/me", "/api/v9/me/nope", "/api/v9/me"}) {
		t.Errorf("paths %v", paths)
	}
	if l := log[0]; l.Status != 403 || l.UserID != 0 || l.Bucket != "" || l.Charged {
		t.Errorf("auth failure logged as %+v", l)
	}
	if l := log[2]; l.Status != 402 || l.UserID != f.user || l.Bucket != "user" || l.Charged || !l.Time.Equal(t0.Add(time.Second)) {
		t.Errorf("402 logged as %+v", l)
	}
	for i := 0; i < 10; i++ {
		f.get("/api/v9/me")
	}
	if n := len(f.sim.Requests()); n != 3 {
		t.Errorf("log length %d after more requests, want 3", n)
	}

	f.sim.ResetStats()
	if st := f.sim.Stats(); st.Requests != 0 || len(st.ByStatus) != 0 || len(f.sim.Requests()) != 0 {
		t.Errorf("after reset: %+v, %d logged", st, len(f.sim.Requests()))
	}
	// Quota is not reset with the stats.
	if q := f.sim.Quota(f.token, "user"); q.Used != 2 {
		t.Errorf("used = %d, want 2", q.Used)
	}
}
