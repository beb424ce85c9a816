package toggl_test

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/toggl/togglsim"
)

// TestMineBackfillDates: the first pull reads exactly start_date..end_date (end inclusive) in
// one request, leaves out deleted entries and other users', keeps the running entry, and maps
// every field.
func TestMineBackfillDates(t *testing.T) {
	f := newFixture(t, togglsim.Options{})
	bob := f.member("Bob")
	rich := f.sim.AddEntry(togglsim.NewEntry{
		UserID: f.ann, WorkspaceID: f.ws, ProjectID: f.project, TaskID: f.task,
		Description: "Homepage mockups", Start: day(3).Add(9*time.Hour + 15*time.Minute), Duration: 90 * time.Minute,
		Billable: true, Tags: []string{"design", "client"},
	})
	bare := f.entry(f.ann, day(4).Add(8*time.Hour), 45*time.Minute)
	first := f.entry(f.ann, day(1), 30*time.Minute)
	last := f.entry(f.ann, day(9).Add(-time.Second), 30*time.Minute)
	f.entry(f.ann, day(1).Add(-time.Second), time.Hour) // before start_date
	f.entry(f.ann, day(9), time.Hour)                   // after end_date
	deleted := f.entry(f.ann, day(5).Add(10*time.Hour), time.Hour)
	if err := f.sim.DeleteEntry(deleted); err != nil {
		t.Fatal(err)
	}
	f.entry(bob, day(3).Add(10*time.Hour), time.Hour)
	running := f.entry(f.ann, day(8).Add(16*time.Hour), 0)
	f.clock.Advance(time.Hour)

	src := f.source(t, connectors.Values{"start_date": day(1), "end_date": day(8)})
	b := pull(t, src, "")

	got := requireIDs(t, b.Entries, rich, bare, first, last, running)
	wantRich := connectors.Entry{
		ID:          strconv.FormatInt(rich, 10),
		WorkspaceID: f.ws,
		ProjectID:   f.project,
		Project:     "Website",
		Client:      "Globex",
		TaskID:      f.task,
		Task:        "Mockups",
		UserID:      f.ann,
		User:        "Ann Example",
		Description: "Homepage mockups",
		Start:       day(3).Add(9*time.Hour + 15*time.Minute),
		Stop:        day(3).Add(10*time.Hour + 45*time.Minute),
		Duration:    5400,
		Billable:    true,
		Tags:        []string{"design", "client"},
		UpdatedAt:   t0,
	}
	if e := got[wantRich.ID]; !reflect.DeepEqual(e, wantRich) {
		t.Errorf("entry with every field:\n got %+v\nwant %+v", e, wantRich)
	}
	e := got[strconv.FormatInt(bare, 10)]
	if e.ProjectID != 0 || e.Project != "" || e.Client != "" || e.TaskID != 0 || e.Task != "" ||
		e.Description != "" || e.Billable || len(e.Tags) != 0 || e.Duration != 2700 || e.Deleted {
		t.Errorf("bare entry = %+v, want no project, task, description, tags; 2700 s", e)
	}
	e = got[strconv.FormatInt(running, 10)]
	if e.Duration != -1 || !e.Stop.IsZero() || !e.Running() || e.Deleted {
		t.Errorf("running entry: duration %d, stop %v; want -1 and no stop", e.Duration, e.Stop)
	}
	if e.Start != day(8).Add(16*time.Hour) {
		t.Errorf("running entry starts %v", e.Start)
	}

	if want := sinceCursor(t0.Add(time.Hour - 5*time.Second)); b.Next != want {
		t.Errorf("Next = %q, want %q (server time less 5 s)", b.Next, want)
	}
	if b.Snapshot != nil {
		t.Errorf("Snapshot = %v, want nil for entries: mine", b.Snapshot)
	}
	ex := f.rec.exchanges()
	if len(ex) != 1 {
		t.Fatalf("%d requests, want 1", len(ex))
	}
	q := ex[0].Query
	if ex[0].Method != http.MethodGet || ex[0].Path != "/api/v9/me/time_entries" ||
		q.Get("start_date") != "2026-03-01T00:00:00Z" || q.Get("end_date") != "2026-03-09T00:00:00Z" ||
		q.Get("meta") != "true" || q.Has("since") {
		t.Errorf("request %s %s?%s, want GET /api/v9/me/time_entries for start_date 2026-03-01, end_date 2026-03-09 (exclusive), meta=true",
			ex[0].Method, ex[0].Path, q.Encode())
	}
	if st := f.sim.Stats(); st.ByBucket["user"] != 1 || st.Charged != 1 {
		t.Errorf("quota charged %v, want one request from the user bucket", st.ByBucket)
	}
}

