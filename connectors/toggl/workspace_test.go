package toggl_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/toggl"
	"github.com/sluicehq/sluice/connectors/toggl/togglsim"
)

// searchBody is the part of a Reports detailed search body the tests look at.
type searchBody struct {
	StartDate      string  `json:"start_date"`
	EndDate        string  `json:"end_date"`
	UserIDs        []int64 `json:"user_ids"`
	ProjectIDs     []int64 `json:"project_ids"`
	PageSize       int     `json:"page_size"`
	FirstID        int64   `json:"first_id"`
	FirstRowNumber int64   `json:"first_row_number"`
	EnrichResponse bool    `json:"enrich_response"`
}

func decodeSearch(t *testing.T, ex exchange) searchBody {
	t.Helper()
	var b searchBody
	if err := json.Unmarshal(ex.Body, &b); err != nil {
		t.Fatalf("search body %s: %v", ex.Body, err)
	}
	return b
}

// workspaceFixture seeds three members' entries around the window 2026-03-02..2026-03-06.
type workspaceFixture struct {
	*fixture
	bob, cat int64
	// kept start inside the window; edges are reported by Reports (which is asked for a day
	// more at each end) but start outside the window.
	kept, edges []int64
	rich        int64
	bobs, cats  []int64
}

func newWorkspaceFixture(t *testing.T) *workspaceFixture {
	t.Helper()
	f := &workspaceFixture{fixture: newFixture(t, togglsim.Options{})}
	f.bob, f.cat = f.member("Bob"), f.member("Cat")
	f.rich = f.sim.AddEntry(togglsim.NewEntry{
		UserID: f.ann, WorkspaceID: f.ws, ProjectID: f.project, TaskID: f.task,
		Description: "Homepage mockups", Start: day(3).Add(9 * time.Hour), Duration: time.Hour,
		Billable: true, Tags: []string{"design", "client"},
	})
	f.bobs = []int64{f.entry(f.bob, day(4).Add(10*time.Hour), 2*time.Hour), f.entry(f.bob, day(7).Add(-30*time.Minute), 20*time.Minute)}
	f.cats = []int64{f.entry(f.cat, day(5).Add(8*time.Hour), time.Hour), f.entry(f.cat, day(5).Add(9*time.Hour), time.Hour)}
	f.kept = append([]int64{
		f.rich,
		f.entry(f.ann, day(2), 30*time.Minute),
		f.entry(f.ann, day(6).Add(12*time.Hour), 15*time.Minute),
	}, append(slices.Clone(f.bobs), f.cats...)...)
	f.edges = []int64{
		f.entry(f.ann, day(2).Add(-2*time.Hour), time.Hour),
		f.entry(f.bob, day(7).Add(9*time.Hour), time.Hour),
	}
	deleted := f.entry(f.cat, day(4).Add(9*time.Hour), time.Hour)
	if err := f.sim.DeleteEntry(deleted); err != nil {
		t.Fatal(err)
	}
	f.entry(f.ann, day(5).Add(14*time.Hour), 0) // running: Reports leaves it out
	other := f.sim.AddWorkspace(f.org, "Other WS")
	f.sim.AddMember(other, f.ann)
	f.sim.AddEntry(togglsim.NewEntry{UserID: f.ann, WorkspaceID: other, Start: day(3).Add(11 * time.Hour), Duration: time.Hour})
	f.clock.Advance(time.Hour)
	return f
}

