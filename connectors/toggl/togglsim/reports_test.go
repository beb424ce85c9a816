package togglsim

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"
)

type reportRow struct {
	UserID      int64    `json:"user_id"`
	Username    string   `json:"username"`
	ProjectID   *int64   `json:"project_id"`
	ProjectName *string  `json:"project_name"`
	ClientName  *string  `json:"client_name"`
	TaskName    *string  `json:"task_name"`
	TagNames    []string `json:"tag_names"`
	Description string   `json:"description"`
	Billable    bool     `json:"billable"`
	TagIDs      []int64  `json:"tag_ids"`
	RowNumber   int      `json:"row_number"`
	TimeEntries []struct {
		ID      int64  `json:"id"`
		Seconds int64  `json:"seconds"`
		Start   string `json:"start"`
		Stop    string `json:"stop"`
		At      string `json:"at"`
		AtTZ    string `json:"at_tz"`
	} `json:"time_entries"`
}

// seedReport gives Ann and Bob n entries each, one every 30 minutes from Oct 1, plus a
// deleted and a running entry that must never appear.
func seedReport(f *fixture, n int) (all []int64, hidden []int64) {
	bob, _ := f.addUser("bob")
	start := time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		for _, u := range []int64{f.user, bob} {
			all = append(all, f.sim.AddEntry(NewEntry{UserID: u, WorkspaceID: f.ws, Description: fmt.Sprint("e", i),
				Start: start.Add(time.Duration(i) * 30 * time.Minute), Duration: 20 * time.Minute}))
		}
	}
	gone := f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws, Start: start, Duration: time.Minute})
	_ = f.sim.DeleteEntry(gone)
	running := f.sim.AddEntry(NewEntry{UserID: bob, WorkspaceID: f.ws, Start: t0.Add(-time.Minute)})
	return all, []int64{gone, running}
}

// report posts body and returns rows and the response.
func (f *fixture) report(body any) ([]reportRow, resp) {
	f.t.Helper()
	r := f.do("POST", f.reportsPath(), f.token, body).want(f.t, 200)
	var rows []reportRow
	r.decode(f.t, &rows)
	return rows, r
}

func TestReportsPagingReturnsEveryRowOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pageSize int // 0 = default
		orderDir string
		pages    int
	}{
		{"default page size", 0, "", 3},
		{"page size 40 desc", 40, "DESC", 4},
		{"page size 137", 137, "ASC", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, Options{}, PlanStarter)
			all, hidden := seedReport(f, 68) // 136 rows + the running/deleted ones hidden
			all = append(all, f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws, Description: "last",
				Start: time.Date(2025, 10, 5, 23, 0, 0, 0, time.UTC), Duration: time.Minute}))
			body := map[string]any{"start_date": "2025-10-01", "end_date": "2025-10-06"}
			if tc.pageSize != 0 {
				body["page_size"] = tc.pageSize
			}
			if tc.orderDir != "" {
				body["order_dir"] = tc.orderDir
			}
			seen := map[int64]int{}
			var order []int64
			pages := 0
			for {
				rows, r := f.report(body)
				pages++
				if r.header.Get("X-Range-Start") != "2025-10-01" || r.header.Get("X-Range-End") != "2025-10-06" {
					t.Errorf("range headers %q..%q", r.header.Get("X-Range-Start"), r.header.Get("X-Range-End"))
				}
				size := tc.pageSize
				if size == 0 {
					size = DefaultReportPageSize
				}
				if len(rows) > size {
					t.Fatalf("page %d has %d rows, more than %d", pages, len(rows), size)
				}
				for _, row := range rows {
					if len(row.TimeEntries) != 1 {
						t.Fatalf("ungrouped row has %d entries", len(row.TimeEntries))
					}
					id := row.TimeEntries[0].ID
					seen[id]++
					order = append(order, id)
					if row.RowNumber != len(order) {
						t.Errorf("row_number = %d, want %d", row.RowNumber, len(order))
					}
				}
				nextID, nextRow := r.header.Get("X-Next-ID"), r.header.Get("X-Next-Row-Number")
				if (nextID == "") != (nextRow == "") {
					t.Fatalf("X-Next-ID %q and X-Next-Row-Number %q must come together", nextID, nextRow)
				}
				if nextID == "" {
					break
				}
				if len(rows) != size {
					t.Errorf("page %d has %d rows but another page follows", pages, len(rows))
				}
				if pages > 10 {
					t.Fatal("paging does not end")
				}
				id, _ := strconv.ParseInt(nextID, 10, 64)
				rowNo, _ := strconv.Atoi(nextRow)
				if rowNo != len(order)+1 {
					t.Errorf("X-Next-Row-Number = %d, want %d", rowNo, len(order)+1)
				}
				body["first_id"], body["first_row_number"] = id, rowNo
			}
			if pages != tc.pages {
				t.Errorf("pages = %d, want %d", pages, tc.pages)
			}
			for _, id := range all {
				if seen[id] != 1 {
					t.Errorf("entry %d seen %d times", id, seen[id])
				}
			}
			for _, id := range hidden {
				if seen[id] != 0 {
					t.Errorf("hidden entry %d reported", id)
				}
			}
			if len(seen) != len(all) {
				t.Errorf("saw %d distinct entries, want %d", len(seen), len(all))
			}
			want := slices.Clone(all) // ids grow with start time, Ann before Bob
			if tc.orderDir == "DESC" {
				slices.Reverse(want)
			}
			if !slices.Equal(order, want) {
				t.Errorf("order differs from start order %s", tc.orderDir)
			}
		})
	}
}

