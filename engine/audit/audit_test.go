package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine/audit"
	"github.com/sluicehq/sluice/engine/store"
	"github.com/sluicehq/sluice/engine/store/sqlite"
)

// Routes of the fixture. Sorting puts route before method: prefs (PATCH) sorts before
// entries (GET).
const (
	entries = "/api/v9/me/time_entries"
	prefs   = "/api/v9/me/preferences"
	reports = "/reports/api/v3/workspace/{workspace_id}/search/time_entries"
	myself  = "/rest/api/3/myself"
	worklog = "/rest/api/3/issue/{issue}/worklog"
	wlOne   = "/rest/api/3/issue/{issue}/worklog/{id}"
)

var base = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

func call(when time.Time, wf, conn, method, route string, status int, dur time.Duration, bucket string) store.Call {
	return store.Call{At: when, Workflow: wf, RunID: 1, Connection: conn, Method: method, Route: route,
		Status: status, Duration: dur, Bucket: bucket, QuotaRemaining: -1}
}

func hit(when time.Time, wf, conn, method, route string) store.Call {
	c := call(when, wf, conn, method, route, 200, 0, "")
	c.CacheHit = true
	return c
}

func retry(c store.Call, n int) store.Call { c.Retry = n; return c }

func failing(c store.Call, msg string) store.Call { c.Error = msg; return c }

// fixture is a day of calls from base, one just before it and one at its end.
func fixture() []store.Call {
	return []store.Call{
		call(at(-time.Millisecond), "alpha", "toggl", "GET", entries, 200, 5*time.Millisecond, "org"),                                         // c0: before the window
		call(at(5*time.Minute), "alpha", "toggl", "GET", entries, 200, 100*time.Millisecond, "org"),                                           // c1
		call(at(20*time.Minute), "alpha", "toggl", "PATCH", prefs, 200, 40*time.Millisecond, "org"),                                           // c2
		call(at(40*time.Minute), "alpha", "toggl", "GET", entries, 200, 50*time.Millisecond, "org"),                                           // c3
		hit(at(41*time.Minute), "alpha", "toggl", "GET", entries),                                                                             // c4
		call(at(50*time.Minute), "alpha", "toggl", "GET", entries, 429, 10*time.Millisecond, "org"),                                           // c5
		retry(call(at(51*time.Minute), "alpha", "toggl", "GET", entries, 200, 20*time.Millisecond, "org"), 1),                                 // c6
		call(at(55*time.Minute), "beta", "jira", "GET", myself, 200, 30*time.Millisecond, ""),                                                 // c7
		call(at(56*time.Minute), "alpha", "jira", "POST", worklog, 201, 200*time.Millisecond, ""),                                             // c8
		call(at(70*time.Minute), "alpha", "jira", "POST", worklog, 201, 150*time.Millisecond, ""),                                             // c9
		failing(call(at(80*time.Minute), "alpha", "jira", "POST", worklog, 0, 30*time.Second, ""), "timeout"),                                 // c10
		retry(call(at(81*time.Minute), "alpha", "jira", "POST", worklog, 201, 100*time.Millisecond, ""), 1),                                   // c11
		call(at(90*time.Minute), "beta", "toggl", "POST", reports, 200, 300*time.Millisecond, "reports"),                                      // c12
		hit(at(91*time.Minute), "beta", "toggl", "POST", reports),                                                                             // c13
		failing(call(at(100*time.Minute), "beta", "toggl", "POST", reports, 200, 5*time.Millisecond, "reports"), "read body: unexpected EOF"), // c16
		hit(at(105*time.Minute), "gamma", "toggl", "GET", entries),                                                                            // c17: only cache hits
		call(at(23*time.Hour), "beta", "jira", "PUT", wlOne, 400, 60*time.Millisecond, ""),                                                    // c14
		call(at(24*time.Hour), "alpha", "toggl", "GET", entries, 200, 5*time.Millisecond, "org"),                                              // c15: at the window's end
	}
}

// openStore returns a SQLite store holding calls.
func openStore(t *testing.T, calls []store.Call) *sqlite.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.RecordCalls(ctx, calls); err != nil {
		t.Fatal(err)
	}
	return db
}

func row(period time.Time, wf, conn, method, route string, status, calls, hits, retries, errs int, dur time.Duration) audit.Row {
	return audit.Row{Period: period, Workflow: wf, Connection: conn, Method: method, Route: route, Status: status,
		Calls: calls, CacheHits: hits, Retries: retries, Errors: errs, Duration: dur}
}