// TestMineBackfillDuration: without start_date the first pull reads back `backfill` from
// midnight UTC of that day, through the end of today.
func TestMineBackfillDuration(t *testing.T) {
	f := newFixture(t, togglsim.Options{})
	f.entry(f.ann, day(1).AddDate(0, 0, -21).Add(-time.Second), time.Hour) // 2026-02-07 23:59:59, never read
	feb8 := f.entry(f.ann, day(1).AddDate(0, 0, -21), time.Hour)           // 2026-02-08 00:00
	mar6 := f.entry(f.ann, day(7).Add(-time.Second), time.Hour)
	mar7 := f.entry(f.ann, day(7), time.Hour)
	today := f.entry(f.ann, day(10).Add(13*time.Hour), time.Hour)
	f.clock.Advance(time.Hour) // 2026-03-10 15:30

	for _, tc := range []struct {
		name string
		set  connectors.Values
		from string
		want []int64
	}{
		{name: "default 30d", set: nil, from: "2026-02-08T00:00:00Z", want: []int64{feb8, mar6, mar7, today}},
		{name: "3d", set: connectors.Values{"backfill": 72 * time.Hour}, from: "2026-03-07T00:00:00Z", want: []int64{mar7, today}},
		{name: "1d12h", set: connectors.Values{"backfill": 36 * time.Hour}, from: "2026-03-09T00:00:00Z", want: []int64{today}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.rec.exchanges())
			b := pull(t, f.source(t, tc.set), "")
			requireIDs(t, b.Entries, tc.want...)
			ex := f.rec.exchanges()[before:]
			if len(ex) != 1 {
				t.Fatalf("%d requests, want 1", len(ex))
			}
			if q := ex[0].Query; q.Get("start_date") != tc.from || q.Get("end_date") != "2026-03-11T00:00:00Z" {
				t.Errorf("window %s..%s, want %s..2026-03-11T00:00:00Z", q.Get("start_date"), q.Get("end_date"), tc.from)
			}
		})
	}
}

// TestMineIncremental: later pulls send one since= request and return what changed: edits,
// deletions as tombstones (even outside the dates), a stopped timer, new entries; changes
// outside start_date..end_date are dropped; the cursor only moves forward. The same holds
// when the connection shares its reads between workflows, as the engine sets it up.
func TestMineIncremental(t *testing.T) {
	t.Run("alone", func(t *testing.T) { testMineIncremental(t, nil) })
	t.Run("shared", func(t *testing.T) { testMineIncremental(t, &connectors.Shared{}) })
}