// TestReportsPagingRealigns: a row deleted between pages does not make the next page skip
// or repeat rows, because first_id wins over the shifted row number.
func TestReportsPagingRealigns(t *testing.T) {
	f := newFixture(t, Options{}, PlanStarter)
	all, _ := seedReport(f, 10)
	body := map[string]any{"start_date": "2025-10-01", "end_date": "2025-10-02", "page_size": 5}
	rows, r := f.report(body)
	if err := f.sim.DeleteEntry(rows[0].TimeEntries[0].ID); err != nil {
		t.Fatal(err)
	}
	id, _ := strconv.ParseInt(r.header.Get("X-Next-ID"), 10, 64)
	rowNo, _ := strconv.Atoi(r.header.Get("X-Next-Row-Number"))
	body["first_id"], body["first_row_number"] = id, rowNo
	next, _ := f.report(body)
	if next[0].TimeEntries[0].ID != all[5] {
		t.Errorf("next page starts at %d, want %d", next[0].TimeEntries[0].ID, all[5])
	}
	if next[0].RowNumber != 5 {
		t.Errorf("row_number = %d, want 5 after one earlier row vanished", next[0].RowNumber)
	}
}

// TestReportsFirstRowNumberAlone: first_row_number positions the page without first_id.
func TestReportsFirstRowNumberAlone(t *testing.T) {
	f := newFixture(t, Options{}, PlanStarter)
	all, _ := seedReport(f, 5)
	rows, r := f.report(map[string]any{"start_date": "2025-10-01", "end_date": "2025-10-02", "page_size": 4, "first_row_number": 3})
	if len(rows) != 4 || rows[0].TimeEntries[0].ID != all[2] || rows[0].RowNumber != 3 {
		t.Fatalf("page from row 3: %+v", rows)
	}
	if got := r.header.Get("X-Next-Row-Number"); got != "7" {
		t.Errorf("X-Next-Row-Number = %q, want 7", got)
	}
	rows, r = f.report(map[string]any{"start_date": "2025-10-01", "end_date": "2025-10-02", "page_size": 4, "first_row_number": 7})
	if len(rows) != 4 || rows[3].RowNumber != 10 || r.header.Get("X-Next-ID") != "" {
		t.Errorf("last page: %d rows, next %q", len(rows), r.header.Get("X-Next-ID"))
	}
}

func TestReportsValidation(t *testing.T) {
	f := newFixture(t, Options{}, PlanStarter)
	cases := []struct {
		name string
		body any
		msg  string
	}{
		{"empty body", "", "At least one parameter must be set"},
		{"empty object", "{}", "At least one parameter must be set"},
		{"null", "null", "At least one parameter must be set"},
		{"not an object", "[1]", msgBadJSON},
		{"broken JSON", `{"start_date":`, msgBadJSON},
		{"trailing data", `{"start_date":"2025-10-01"} {}`, msgBadJSON},
		{"unknown field", `{"start_date":"2025-10-01","per_page":10}`, "Unknown parameter 'per_page'"},
		{"wrong type", `{"page_size":"ten"}`, "Invalid 'page_size' value"},
		{"end before start", `{"start_date":"2025-10-05","end_date":"2025-10-01"}`, msgEndAfterStart},
		{"end equals start", `{"start_date":"2025-10-05","end_date":"2025-10-05"}`, msgEndAfterStart},
		{"RFC 3339 start", `{"start_date":"2025-10-05T00:00:00Z"}`, "Invalid 'start_date' value"},
		{"bad end", `{"end_date":"10/05/2025"}`, "Invalid 'end_date' value"},
		{"page size too big", `{"page_size":1001}`, "Invalid 'page_size' value"},
		{"negative page size", `{"page_size":-1}`, "Invalid 'page_size' value"},
		{"bad order_by", `{"order_by":"project"}`, "Invalid 'order_by' value, allowed values are: 'date', 'user', 'duration', 'description', 'last_update'"},
		{"bad order_dir", `{"order_dir":"UP"}`, "Invalid 'order_dir' value, allowed values are: 'ASC', 'DESC'"},
		{"bad rounding_minutes", `{"rounding_minutes":7}`, "Invalid 'rounding_minutes' value"},
		{"max below min", `{"min_duration_seconds":60,"max_duration_seconds":60}`, "Invalid 'max_duration_seconds' value"},
		{"negative first_row_number", `{"first_row_number":-2}`, "Invalid 'first_row_number' value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do("POST", f.reportsPath(), f.token, tc.body).want(t, http.StatusBadRequest)
			if got := r.msg(t); got != tc.msg {
				t.Errorf("body = %q, want %q", got, tc.msg)
			}
		})
	}
	// Accepted edge values.
	for _, body := range []string{`{"page_size":1000}`, `{"tag_ids":[null]}`, `{"order_dir":"desc","order_by":"last_update"}`,
		`{"startTime":"x","endTime":"y","first_timestamp":1,"group_ids":[1],"hide_amounts":true,"rounding":1,"rounding_minutes":15}`} {
		f.do("POST", f.reportsPath(), f.token, body).want(t, 200)
	}
}