func rowString(r audit.Row) string {
	return fmt.Sprintf("%s %s %s %s %s %d calls=%d hits=%d retries=%d errors=%d time=%s", r.Period.UTC().Format(time.RFC3339),
		r.Workflow, r.Connection, r.Method, r.Route, r.Status, r.Calls, r.CacheHits, r.Retries, r.Errors, r.Duration)
}

func rowStrings(rows []audit.Row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = rowString(r)
	}
	return out
}

func TestBuild(t *testing.T) {
	db := openStore(t, fixture())
	h9, h10, day1 := base, base.Add(time.Hour), time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	h8next, day2 := base.Add(23*time.Hour), day1.Add(24*time.Hour)
	ms := time.Millisecond
	cases := []struct {
		name string
		q    audit.Query
		want []audit.Row
	}{{
		name: "by hour",
		q:    audit.Query{From: base, To: base.Add(24 * time.Hour), By: audit.Hour},
		want: []audit.Row{
			row(h9, "alpha", "jira", "POST", worklog, 201, 1, 0, 0, 0, 200*ms),
			row(h9, "alpha", "toggl", "PATCH", prefs, 200, 1, 0, 0, 0, 40*ms),
			row(h9, "alpha", "toggl", "GET", entries, 200, 3, 1, 1, 0, 170*ms),
			row(h9, "alpha", "toggl", "GET", entries, 429, 1, 0, 0, 1, 10*ms),
			row(h9, "beta", "jira", "GET", myself, 200, 1, 0, 0, 0, 30*ms),
			row(h10, "alpha", "jira", "POST", worklog, 0, 1, 0, 0, 1, 30*time.Second),
			row(h10, "alpha", "jira", "POST", worklog, 201, 2, 0, 1, 0, 250*ms),
			row(h10, "beta", "toggl", "POST", reports, 200, 2, 1, 0, 1, 305*ms),
			row(h10, "gamma", "toggl", "GET", entries, 200, 0, 1, 0, 0, 0),
			row(h8next, "beta", "jira", "PUT", wlOne, 400, 1, 0, 0, 1, 60*ms),
		},
	}, {
		name: "by day",
		q:    audit.Query{From: base, To: base.Add(24 * time.Hour), By: audit.Day},
		want: []audit.Row{
			row(day1, "alpha", "jira", "POST", worklog, 0, 1, 0, 0, 1, 30*time.Second),
			row(day1, "alpha", "jira", "POST", worklog, 201, 3, 0, 1, 0, 450*ms),
			row(day1, "alpha", "toggl", "PATCH", prefs, 200, 1, 0, 0, 0, 40*ms),
			row(day1, "alpha", "toggl", "GET", entries, 200, 3, 1, 1, 0, 170*ms),
			row(day1, "alpha", "toggl", "GET", entries, 429, 1, 0, 0, 1, 10*ms),
			row(day1, "beta", "jira", "GET", myself, 200, 1, 0, 0, 0, 30*ms),
			row(day1, "beta", "toggl", "POST", reports, 200, 2, 1, 0, 1, 305*ms),
			row(day1, "gamma", "toggl", "GET", entries, 200, 0, 1, 0, 0, 0),
			row(day2, "beta", "jira", "PUT", wlOne, 400, 1, 0, 0, 1, 60*ms),
		},
	}, {
		name: "workflow filter",
		q:    audit.Query{From: base, To: base.Add(24 * time.Hour), Workflow: "beta", By: audit.Hour},
		want: []audit.Row{
			row(h9, "beta", "jira", "GET", myself, 200, 1, 0, 0, 0, 30*ms),
			row(h10, "beta", "toggl", "POST", reports, 200, 2, 1, 0, 1, 305*ms),
			row(h8next, "beta", "jira", "PUT", wlOne, 400, 1, 0, 0, 1, 60*ms),
		},
	}, {
		name: "half-open window keeps the call at From and drops the one at To",
		q:    audit.Query{From: at(40 * time.Minute), To: at(70 * time.Minute), By: audit.Hour},
		want: []audit.Row{
			row(h9, "alpha", "jira", "POST", worklog, 201, 1, 0, 0, 0, 200*ms),
			row(h9, "alpha", "toggl", "GET", entries, 200, 2, 1, 1, 0, 70*ms),
			row(h9, "alpha", "toggl", "GET", entries, 429, 1, 0, 0, 1, 10*ms),
			row(h9, "beta", "jira", "GET", myself, 200, 1, 0, 0, 0, 30*ms),
		},
	}, {
		name: "a start between milliseconds leaves out the call before it",
		q:    audit.Query{From: at(40*time.Minute + 500*time.Microsecond), To: at(41*time.Minute + time.Millisecond), By: audit.Hour},
		want: []audit.Row{
			row(h9, "alpha", "toggl", "GET", entries, 200, 0, 1, 0, 0, 0),
		},
	}, {
		name: "a window before every call",
		q:    audit.Query{From: base.Add(-48 * time.Hour), To: base.Add(-24 * time.Hour), By: audit.Day},
		want: []audit.Row{},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := audit.Build(context.Background(), db, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := rowStrings(r.Rows), rowStrings(tc.want); !slices.Equal(got, want) {
				t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			// The totals are the rows' sums.
			var calls, hits, retries, errs int
			for _, row := range r.Rows {
				calls, hits, retries, errs = calls+row.Calls, hits+row.CacheHits, retries+row.Retries, errs+row.Errors
			}
			if tt := r.Totals; tt.Calls != calls || tt.CacheHits != hits || tt.Retries != retries || tt.Errors != errs {
				t.Errorf("totals %+v do not sum the rows: %d calls, %d hits, %d retries, %d errors", tt, calls, hits, retries, errs)
			}
		})
	}
}

func fullReport(t *testing.T) audit.Report {
	t.Helper()
	r, err := audit.Build(context.Background(), openStore(t, fixture()),
		audit.Query{From: base, To: base.Add(24 * time.Hour), By: audit.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTotals(t *testing.T) {
	r := fullReport(t)
	want := audit.Totals{
		Calls: 13, CacheHits: 3, Retries: 2, Errors: 4, NoAnswer: 1, Duration: 31065 * time.Millisecond,
		ByStatus:     map[int]int{0: 1, 200: 7, 201: 3, 400: 1, 429: 1},
		ByWorkflow:   map[string]int{"alpha": 9, "beta": 4, "gamma": 0},
		ByConnection: map[string]int{"toggl": 7, "jira": 6},
	}
	if !reflect.DeepEqual(r.Totals, want) {
		t.Errorf("totals\n%+v\nwant\n%+v", r.Totals, want)
	}
	if !r.Query.From.Equal(base) || r.Query.From.Location() != time.UTC || r.Query.By != audit.Hour {
		t.Errorf("query %+v", r.Query)
	}
}

func TestQueryValidation(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct {
		name string
		q    audit.Query
		want []string // the problems, in order; none for a valid query
	}{
		{"valid", audit.Query{From: base, To: base.Add(day), By: audit.Day}, nil},
		{"exactly 90 days", audit.Query{From: base, To: base.Add(90 * day), By: audit.Hour}, nil},
		{"no start", audit.Query{To: base, By: audit.Hour}, []string{"the window needs both a start and an end"}},
		{"empty window", audit.Query{From: base, To: base, By: audit.Hour},
			[]string{"the window must end after it starts (from 2026-03-10T09:00:00Z to 2026-03-10T09:00:00Z)"}},
		{"end before start", audit.Query{From: base, To: base.Add(-time.Hour), By: audit.Hour},
			[]string{"the window must end after it starts (from 2026-03-10T09:00:00Z to 2026-03-10T08:00:00Z)"}},
		{"over 90 days", audit.Query{From: base, To: base.Add(90*day + time.Second), By: audit.Hour},
			[]string{"the window spans 90d1s; the most a report covers is 90d"}},
		{"no grouping", audit.Query{From: base, To: base.Add(day)}, []string{`grouping "": use hour or day`}},
		{"unknown grouping", audit.Query{From: base, To: base.Add(day), By: "week"}, []string{`grouping "week": use hour or day`}},
		{"two problems", audit.Query{From: base, To: base.Add(-day), By: "minute"}, []string{
			"the window must end after it starts (from 2026-03-10T09:00:00Z to 2026-03-09T09:00:00Z)",
			`grouping "minute": use hour or day`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := &fakeSource{}
			_, err := audit.Build(context.Background(), src, tc.q)
			if tc.want == nil {
				if err != nil || src.reads != 1 {
					t.Fatalf("err %v after %d reads; want nil after 1", err, src.reads)
				}
				return
			}
			var qe *audit.QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("err %v, want a *QueryError", err)
			}
			if !slices.Equal(qe.Problems, tc.want) {
				t.Errorf("problems %q, want %q", qe.Problems, tc.want)
			}
			if want := "audit: invalid query: " + strings.Join(tc.want, "; "); err.Error() != want {
				t.Errorf("message %q, want %q", err, want)
			}
			if src.reads != 0 {
				t.Errorf("an invalid query read the source %d time(s)", src.reads)
			}
		})
	}
}

type fakeSource struct {
	reads int
	err   error
}

func (f *fakeSource) Calls(context.Context, time.Time, time.Time, string) ([]store.Call, error) {
	f.reads++
	return nil, f.err
}

func TestBuildSourceError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := audit.Build(context.Background(), &fakeSource{err: boom}, audit.Query{From: base, To: base.Add(time.Hour), By: audit.Hour})
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "audit: read calls: ") {
		t.Fatalf("err %v", err)
	}
}

func TestWriteCSV(t *testing.T) {
	r := fullReport(t)
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := []string{"period", "workflow", "connection", "method", "route", "status", "calls", "cache_hits", "retries", "errors", "duration_seconds"}
	if len(recs) == 0 || !slices.Equal(recs[0], header) {
		t.Fatalf("header %q, want %q", recs[:min(1, len(recs))], header)
	}
	if len(recs)-1 != len(r.Rows) || len(r.Rows) != 10 {
		t.Fatalf("%d lines after the header for %d rows (want 10)", len(recs)-1, len(r.Rows))
	}
	for i, rec := range recs[1:] {
		got, err := parseCSVRow(rec)
		if err != nil {
			t.Fatalf("line %d %q: %v", i+2, rec, err)
		}
		if rowString(got) != rowString(r.Rows[i]) {
			t.Errorf("line %d:\n%s\nwant\n%s", i+2, rowString(got), rowString(r.Rows[i]))
		}
	}
	// Line 7 is the status 0 row: no answer for 30 s.
	if got := recs[6]; got[0] != "2026-03-10T10:00:00Z" || got[5] != "0" || got[10] != "30.000000" {
		t.Errorf("line 7 %q: want period 2026-03-10T10:00:00Z, status 0, duration_seconds 30.000000", got)
	}
}

func parseCSVRow(rec []string) (audit.Row, error) {
	if len(rec) != 11 {
		return audit.Row{}, fmt.Errorf("%d fields", len(rec))
	}
	p, err := time.Parse(time.RFC3339, rec[0])
	if err != nil {
		return audit.Row{}, err
	}
	var n [5]int
	for i := range n {
		if n[i], err = strconv.Atoi(rec[5+i]); err != nil {
			return audit.Row{}, err
		}
	}
	secs, err := strconv.ParseFloat(rec[10], 64)
	if err != nil {
		return audit.Row{}, err
	}
	return row(p, rec[1], rec[2], rec[3], rec[4], n[0], n[1], n[2], n[3], n[4],
		time.Duration(math.Round(secs*1e6))*time.Microsecond), nil
}

func TestWriteJSON(t *testing.T) {
	r := fullReport(t)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Query struct {
			From, To     time.Time
			Workflow, By string
		} `json:"query"`
		Rows []struct {
			Period                              time.Time `json:"period"`
			Workflow, Connection, Method, Route string
			Status                              int     `json:"status"`
			Calls                               int     `json:"calls"`
			CacheHits                           int     `json:"cache_hits"`
			Retries                             int     `json:"retries"`
			Errors                              int     `json:"errors"`
			DurationSeconds                     float64 `json:"duration_seconds"`
		} `json:"rows"`
		Totals struct {
			Calls           int            `json:"calls"`
			CacheHits       int            `json:"cache_hits"`
			Retries         int            `json:"retries"`
			Errors          int            `json:"errors"`
			NoAnswer        int            `json:"no_answer"`
			DurationSeconds float64        `json:"duration_seconds"`
			ByStatus        map[int]int    `json:"by_status"`
			ByWorkflow      map[string]int `json:"by_workflow"`
			ByConnection    map[string]int `json:"by_connection"`
		} `json:"totals"`
	}
	dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
	dec.DisallowUnknownFields() // every key the output has is one the test knows
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if !got.Query.From.Equal(base) || !got.Query.To.Equal(base.Add(24*time.Hour)) || got.Query.By != "hour" || got.Query.Workflow != "" {
		t.Errorf("query %+v", got.Query)
	}
	if len(got.Rows) != len(r.Rows) {
		t.Fatalf("%d rows, want %d", len(got.Rows), len(r.Rows))
	}
	for i, g := range got.Rows {
		back := row(g.Period, g.Workflow, g.Connection, g.Method, g.Route, g.Status, g.Calls, g.CacheHits, g.Retries, g.Errors,
			time.Duration(math.Round(g.DurationSeconds*1e6))*time.Microsecond)
		if rowString(back) != rowString(r.Rows[i]) {
			t.Errorf("row %d:\n%s\nwant\n%s", i, rowString(back), rowString(r.Rows[i]))
		}
	}
	tt := got.Totals
	if tt.Calls != 13 || tt.CacheHits != 3 || tt.Retries != 2 || tt.Errors != 4 || tt.NoAnswer != 1 || tt.DurationSeconds != 31.065 ||
		!reflect.DeepEqual(tt.ByStatus, r.Totals.ByStatus) || !reflect.DeepEqual(tt.ByWorkflow, r.Totals.ByWorkflow) ||
		!reflect.DeepEqual(tt.ByConnection, r.Totals.ByConnection) {
		t.Errorf("totals %+v, want %+v", tt, r.Totals)
	}
	for _, key := range []string{`"cache_hits"`, `"duration_seconds"`, `"by_status"`, `"no_answer"`} {
		if !strings.Contains(buf.String(), key) {
			t.Errorf("no %s key in\n%s", key, buf.String())
		}
	}

	// An empty report has an empty list of rows and empty maps, not nulls.
	buf.Reset()
	if err := (audit.Report{Query: audit.Query{From: base, To: base.Add(time.Hour), By: audit.Day}}).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"rows": []`, `"by_status": {}`, `"by": "day"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("empty report lacks %s:\n%s", want, buf.String())
		}
	}
}