func testMineIncremental(t *testing.T, shared *connectors.Shared) {
	f := newFixture(t, togglsim.Options{})
	bob := f.member("Bob")
	rich := f.sim.AddEntry(togglsim.NewEntry{
		UserID: f.ann, WorkspaceID: f.ws, ProjectID: f.project, Description: "Homepage",
		Start: day(3).Add(9 * time.Hour), Duration: time.Hour, Tags: []string{"design", "client"},
	})
	bare := f.entry(f.ann, day(4).Add(8*time.Hour), 45*time.Minute)
	before := f.entry(f.ann, day(1).Add(-time.Hour), time.Hour)
	after := f.entry(f.ann, day(9).Add(9*time.Hour), time.Hour)
	bobs := f.entry(bob, day(3).Add(10*time.Hour), time.Hour)
	running := f.entry(f.ann, day(8).Add(16*time.Hour), 0)
	src := sharedSource(t, f.srv, f.token, f.clock, shared, connectors.Values{"start_date": day(1), "end_date": day(8)})

	f.clock.Advance(time.Hour)
	b := pull(t, src, "")
	requireIDs(t, b.Entries, rich, bare, running)
	cursors := []connectors.Cursor{b.Next}

	// Nothing changed: one request, nothing returned.
	f.clock.Advance(15 * time.Minute)
	n := len(f.rec.exchanges())
	b = pull(t, src, b.Next)
	if len(b.Entries) != 0 {
		t.Errorf("pull without changes returned %d entries, want none: %+v", len(b.Entries), b.Entries)
	}
	ex := f.rec.exchanges()[n:]
	if len(ex) != 1 {
		t.Fatalf("pull without changes sent %d requests, want 1", len(ex))
	}
	if q := ex[0].Query; q.Get("since") != strconv.FormatInt(sinceOf(t, cursors[0]), 10) ||
		q.Get("meta") != "true" || q.Has("start_date") || q.Has("end_date") {
		t.Errorf("incremental request ?%s, want since=<cursor>&meta=true only", q.Encode())
	}
	cursors = append(cursors, b.Next)

	// Changes.
	f.clock.Advance(10 * time.Minute)
	changed := f.clock.Now()
	edit := func(id int64, fn func(*togglsim.Entry)) {
		t.Helper()
		if err := f.sim.UpdateEntry(id, fn); err != nil {
			t.Fatal(err)
		}
	}
	edit(rich, func(e *togglsim.Entry) { e.Description, e.Tags = "Homepage v2", []string{"design"} })
	edit(before, func(e *togglsim.Entry) { e.Description = "outside the dates" })
	edit(bobs, func(e *togglsim.Entry) { e.Description = "not mine" })
	for _, id := range []int64{bare, after} {
		if err := f.sim.DeleteEntry(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.sim.StopEntry(running, day(8).Add(18*time.Hour)); err != nil {
		t.Fatal(err)
	}
	added := f.entry(f.ann, day(7).Add(10*time.Hour), 20*time.Minute)

	n = len(f.rec.exchanges())
	b = pull(t, src, b.Next)
	if ex := f.rec.exchanges()[n:]; len(ex) != 1 {
		t.Errorf("incremental pull sent %d requests, want 1", len(ex))
	}
	got := requireIDs(t, b.Entries, rich, bare, running, added, after)
	if e := got[strconv.FormatInt(rich, 10)]; e.Description != "Homepage v2" || !slices.Equal(e.Tags, []string{"design"}) ||
		!e.UpdatedAt.Equal(changed) || e.Deleted {
		t.Errorf("edited entry = %+v, want the new description and tags, updated at %v", e, changed)
	}
	for _, id := range []int64{bare, after} {
		if e := got[strconv.FormatInt(id, 10)]; !e.Deleted {
			t.Errorf("entry %d was deleted but came back with Deleted=false", id)
		}
	}
	if e := got[strconv.FormatInt(running, 10)]; e.Duration != 7200 || !e.Stop.Equal(day(8).Add(18*time.Hour)) || e.Running() {
		t.Errorf("stopped entry: duration %d, stop %v; want 7200 and %v", e.Duration, e.Stop, day(8).Add(18*time.Hour))
	}
	for _, id := range []int64{rich, running, added} {
		if got[strconv.FormatInt(id, 10)].Deleted {
			t.Errorf("live entry %d came back as a tombstone", id)
		}
	}
	if want := sinceCursor(changed.Add(-5 * time.Second)); b.Next != want {
		t.Errorf("Next = %q, want %q", b.Next, want)
	}
	cursors = append(cursors, b.Next)

	// The 5 s overlap reads the same changes once more, then they are behind the cursor.
	f.clock.Advance(10 * time.Minute)
	b = pull(t, src, b.Next)
	requireIDs(t, b.Entries, rich, bare, running, added, after)
	cursors = append(cursors, b.Next)
	b = pull(t, src, b.Next)
	if len(b.Entries) != 0 {
		t.Errorf("pull past the overlap returned %d entries, want none", len(b.Entries))
	}
	cursors = append(cursors, b.Next)

	for i := 1; i < len(cursors); i++ {
		if sinceOf(t, cursors[i]) < sinceOf(t, cursors[i-1]) {
			t.Errorf("cursor went backwards: %q then %q", cursors[i-1], cursors[i])
		}
	}
}

// TestMineRunningDuration: whichever way Toggl reports a running entry's duration (minus the
// start epoch, or -1), the entry says -1.
func TestMineRunningDuration(t *testing.T) {
	for _, mode := range []string{togglsim.RunningNegativeStart, togglsim.RunningMinusOne} {
		t.Run(mode, func(t *testing.T) {
			f := newFixture(t, togglsim.Options{RunningDuration: mode})
			id := f.entry(f.ann, t0.Add(-2*time.Hour), 0)
			b := pull(t, f.source(t, nil), "")
			got := requireIDs(t, b.Entries, id)
			if e := got[strconv.FormatInt(id, 10)]; e.Duration != -1 || !e.Stop.IsZero() {
				t.Errorf("running entry: duration %d, stop %v; want -1 and none", e.Duration, e.Stop)
			}
		})
	}
}

// TestMineBackfillSplitsAtRowCap: /me/time_entries answers at most 1000 rows; a backfill
// window that hits the cap is halved until every answer is below it, and every entry
// arrives exactly once.
func TestMineBackfillSplitsAtRowCap(t *testing.T) {
	f := newFixture(t, togglsim.Options{})
	const n = 2500
	want := make([]int64, 0, n)
	for i := range n {
		// Every 10 minutes from 2026-02-20: many entries start on the hours where the window is cut.
		start := day(1).AddDate(0, 0, -9).Add(time.Duration(i) * 10 * time.Minute)
		want = append(want, f.entry(f.ann, start, 5*time.Minute))
	}
	f.clock.Advance(time.Hour)
	src := f.source(t, connectors.Values{"start_date": day(1).AddDate(0, 0, -9), "end_date": day(9)})

	b := pull(t, src, "")
	requireIDs(t, b.Entries, want...)
	ex := f.rec.exchanges()
	if len(ex) < 3 {
		t.Errorf("%d requests; a window over the row cap must be split", len(ex))
	}
	for _, e := range ex {
		if e.Status != http.StatusOK || e.Query.Has("since") {
			t.Errorf("backfill request ?%s answered %d", e.Query.Encode(), e.Status)
		}
	}
	if want := sinceCursor(t0.Add(time.Hour - 5*time.Second)); b.Next != want {
		t.Errorf("Next = %q, want %q", b.Next, want)
	}
}

// TestMineCursorNeverGoesBackwards: a stored cursor ahead of the server's clock is kept.
func TestMineCursorNeverGoesBackwards(t *testing.T) {
	f := newFixture(t, togglsim.Options{})
	f.entry(f.ann, t0.Add(-3*time.Hour), time.Hour)
	f.clock.Advance(time.Hour)
	ahead := sinceCursor(t0.Add(24 * time.Hour))
	b := pull(t, f.source(t, nil), ahead)
	if b.Next != ahead {
		t.Errorf("Next = %q after a pull with cursor %q, want it unchanged", b.Next, ahead)
	}
	if len(b.Entries) != 0 {
		t.Errorf("got %d entries changed after the cursor, want none", len(b.Entries))
	}
}

// TestMineCursorFallback: without a usable Date header the cursor comes from the newest
// change seen, else from the clock, still 5 s early and never backwards.
func TestMineCursorFallback(t *testing.T) {
	clockNow := t0.Add(time.Hour)
	for _, tc := range []struct {
		name   string
		date   string // Date header; "" sends none
		body   string
		cursor connectors.Cursor
		want   connectors.Cursor
	}{
		{name: "server date", date: "Tue, 10 Mar 2026 15:00:00 GMT", body: `[]`, cursor: "",
			want: sinceCursor(time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC).Add(-5 * time.Second))},
		{name: "newest change", body: `[` + stubEntry(1, `"2026-03-10T14:00:00+00:00"`, "null") + `,` +
			stubEntry(2, `"2026-03-10T14:20:00+00:00"`, "null") + `]`, cursor: "",
			want: sinceCursor(time.Date(2026, 3, 10, 14, 20, 0, 0, time.UTC).Add(-5 * time.Second))},
		{name: "clock", body: `[]`, cursor: "", want: sinceCursor(clockNow.Add(-5 * time.Second))},
		{name: "server behind the cursor", date: "Tue, 10 Mar 2026 15:00:00 GMT", body: `[]`,
			cursor: sinceCursor(t0.Add(2 * time.Hour)), want: sinceCursor(t0.Add(2 * time.Hour))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.date == "" {
					w.Header()["Date"] = nil // keeps net/http from adding one
				} else {
					w.Header().Set("Date", tc.date)
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tc.body))
			})
			_, _, srv := server(t, stub)
			src := newSource(t, srv, "tok", fixedClock(clockNow), nil)
			b := pull(t, src, tc.cursor)
			if b.Next != tc.want {
				t.Errorf("Next = %q, want %q", b.Next, tc.want)
			}
		})
	}
}

