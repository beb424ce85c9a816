package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/sluicehq/sluice/demo"
	"github.com/sluicehq/sluice/engine/store"
	"github.com/sluicehq/sluice/engine/store/sqlite"
)

const (
	teRoute = "/api/v9/me/time_entries"
	wlRoute = "/rest/api/3/issue/{issue}/worklog"
)

// auditNow is the fake clock's time in the audit tests.
var auditNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// auditWorld writes the demo's config (its services are never called) and a store holding
// known calls, and returns the config's path.
func auditWorld(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	site := &demo.Site{TogglURL: "http://127.0.0.1:9", JiraURL: "http://127.0.0.1:9"}
	config, _, err := site.WriteConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) time.Time { return auditNow.Add(d) }
	c := func(when time.Time, wf, conn, method, route string, status int, dur time.Duration) store.Call {
		return store.Call{At: when, Workflow: wf, RunID: 1, Connection: conn, Method: method, Route: route,
			Status: status, Duration: dur, QuotaRemaining: -1}
	}
	hit := c(at(-49*time.Minute), "website-worklogs", "toggl", "GET", teRoute, 200, 0)
	hit.CacheHit = true
	timeout := c(at(-39*time.Minute), "website-worklogs", "jira", "POST", wlRoute, 0, 30*time.Second)
	timeout.Error = "timeout"
	retried := c(at(-38*time.Minute), "website-worklogs", "jira", "POST", wlRoute, 201, 90*time.Millisecond)
	retried.Retry = 1
	calls := []store.Call{
		c(at(-24*time.Hour-time.Minute), "billable-mobile", "toggl", "GET", teRoute, 200, 50*time.Millisecond), // before the default window
		c(at(-24*time.Hour), "billable-mobile", "toggl", "GET", teRoute, 200, 60*time.Millisecond),             // its first instant
		c(at(-115*time.Minute), "billable-mobile", "toggl", "GET", teRoute, 429, 10*time.Millisecond),
		c(at(-time.Hour), "(quota probe)", "toggl", "GET", "/api/v9/me", 200, 30*time.Millisecond),
		c(at(-50*time.Minute), "website-worklogs", "toggl", "GET", teRoute, 200, 120*time.Millisecond),
		hit,
		c(at(-40*time.Minute), "website-worklogs", "jira", "POST", wlRoute, 201, 80*time.Millisecond),
		timeout,
		retried,
		c(at(0), "website-worklogs", "toggl", "GET", teRoute, 200, 70*time.Millisecond), // at now: after the default window
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.RecordCalls(ctx, calls); err != nil {
		t.Fatal(err)
	}
	return config
}

// sluiceAudit runs `sluice audit args...` in this process with the clock at auditNow.
func sluiceAudit(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = runMain(context.Background(), append([]string{"audit"}, args...),
		cmdIO{stdout: &out, stderr: &errOut, env: noEnv, app: appOptions{clock: clockwork.NewFakeClockAt(auditNow)}})
	return code, out.String(), errOut.String()
}