func TestWriteTable(t *testing.T) {
	r := fullReport(t)
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	// heading, column names, 10 rows, totals, summary, by status
	if len(lines) != 15 {
		t.Fatalf("%d lines, want 15:\n%s", len(lines), buf.String())
	}
	if want := "API calls from 2026-03-10T09:00:00Z to 2026-03-11T09:00:00Z (UTC), by hour"; lines[0] != want {
		t.Errorf("heading %q, want %q", lines[0], want)
	}
	header := lines[1]
	routeCol, callsCol := strings.Index(header, "route"), strings.Index(header, "calls")
	if !strings.HasPrefix(header, "period") || routeCol < 0 || callsCol < 0 {
		t.Fatalf("column names %q", header)
	}
	for i, rw := range r.Rows {
		line := lines[2+i]
		if !strings.HasPrefix(line, rw.Period.Format("2006-01-02 15:04")+"  ") {
			t.Errorf("row %d does not start with its period: %q", i, line)
		}
		if line[routeCol:routeCol+len(rw.Route)] != rw.Route {
			t.Errorf("row %d: route not under its column: %q", i, line)
		}
		if got := strings.Fields(line[callsCol:])[0]; got != strconv.Itoa(rw.Calls) {
			t.Errorf("row %d: calls column %q, want %d", i, got, rw.Calls)
		}
	}
	if !strings.Contains(lines[7], "no answer") {
		t.Errorf("a status 0 row should say no answer: %q", lines[7])
	}
	if f := strings.Fields(lines[12]); !slices.Equal(f, []string{"total", "13", "3", "2", "4", "31.065s"}) || lines[12][callsCol:callsCol+2] != "13" {
		t.Errorf("totals line %q", lines[12])
	}
	if want := "13 calls sent (1 without answer), 3 reads answered from the cache at no quota cost, 2 retries, 4 errors."; lines[13] != want {
		t.Errorf("summary %q, want %q", lines[13], want)
	}
	if want := "By status: no answer ×1, 200 ×7, 201 ×3, 400 ×1, 429 ×1."; lines[14] != want {
		t.Errorf("by status %q, want %q", lines[14], want)
	}

	// By day, the period is a date; an empty window says so.
	buf.Reset()
	day := audit.Report{Query: audit.Query{From: base, To: base.Add(time.Hour), Workflow: "beta", By: audit.Day},
		Rows: []audit.Row{row(base.Truncate(24*time.Hour), "beta", "jira", "GET", myself, 200, 1, 0, 0, 0, 0)}}
	if err := day.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\n2026-03-10  beta") || !strings.Contains(buf.String(), "by day, workflow beta\n") {
		t.Errorf("by day:\n%s", buf.String())
	}
	buf.Reset()
	if err := (audit.Report{Query: day.Query}).WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(buf.String(), "\n"); len(lines) != 3 || lines[1] != "No API call was recorded in this window." {
		t.Errorf("empty report:\n%s", buf.String())
	}
}