// TestMineDecodesRealShapes: nulls where the swagger has none, offsets other than Z, running
// durations of minus the start epoch, tombstones: as real v9 answers send them.
func TestMineDecodesRealShapes(t *testing.T) {
	body := `[
	{"id": 4000000001, "workspace_id": 7, "project_id": null, "task_id": null, "billable": false,
	 "start": "2026-03-10T11:15:00+02:00", "stop": null, "duration": -1773134100, "description": null,
	 "tags": null, "tag_ids": null, "duronly": true, "at": "2026-03-10T11:16:00+02:00", "server_deleted_at": null,
	 "user_id": 9, "uid": 9, "wid": 7},
	{"id": 4000000002, "workspace_id": 7, "project_id": 11, "task_id": 12, "billable": true,
	 "start": "2026-03-09T08:00:00-05:00", "stop": "2026-03-09T09:00:00-05:00", "duration": 3600,
	 "description": "gone", "tags": ["a"], "tag_ids": [1], "duronly": true, "at": "2026-03-10T14:00:00Z",
	 "server_deleted_at": "2026-03-10T14:00:00Z", "user_id": 9, "uid": 9, "wid": 7}
	]`
	stub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	})
	_, _, srv := server(t, stub)
	src := newSource(t, srv, "tok", fixedClock(t0), nil)
	b := pull(t, src, sinceCursor(t0.Add(-time.Hour)))
	got := requireIDs(t, b.Entries, 4000000001, 4000000002)

	run := got["4000000001"]
	if !run.Start.Equal(time.Date(2026, 3, 10, 9, 15, 0, 0, time.UTC)) || run.Start.Location() != time.UTC {
		t.Errorf("start %v, want 09:15 in UTC", run.Start)
	}
	if run.UpdatedAt.Location() != time.UTC {
		t.Errorf("updated_at %v is not in UTC", run.UpdatedAt)
	}
	if run.Duration != -1 || !run.Stop.IsZero() || run.ProjectID != 0 || run.Description != "" || run.Deleted {
		t.Errorf("running entry with nulls = %+v", run)
	}
	gone := got["4000000002"]
	if !gone.Deleted || gone.ProjectID != 11 || gone.TaskID != 12 || gone.Stop.Location() != time.UTC ||
		!gone.Stop.Equal(time.Date(2026, 3, 9, 14, 0, 0, 0, time.UTC)) {
		t.Errorf("tombstone = %+v, want Deleted with project 11, task 12, stop 14:00 UTC", gone)
	}
}