func TestReportsDefaultDates(t *testing.T) {
	f := newFixture(t, Options{}, PlanStarter)
	cases := []struct{ body, start, end string }{
		{`{"page_size":10}`, "2025-09-30", "2025-10-06"},
		{`{"start_date":"2025-09-01"}`, "2025-09-01", "2025-10-06"},
		{`{"end_date":"2025-09-10"}`, "2025-09-04", "2025-09-10"},
		{`{"start_date":"2025-12-01"}`, "2025-12-01", "2025-12-01"},
	}
	for _, tc := range cases {
		_, r := f.report(tc.body)
		if r.header.Get("X-Range-Start") != tc.start || r.header.Get("X-Range-End") != tc.end {
			t.Errorf("%s: range %s..%s, want %s..%s", tc.body, r.header.Get("X-Range-Start"), r.header.Get("X-Range-End"), tc.start, tc.end)
		}
	}
}

func TestReportsFilters(t *testing.T) {
	f := newFixture(t, Options{}, PlanPremium)
	bob, _ := f.addUser("bob")
	cl := f.sim.AddClient(f.ws, "Client")
	withClient := f.sim.AddProject(f.ws, cl, "With client", true)
	noClient := f.sim.AddProject(f.ws, 0, "No client", false)
	tk := f.sim.AddTask(withClient, "Task")
	day := time.Date(2025, 10, 2, 9, 0, 0, 0, time.UTC)
	add := func(u, p, task int64, desc string, billable bool, dur time.Duration, tags ...string) int64 {
		day = day.Add(time.Hour)
		return f.sim.AddEntry(NewEntry{UserID: u, WorkspaceID: f.ws, ProjectID: p, TaskID: task, Description: desc,
			Start: day, Duration: dur, Billable: billable, Tags: tags})
	}
	a1 := add(f.user, withClient, tk, "Fix BUG-1", true, time.Hour, "red")
	a2 := add(f.user, noClient, 0, "meeting", false, 10*time.Minute)
	a3 := add(f.user, 0, 0, "misc", false, 5*time.Minute, "blue")
	b1 := add(bob, withClient, 0, "bug triage", true, 30*time.Minute, "red", "blue")
	left := add(bob, noClient, 0, "leaver", false, time.Minute)
	red := f.sim.AddTag(f.ws, "red")

	base := `"start_date":"2025-10-01","end_date":"2025-10-03"`
	cases := []struct {
		name   string
		filter string
		want   []int64
	}{
		{"none", ``, []int64{a1, a2, a3, b1, left}},
		{"user_ids", `,"user_ids":[` + itoa(bob) + `]`, []int64{b1, left}},
		{"project_ids", `,"project_ids":[` + itoa(noClient) + `]`, []int64{a2, left}},
		{"project_ids null", `,"project_ids":[null]`, []int64{a3}},
		{"client_ids", `,"client_ids":[` + itoa(cl) + `]`, []int64{a1, b1}},
		{"client_ids null", `,"client_ids":[null]`, []int64{a2, a3, left}},
		{"task_ids", `,"task_ids":[` + itoa(tk) + `]`, []int64{a1}},
		{"tag_ids", `,"tag_ids":[` + itoa(red) + `]`, []int64{a1, b1}},
		{"tag_ids null", `,"tag_ids":[null]`, []int64{a2, left}},
		{"description", `,"description":"bug"`, []int64{a1, b1}},
		{"billable true", `,"billable":true`, []int64{a1, b1}},
		{"billable false", `,"billable":false`, []int64{a2, a3, left}},
		{"time_entry_ids", `,"time_entry_ids":[` + itoa(a2) + `,` + itoa(b1) + `]`, []int64{a2, b1}},
		{"min duration", `,"min_duration_seconds":600`, []int64{a1, a2, b1}},
		{"max duration", `,"max_duration_seconds":600`, []int64{a2, a3, left}},
		{"out of range", `,"start_date":"2025-10-03","end_date":"2025-10-04"`, []int64{}},
	}
	check := func(t *testing.T, filter string, want []int64) {
		t.Helper()
		body := "{" + base + filter + "}"
		if filter != "" && filter[1:12] == `"start_date` {
			body = "{" + filter[1:] + "}"
		}
		rows, _ := f.report(body)
		got := []int64{}
		for _, r := range rows {
			got = append(got, r.TimeEntries[0].ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("ids = %v, want %v", got, want)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { check(t, tc.filter, tc.want) })
	}
	t.Run("former member", func(t *testing.T) {
		f.sim.RemoveMember(f.ws, bob)
		check(t, ``, []int64{a1, a2, a3})
	})
}

func TestReportsRowShape(t *testing.T) {
	f := newFixture(t, Options{}, PlanStarter)
	cl := f.sim.AddClient(f.ws, "Client")
	p := f.sim.AddProject(f.ws, cl, "Proj", true)
	tk := f.sim.AddTask(p, "Task")
	start := time.Date(2025, 10, 2, 9, 0, 0, 0, time.UTC)
	id := f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws, TaskID: tk, Description: "d",
		Start: start, Duration: 45 * time.Minute, Tags: []string{"t"}, At: start.Add(time.Hour)})
	body := map[string]any{"start_date": "2025-10-01", "end_date": "2025-10-03"}

	r := f.do("POST", f.reportsPath(), f.token, body).want(t, 200)
	var raw []map[string]any
	r.decode(t, &raw)
	if len(raw) != 1 {
		t.Fatalf("rows %s", r.body)
	}
	for _, k := range []string{"user_id", "username", "project_id", "task_id", "description", "billable", "tag_ids",
		"hourly_rate_in_cents", "billable_amount_in_cents", "currency", "row_number", "time_entries"} {
		if _, ok := raw[0][k]; !ok {
			t.Errorf("row lacks %s", k)
		}
	}
	for _, k := range []string{"project_name", "client_name", "task_name", "tag_names"} {
		if _, ok := raw[0][k]; ok {
			t.Errorf("row has %s without enrich_response", k)
		}
	}
	var rows []reportRow
	r.decode(t, &rows)
	te := rows[0].TimeEntries[0]
	if te.ID != id || te.Seconds != 2700 || te.Start != "2025-10-02T09:00:00+00:00" || te.Stop != "2025-10-02T09:45:00+00:00" ||
		te.At != "2025-10-02T10:00:00+00:00" || te.AtTZ != te.At {
		t.Errorf("inner entry %+v", te)
	}
	if rows[0].Username != "Ann Example" || rows[0].ProjectID == nil || *rows[0].ProjectID != p || len(rows[0].TagIDs) != 1 {
		t.Errorf("row %+v", rows[0])
	}

	body["enrich_response"] = true
	rows, _ = f.report(body)
	if g := rows[0]; deref2(g.ProjectName) != "Proj" || deref2(g.ClientName) != "Client" || deref2(g.TaskName) != "Task" || !slices.Equal(g.TagNames, []string{"t"}) {
		t.Errorf("enriched row %+v", g)
	}
}