// TestWritersReportErrors gives each writer room for all but its last byte.
func TestWritersReportErrors(t *testing.T) {
	r := fullReport(t)
	for name, write := range map[string]func(w io.Writer) error{
		"csv":   r.WriteCSV,
		"json":  r.WriteJSON,
		"table": r.WriteTable,
	} {
		var buf bytes.Buffer
		if err := write(&buf); err != nil {
			t.Fatal(err)
		}
		if err := write(&failWriter{left: buf.Len() - 1}); !errors.Is(err, errFull) {
			t.Errorf("%s: err %v, want the writer's", name, err)
		}
	}
}

var errFull = errors.New("disk full")

// failWriter takes left bytes, then fails.
type failWriter struct{ left int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, errFull
	}
	w.left -= len(p)
	return len(p), nil
}

// TestBuildHoldsTheSource checks what Build does with calls a source should not have
// returned, and with times outside UTC.
func TestBuildHoldsTheSource(t *testing.T) {
	east := time.FixedZone("UTC+2", 2*60*60)
	from := time.Date(2026, 3, 10, 0, 30, 0, 0, east) // 2026-03-09T22:30Z
	to := from.Add(3 * time.Hour)
	src := &listSource{calls: []store.Call{
		call(from.Add(-time.Nanosecond), "alpha", "toggl", "GET", entries, 200, 0, "org"), // before From
		call(from, "alpha", "toggl", "GET", entries, 0, time.Second, "org"),               // no answer, no error text
		call(from.Add(90*time.Minute), "alpha", "toggl", "GET", entries, 200, 0, "org"),   // the next UTC day
		call(from.Add(time.Hour), "beta", "toggl", "GET", entries, 200, 0, "org"),         // another workflow
		call(to, "alpha", "toggl", "GET", entries, 200, 0, "org"),                         // at To
	}}
	r, err := audit.Build(context.Background(), src, audit.Query{From: from, To: to, Workflow: "alpha", By: audit.Day})
	if err != nil {
		t.Fatal(err)
	}
	if src.from.Location() != time.UTC || !src.from.Equal(from) || !src.to.Equal(to) || src.workflow != "alpha" {
		t.Errorf("source asked for [%s, %s) of %q", src.from, src.to, src.workflow)
	}
	if r.Query.From.Location() != time.UTC || r.Query.To.Location() != time.UTC {
		t.Errorf("the report's query is not in UTC: %+v", r.Query)
	}
	want := []string{
		rowString(row(time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), "alpha", "toggl", "GET", entries, 0, 1, 0, 0, 1, time.Second)),
		rowString(row(time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), "alpha", "toggl", "GET", entries, 200, 1, 0, 0, 0, 0)),
	}
	if got := rowStrings(r.Rows); !slices.Equal(got, want) {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.Totals.Errors != 1 || r.Totals.NoAnswer != 1 || r.Totals.Calls != 2 {
		t.Errorf("totals %+v", r.Totals)
	}
}