// TestMineCorruptCursor: a cursor that is not since:<unix seconds> fails before any request,
// naming the cursor.
func TestMineCorruptCursor(t *testing.T) {
	f := newFixture(t, togglsim.Options{})
	src := f.source(t, nil)
	for _, c := range []connectors.Cursor{"since:abc", "since:", "since:-5", "1773150000", "workspace:2026-03-01", " since:1"} {
		t.Run(string(c), func(t *testing.T) {
			_, err := src.Pull(context.Background(), c)
			if err == nil {
				t.Fatalf("Pull(%q) succeeded", c)
			}
			if msg := err.Error(); !strings.Contains(msg, strconv.Quote(string(c))) || !strings.Contains(msg, "since:<unix seconds>") {
				t.Errorf("error %q should quote the cursor and say what a cursor looks like", msg)
			}
		})
	}
	if n := f.checked.Count(); n != 0 {
		t.Errorf("%d requests sent for corrupt cursors, want none", n)
	}
}

// stubEntry is a minimal /me/time_entries row with the given at and server_deleted_at.
func stubEntry(id int, at, deleted string) string {
	return `{"id": ` + strconv.Itoa(id) + `, "workspace_id": 1, "project_id": null, "task_id": null, "billable": false,
	"start": "2026-03-10T09:00:00+00:00", "stop": "2026-03-10T10:00:00+00:00", "duration": 3600, "description": "",
	"tags": [], "tag_ids": [], "duronly": true, "at": ` + at + `, "server_deleted_at": ` + deleted + `, "user_id": 1}`
}

// fixedClock is a clock that stands still, for sources behind stub handlers.
type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// TestMineTombstonesOnlyIncrementally: a deleted entry in a backfill answer is left out (there
// is nothing downstream to delete yet); in a since= answer it is a tombstone.
func TestMineTombstonesOnlyIncrementally(t *testing.T) {
	body := `[` + stubEntry(1, `"2026-03-10T09:00:00+00:00"`, "null") + `,` +
		stubEntry(2, `"2026-03-10T10:00:00+00:00"`, `"2026-03-10T10:00:00+00:00"`) + `]`
	stub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	})
	_, _, srv := server(t, stub)
	src := newSource(t, srv, "tok", fixedClock(t0), nil)

	requireIDs(t, pull(t, src, "").Entries, 1)
	got := requireIDs(t, pull(t, src, sinceCursor(t0.Add(-time.Hour))).Entries, 1, 2)
	if !got["2"].Deleted || got["1"].Deleted {
		t.Errorf("since= pull: entry 1 deleted %v, entry 2 deleted %v; want false, true", got["1"].Deleted, got["2"].Deleted)
	}
}