func deref2(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func TestReportsGrouped(t *testing.T) {
	f := newFixture(t, Options{}, PlanStarter)
	start := time.Date(2025, 10, 2, 9, 0, 0, 0, time.UTC)
	var same []int64
	for i := 0; i < 3; i++ {
		same = append(same, f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws, Description: "standup",
			Start: start.Add(time.Duration(i) * 24 * time.Hour), Duration: 15 * time.Minute}))
	}
	other := f.sim.AddEntry(NewEntry{UserID: f.user, WorkspaceID: f.ws, Description: "coding",
		Start: start.Add(time.Hour), Duration: time.Hour})
	rows, _ := f.report(map[string]any{"start_date": "2025-10-01", "end_date": "2025-10-06", "grouped": true})
	if len(rows) != 2 {
		t.Fatalf("rows = %d, want 2", len(rows))
	}
	var got []int64
	for _, te := range rows[0].TimeEntries {
		got = append(got, te.ID)
	}
	if !slices.Equal(got, same) || len(rows[1].TimeEntries) != 1 || rows[1].TimeEntries[0].ID != other {
		t.Errorf("grouped rows %+v", rows)
	}
	rows, _ = f.report(map[string]any{"start_date": "2025-10-01", "end_date": "2025-10-06", "grouped": true, "order_by": "duration", "order_dir": "DESC"})
	if rows[0].TimeEntries[0].ID != other {
		t.Errorf("longest group first: got %+v", rows[0])
	}
}