func TestAuditTable(t *testing.T) {
	config := auditWorld(t)
	code, out, errOut := sluiceAudit(t, "--config", config)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := [][]string{
		{"API", "calls", "from", "2026-03-09T12:00:00Z", "to", "2026-03-10T12:00:00Z", "(UTC),", "by", "hour"},
		{"period", "workflow", "connection", "method", "route", "status", "calls", "cache", "hits", "retries", "errors", "time"},
		{"2026-03-09", "12:00", "billable-mobile", "toggl", "GET", teRoute, "200", "1", "0", "0", "0", "60ms"},
		{"2026-03-10", "10:00", "billable-mobile", "toggl", "GET", teRoute, "429", "1", "0", "0", "1", "10ms"},
		{"2026-03-10", "11:00", "(quota", "probe)", "toggl", "GET", "/api/v9/me", "200", "1", "0", "0", "0", "30ms"},
		{"2026-03-10", "11:00", "website-worklogs", "jira", "POST", wlRoute, "no", "answer", "1", "0", "0", "1", "30s"},
		{"2026-03-10", "11:00", "website-worklogs", "jira", "POST", wlRoute, "201", "2", "0", "1", "0", "170ms"},
		{"2026-03-10", "11:00", "website-worklogs", "toggl", "GET", teRoute, "200", "1", "1", "0", "0", "120ms"},
		{"total", "7", "1", "1", "2", "30.39s"},
		strings.Fields("7 calls sent (1 without answer), 1 read answered from the cache at no quota cost, 1 retry, 2 errors."),
		strings.Fields("By status: no answer ×1, 200 ×3, 201 ×2, 429 ×1."),
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if got := strings.Fields(lines[i]); !slices.Equal(got, w) {
			t.Errorf("line %d: %q\nwant %q", i+1, got, w)
		}
	}
	if errOut != "" {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestAuditCSV(t *testing.T) {
	config := auditWorld(t)
	code, out, errOut := sluiceAudit(t, "--config", config, "--format", "csv", "--by", "day",
		"--since", "2026-03-09T00:00:00Z", "--until", "2026-03-11T00:00:00Z")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	want := `period,workflow,connection,method,route,status,calls,cache_hits,retries,errors,duration_seconds
2026-03-09T00:00:00Z,billable-mobile,toggl,GET,/api/v9/me/time_entries,200,2,0,0,0,0.110000
2026-03-10T00:00:00Z,(quota probe),toggl,GET,/api/v9/me,200,1,0,0,0,0.030000
2026-03-10T00:00:00Z,billable-mobile,toggl,GET,/api/v9/me/time_entries,429,1,0,0,1,0.010000
2026-03-10T00:00:00Z,website-worklogs,jira,POST,/rest/api/3/issue/{issue}/worklog,0,1,0,0,1,30.000000
2026-03-10T00:00:00Z,website-worklogs,jira,POST,/rest/api/3/issue/{issue}/worklog,201,2,0,1,0,0.170000
2026-03-10T00:00:00Z,website-worklogs,toggl,GET,/api/v9/me/time_entries,200,2,1,0,0,0.190000
`
	if out != want {
		t.Errorf("csv:\n%s\nwant:\n%s", out, want)
	}
}

// auditJSON is what the JSON output is read back into.
type auditJSON struct {
	Query struct {
		From     time.Time `json:"from"`
		To       time.Time `json:"to"`
		Workflow string    `json:"workflow"`
		By       string    `json:"by"`
	} `json:"query"`
	Rows []struct {
		Workflow   string `json:"workflow"`
		Connection string `json:"connection"`
		Status     int    `json:"status"`
		Calls      int    `json:"calls"`
		CacheHits  int    `json:"cache_hits"`
	} `json:"rows"`
	Totals struct {
		Calls      int            `json:"calls"`
		CacheHits  int            `json:"cache_hits"`
		Errors     int            `json:"errors"`
		ByWorkflow map[string]int `json:"by_workflow"`
	} `json:"totals"`
}

func TestAuditJSON(t *testing.T) {
	config := auditWorld(t)
	cases := []struct {
		name       string
		args       []string
		from       time.Time
		workflow   string
		calls      int
		errors     int
		byWorkflow map[string]int
	}{
		{"one workflow over 2d", []string{"--workflow", "billable-mobile", "--since", "2d"},
			auditNow.Add(-48 * time.Hour), "billable-mobile", 3, 1, map[string]int{"billable-mobile": 3}},
		{"a workflow the config no longer has", []string{"--workflow", "(quota probe)", "--since", "90m"},
			auditNow.Add(-90 * time.Minute), "(quota probe)", 1, 0, map[string]int{"(quota probe)": 1}},
		{"every workflow over 1d12h", []string{"--since", "1d12h"},
			auditNow.Add(-36 * time.Hour), "", 8, 2, map[string]int{"billable-mobile": 3, "(quota probe)": 1, "website-worklogs": 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := sluiceAudit(t, append([]string{"--config", config, "--format", "json"}, tc.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			var got auditJSON
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !got.Query.From.Equal(tc.from) || !got.Query.To.Equal(auditNow) || got.Query.Workflow != tc.workflow || got.Query.By != "hour" {
				t.Errorf("query %+v", got.Query)
			}
			if got.Totals.Calls != tc.calls || got.Totals.Errors != tc.errors || fmt.Sprint(got.Totals.ByWorkflow) != fmt.Sprint(tc.byWorkflow) {
				t.Errorf("totals %+v, want %d calls, %d errors, %v", got.Totals, tc.calls, tc.errors, tc.byWorkflow)
			}
			for _, r := range got.Rows {
				if tc.workflow != "" && r.Workflow != tc.workflow {
					t.Errorf("row of workflow %q in a report of %q", r.Workflow, tc.workflow)
				}
			}
		})
	}
}

func TestAuditUsageErrors(t *testing.T) {
	// The config does not exist: every one of these must be refused before it is read.
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--since", "yesterday"}, `--since "yesterday": use a duration such as 90m, 24h or 7d, or an RFC 3339 time`},
		{[]string{"--since", "-5m"}, `--since "-5m": use a duration`},
		{[]string{"--since", "0d"}, `--since "0d": use a duration`},
		{[]string{"--since", "1.5d"}, `--since "1.5d": use a duration`},
		{[]string{"--since", "91d"}, "the window spans 91d; the most a report covers is 90d"},
		{[]string{"--until", "tomorrow"}, `--until "tomorrow": use an RFC 3339 time such as 2026-01-31T09:00:00Z, or now`},
		{[]string{"--since", "2026-03-10T13:00:00Z"}, "the window must end after it starts (from 2026-03-10T13:00:00Z to 2026-03-10T12:00:00Z)"},
		{[]string{"--format", "xml"}, `--format "xml": use table, csv or json`},
		{[]string{"--by", "week"}, `grouping "week": use hour or day`},
		{[]string{"--by", "week", "--since", "100d"}, `the window spans 100d; the most a report covers is 90d; grouping "week": use hour or day`},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"today"}, `unexpected argument "today"`},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := sluiceAudit(t, append([]string{"--config", missing}, tc.args...)...)
			if code != exitUsage || !strings.Contains(errOut, "sluice audit: "+tc.want) || out != "" {
				t.Errorf("exit %d, want %d; stderr lacks %q\nstdout: %s\nstderr: %s", code, exitUsage, tc.want, out, errOut)
			}
		})
	}

	// An unknown workflow needs the config to be known unknown.
	config := auditWorld(t)
	code, out, errOut := sluiceAudit(t, "--config", config, "--workflow", "website-worklog")
	if code != exitUsage || !strings.Contains(errOut, `no workflow named "website-worklog" (have `) {
		t.Errorf("unknown workflow: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = sluiceAudit(t, "--config", missing)
	if code != exitFailed || !strings.Contains(errOut, "nope.yaml") {
		t.Errorf("missing config: exit %d\n%s%s", code, out, errOut)
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90m": 90 * time.Minute, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "1s": time.Second,
	} {
		if got, err := parseAge(in); err != nil || got != want {
			t.Errorf("parseAge(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "7", "0d", "0s", "-1d", "-3h", "1d-2h", "1.5d", "1h30d", "5x", "99999d"} {
		if got, err := parseAge(in); err == nil {
			t.Errorf("parseAge(%q) = %s, want an error", in, got)
		}
	}
}

// TestAuditMatchesStore runs every example workflow against the simulators, then checks that
// the report's counts are the store's rows for the same window, in each format.
func TestAuditMatchesStore(t *testing.T) {
	w := newWorld(t, worldOptions{})
	w.runOnce()
	w.runOnce() // the second run reads what it can from the cache
	until := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
	from := until.Add(-2 * time.Hour)
	args := []string{"audit", "--config", w.config, "--since", "2h", "--until", until.Format(time.RFC3339)}

	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(w.dir, "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	calls, err := db.Calls(ctx, from, until, "")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ workflow, connection, method, route, status string }
	want := map[key][2]int{} // calls, cache hits
	sent, conns := 0, map[string]bool{}
	for _, c := range calls {
		k := key{c.Workflow, c.Connection, c.Method, c.Route, strconv.Itoa(c.Status)}
		n := want[k]
		if c.CacheHit {
			n[1]++
		} else {
			n[0]++
			sent++
		}
		want[k] = n
		conns[c.Connection] = true
	}
	if sent == 0 || !conns["toggl"] || !conns["jira"] {
		t.Fatalf("the runs recorded %d calls on %v; the check would prove little", sent, conns)
	}

	run := func(format string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := runMain(ctx, append(args, "--format", format), cmdIO{stdout: &out, stderr: &errOut, env: noEnv}); code != exitOK {
			t.Fatalf("%s: exit %d\n%s%s", format, code, out.String(), errOut.String())
		}
		return out.String()
	}

	recs, err := csv.NewReader(strings.NewReader(run("csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[key][2]int{}
	for _, rec := range recs[1:] {
		k := key{rec[1], rec[2], rec[3], rec[4], rec[5]}
		calls, err1 := strconv.Atoi(rec[6])
		hits, err2 := strconv.Atoi(rec[7])
		if err1 != nil || err2 != nil {
			t.Fatalf("line %q", rec)
		}
		n := got[k]
		got[k] = [2]int{n[0] + calls, n[1] + hits}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("csv counts per workflow, connection, method, route and status:\n%v\nthe store's:\n%v", got, want)
	}

	var j auditJSON
	if err := json.Unmarshal([]byte(run("json")), &j); err != nil {
		t.Fatal(err)
	}
	if j.Totals.Calls != sent || j.Totals.CacheHits != len(calls)-sent || len(j.Rows) != len(recs)-1 {
		t.Errorf("json: %d calls, %d cache hits, %d rows; the store has %d calls and %d hits, the csv %d rows",
			j.Totals.Calls, j.Totals.CacheHits, len(j.Rows), sent, len(calls)-sent, len(recs)-1)
	}

	table := run("table")
	if !strings.Contains(table, fmt.Sprintf("\n%d calls sent (", sent)) {
		t.Errorf("table does not say %d calls were sent:\n%s", sent, table)
	}
}