// TestWorkspaceSnapshotPaging: every member's entries in the window arrive once over several
// small pages, names included; entries Reports returns from the extra day at each end are
// dropped; the batch is a snapshot of the window.
func TestWorkspaceSnapshotPaging(t *testing.T) {
	f := newWorkspaceFixture(t)
	src := f.source(t, connectors.Values{
		"entries": "workspace", "workspace_id": f.ws, "start_date": day(2), "end_date": day(6), "page_size": int64(2),
	})
	b := pull(t, src, "")

	got := requireIDs(t, b.Entries, f.kept...)
	wantRich := connectors.Entry{
		ID:          strconv.FormatInt(f.rich, 10),
		WorkspaceID: f.ws,
		ProjectID:   f.project,
		Project:     "Website",
		Client:      "Globex",
		TaskID:      f.task,
		Task:        "Mockups",
		UserID:      f.ann,
		User:        "Ann Example",
		Email:       "ann@example.com",
		Description: "Homepage mockups",
		Start:       day(3).Add(9 * time.Hour),
		Stop:        day(3).Add(10 * time.Hour),
		Duration:    3600,
		Billable:    true,
		Tags:        []string{"design", "client"},
		UpdatedAt:   t0,
	}
	if e := got[wantRich.ID]; !reflect.DeepEqual(e, wantRich) {
		t.Errorf("entry with every field:\n got %+v\nwant %+v", e, wantRich)
	}
	for _, id := range f.bobs {
		if e := got[strconv.FormatInt(id, 10)]; e.UserID != f.bob || e.User != "Bob" || e.Email != "bob@example.com" || e.WorkspaceID != f.ws {
			t.Errorf("Bob's entry = %+v", e)
		}
	}
	want := connectors.Window{From: day(2), To: day(7)}
	if b.Snapshot == nil || *b.Snapshot != want {
		t.Errorf("Snapshot = %v, want %v", b.Snapshot, want)
	}
	if b.Next != "workspace:2026-03-02" {
		t.Errorf("Next = %q, want workspace:2026-03-02", b.Next)
	}

	ex := f.rec.exchanges()
	if rows := len(f.kept) + len(f.edges); len(ex) != (rows+1)/2 {
		t.Fatalf("%d requests for %d rows, want %d pages of 2", len(ex), rows, (rows+1)/2)
	}
	for i, e := range ex {
		body := decodeSearch(t, e)
		if e.Method != http.MethodPost || e.Path != "/reports/api/v3/workspace/"+strconv.FormatInt(f.ws, 10)+"/search/time_entries" {
			t.Errorf("page %d: %s %s", i+1, e.Method, e.Path)
		}
		if body.StartDate != "2026-03-01" || body.EndDate != "2026-03-07" || body.PageSize != 2 || !body.EnrichResponse || body.UserIDs != nil {
			t.Errorf("page %d body %s, want 2026-03-01..2026-03-07, page_size 2, enrich_response, no user_ids", i+1, e.Body)
		}
		if i == 0 {
			if body.FirstID != 0 || body.FirstRowNumber != 0 {
				t.Errorf("first page body %s carries paging fields", e.Body)
			}
			continue
		}
		prev := ex[i-1].Header
		if strconv.FormatInt(body.FirstID, 10) != prev.Get("X-Next-ID") || strconv.FormatInt(body.FirstRowNumber, 10) != prev.Get("X-Next-Row-Number") {
			t.Errorf("page %d asks first_id %d, first_row_number %d; the previous answer said X-Next-ID %s, X-Next-Row-Number %s",
				i+1, body.FirstID, body.FirstRowNumber, prev.Get("X-Next-ID"), prev.Get("X-Next-Row-Number"))
		}
	}
	if last := ex[len(ex)-1].Header; last.Get("X-Next-ID") != "" {
		t.Errorf("the source stopped before the last page (X-Next-ID %s)", last.Get("X-Next-ID"))
	}
	if st := f.sim.Stats(); st.ByBucket["org:"+strconv.FormatInt(f.org, 10)] != len(ex) || st.ByBucket["user"] != 0 {
		t.Errorf("quota charged %v, want every page from the organization's bucket", st.ByBucket)
	}
}

// TestWorkspaceFilters: user_ids and project_ids reach the search body and narrow the result.
func TestWorkspaceFilters(t *testing.T) {
	f := newWorkspaceFixture(t)
	for _, tc := range []struct {
		name            string
		set             connectors.Values
		users, projects []int64
		want            func() []int64
	}{
		{name: "user_ids", set: connectors.Values{"user_ids": []int64{f.bob, f.cat}}, users: []int64{f.bob, f.cat},
			want: func() []int64 { return append(slices.Clone(f.bobs), f.cats...) }},
		{name: "project_ids", set: connectors.Values{"project_ids": []int64{f.project}}, projects: []int64{f.project},
			want: func() []int64 { return []int64{f.rich} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := connectors.Values{"entries": "workspace", "workspace_id": f.ws, "start_date": day(2), "end_date": day(6)}
			for k, v := range tc.set {
				set[k] = v
			}
			n := len(f.rec.exchanges())
			b := pull(t, f.source(t, set), "")
			requireIDs(t, b.Entries, tc.want()...)
			ex := f.rec.exchanges()[n:]
			if len(ex) != 1 {
				t.Fatalf("%d requests, want 1", len(ex))
			}
			if body := decodeSearch(t, ex[0]); !slices.Equal(body.UserIDs, tc.users) || !slices.Equal(body.ProjectIDs, tc.projects) {
				t.Errorf("body %s, want user_ids %v, project_ids %v", ex[0].Body, tc.users, tc.projects)
			}
		})
	}
}