// listSource returns its calls whatever it is asked, and remembers the question.
type listSource struct {
	calls    []store.Call
	from, to time.Time
	workflow string
}

func (s *listSource) Calls(_ context.Context, from, to time.Time, workflow string) ([]store.Call, error) {
	s.from, s.to, s.workflow = from, to, workflow
	return s.calls, nil
}

func TestHourly(t *testing.T) {
	end := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	org := func(when time.Time) store.Call { return call(when, "alpha", "toggl", "GET", entries, 200, 0, "org") }
	cases := []struct {
		name  string
		calls []store.Call
		want  map[int]int // bucket index → count; every other bucket 0
	}{
		{"the last hour", []store.Call{org(end.Add(-time.Nanosecond)), org(end.Add(-time.Hour))}, map[int]int{23: 2}},
		{"the first hour starts 24 hours before end", []store.Call{org(end.Add(-24 * time.Hour))}, map[int]int{0: 1}},
		{"an hour in the middle", []store.Call{org(end.Add(-150 * time.Minute))}, map[int]int{21: 1}},
		{"at end is outside", []store.Call{org(end)}, nil},
		{"before the first hour is outside", []store.Call{org(end.Add(-24*time.Hour - time.Nanosecond))}, nil},
		{"cache hits cost nothing", []store.Call{func() store.Call { c := org(end.Add(-time.Minute)); c.CacheHit = true; return c }()}, nil},
		{"other bucket", []store.Call{call(end.Add(-time.Minute), "beta", "toggl", "POST", reports, 200, 0, "reports")}, nil},
		{"other connection", []store.Call{call(end.Add(-time.Minute), "alpha", "clockify", "GET", entries, 200, 0, "org")}, nil},
		{"retries and refusals are calls too", []store.Call{retry(org(end.Add(-time.Minute)), 2),
			call(end.Add(-time.Minute), "alpha", "toggl", "GET", entries, 402, 0, "org")}, map[int]int{23: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := audit.Hourly(tc.calls, "toggl", "org", end, 24)
			want := make([]int, 24)
			for i, n := range tc.want {
				want[i] = n
			}
			if !slices.Equal(got, want) {
				t.Errorf("got  %v\nwant %v", got, want)
			}
		})
	}
	if got := audit.Hourly(fixture(), "toggl", "org", end, 0); got != nil {
		t.Errorf("0 hours: %v", got)
	}

	// Through the store: toggl's org bucket had c0 in the 08:00 hour and five calls in the
	// 09:00 hour (c4, a cache hit, left out); the reports bucket's calls are not counted.
	db := openStore(t, fixture())
	calls, err := db.Calls(context.Background(), end.Add(-48*time.Hour), end.Add(48*time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int, 24)
	want[20], want[21] = 1, 5
	if got := audit.Hourly(calls, "toggl", "org", end, 24); !slices.Equal(got, want) {
		t.Errorf("from the store: got %v\nwant %v", got, want)
	}
	want = make([]int, 24)
	want[22] = 2
	if got := audit.Hourly(calls, "toggl", "reports", end, 24); !slices.Equal(got, want) {
		t.Errorf("reports bucket: got %v\nwant %v", got, want)
	}
}

func TestSpenders(t *testing.T) {
	db := openStore(t, fixture())
	calls, err := db.Calls(context.Background(), base.Add(-time.Hour), base.Add(48*time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []audit.Spender{
		{Connection: "toggl", Bucket: "org", Workflow: "alpha", Calls: 7, CacheHits: 1},
		{Connection: "jira", Bucket: "", Workflow: "alpha", Calls: 4},
		{Connection: "toggl", Bucket: "reports", Workflow: "beta", Calls: 2, CacheHits: 1},
		{Connection: "jira", Bucket: "", Workflow: "beta", Calls: 2},
		{Connection: "toggl", Bucket: "org", Workflow: "gamma", CacheHits: 1},
	}
	if got := audit.Spenders(calls); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}

	// A cache hit on a route charged to two buckets, or never charged, keeps no bucket.
	twice := []store.Call{
		call(base, "a", "toggl", "GET", entries, 200, 0, "org"),
		call(base, "a", "toggl", "GET", entries, 200, 0, "user"),
		hit(base, "a", "toggl", "GET", entries),
		hit(base, "a", "toggl", "GET", prefs),
	}
	want = []audit.Spender{
		{Connection: "toggl", Bucket: "org", Workflow: "a", Calls: 1},
		{Connection: "toggl", Bucket: "user", Workflow: "a", Calls: 1},
		{Connection: "toggl", Bucket: "", Workflow: "a", CacheHits: 2},
	}
	if got := audit.Spenders(twice); !reflect.DeepEqual(got, want) {
		t.Errorf("ambiguous buckets: got\n%+v\nwant\n%+v", got, want)
	}
	if got := audit.Spenders(nil); len(got) != 0 {
		t.Errorf("no calls: %+v", got)
	}
}