// TestWorkspaceLookback: the first pull reads the backfill window; later pulls re-read only
// the lookback, never before start_date or the backfill window.
func TestWorkspaceLookback(t *testing.T) {
	f := newFixture(t, togglsim.Options{})
	feb18 := f.entry(f.ann, day(1).AddDate(0, 0, -11).Add(9*time.Hour), time.Hour)
	feb25 := f.entry(f.ann, day(1).AddDate(0, 0, -4).Add(9*time.Hour), time.Hour)
	mar9 := f.entry(f.ann, day(9).Add(9*time.Hour), time.Hour)
	f.clock.Advance(time.Hour) // 2026-03-10 15:30
	feb := func(d int) time.Time { return time.Date(2026, time.February, d, 0, 0, 0, 0, time.UTC) }

	for _, tc := range []struct {
		name   string
		set    connectors.Values
		cursor connectors.Cursor
		from   time.Time
		want   []int64
	}{
		{name: "first pull reads the backfill", cursor: "", from: feb(8), want: []int64{feb18, feb25, mar9}},
		{name: "later pull reads the lookback", cursor: "workspace:2026-02-08", from: feb(24), want: []int64{feb25, mar9}},
		{name: "shorter lookback", set: connectors.Values{"lookback": 72 * time.Hour}, cursor: "workspace:2026-02-08", from: day(7), want: []int64{mar9}},
		{name: "lookback longer than the backfill", set: connectors.Values{"lookback": 60 * 24 * time.Hour}, cursor: "workspace:2026-02-08", from: feb(8), want: []int64{feb18, feb25, mar9}},
		{name: "lookback before start_date", set: connectors.Values{"start_date": day(9)}, cursor: "workspace:2026-03-09", from: day(9), want: []int64{mar9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := connectors.Values{"entries": "workspace", "workspace_id": f.ws}
			for k, v := range tc.set {
				set[k] = v
			}
			n := len(f.rec.exchanges())
			b := pull(t, f.source(t, set), tc.cursor)
			requireIDs(t, b.Entries, tc.want...)
			want := connectors.Window{From: tc.from, To: day(11)}
			if b.Snapshot == nil || *b.Snapshot != want {
				t.Errorf("Snapshot = %v, want %v", b.Snapshot, want)
			}
			ex := f.rec.exchanges()[n:]
			if len(ex) != 1 {
				t.Fatalf("%d requests, want 1", len(ex))
			}
			body := decodeSearch(t, ex[0])
			if wantStart := tc.from.AddDate(0, 0, -1).Format(time.DateOnly); body.StartDate != wantStart || body.EndDate != "2026-03-11" {
				t.Errorf("searched %s..%s, want %s..2026-03-11", body.StartDate, body.EndDate, wantStart)
			}
		})
	}
}

// TestWorkspaceNotMember: Reports refuses a workspace the token's user is not in; the error
// names the workspace and says 403.
func TestWorkspaceNotMember(t *testing.T) {
	f := newFixture(t, togglsim.Options{})
	other := f.sim.AddWorkspace(f.sim.AddOrganization("Initech", togglsim.PlanPremium), "Initech WS")
	f.clock.Advance(time.Hour)
	src := f.source(t, connectors.Values{"entries": "workspace", "workspace_id": other})
	_, err := src.Pull(context.Background(), "")
	if err == nil {
		t.Fatal("Pull succeeded for a workspace the user is not a member of")
	}
	msg := err.Error()
	for _, want := range []string{"workspace " + strconv.FormatInt(other, 10), "403", "Workspace not found/accessible"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	var apiErr *toggl.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden {
		t.Errorf("error %v is not an *APIError with status 403", err)
	}
}

// TestWorkspaceEndDateBeforeLookback: once end_date lies before the lookback, later pulls have
// nothing to re-read: they send no request (an end before the start would be refused with 400)
// and keep the cursor.
func TestWorkspaceEndDateBeforeLookback(t *testing.T) {
	f := newFixture(t, togglsim.Options{})
	id := f.entry(f.ann, day(1).AddDate(0, 0, -25), time.Hour) // 2026-02-04
	f.clock.Advance(time.Hour)
	src := f.source(t, connectors.Values{
		"entries": "workspace", "workspace_id": f.ws, "start_date": day(1).AddDate(0, 0, -28), "end_date": day(1).AddDate(0, 0, -20),
	})
	b := pull(t, src, "")
	requireIDs(t, b.Entries, id)
	first := b.Next

	f.clock.Advance(24 * time.Hour)
	n := len(f.rec.exchanges())
	b = pull(t, src, first)
	if len(b.Entries) != 0 || b.Snapshot != nil || b.Next != first {
		t.Errorf("pull after end_date left the lookback = %+v, want no entries, no snapshot, cursor %q", b, first)
	}
	if ex := f.rec.exchanges()[n:]; len(ex) != 0 {
		t.Errorf("%d requests sent, want none: %s", len(ex), ex[0].Body)
	}
}
