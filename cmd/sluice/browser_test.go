package main

// Browser tests: `sluice demo` serves its web UI in this process and a shared headless
// Chromium (browser_helpers_test.go) reads and clicks the pages through their stable hooks
// (ids, classes and data- attributes; see ui/doc.go and ui/templates). Each test saves a
// full-page screenshot under testout/browser/. They skip when Chromium is not installed.

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// demoWorkflows are the example workflows, in the name order the UI lists them.
var demoWorkflows = []string{"billable-mobile", "internal-by-project", "support-rounded", "team-support", "website-worklogs"}

// workflowRow is one row of table#workflows as the browser shows it.
type workflowRow struct {
	Name    string `json:"name"`
	Enabled string `json:"enabled"` // the toggle's data-enabled
	Label   string `json:"label"`   // the toggle's text: On or Off
	Status  string `json:"status"`  // the last run's badge
	Started string `json:"started"` // the last run's <time datetime>
	LastRun string `json:"lastRun"` // td.last-run as read
	NextRun string `json:"nextRun"` // td.next-run as read
}

const readWorkflowRows = `Array.from(document.querySelectorAll("table#workflows tr[data-workflow]")).map(tr => {
  const text = sel => { const n = tr.querySelector(sel); return n ? n.innerText.trim() : ""; };
  const toggle = tr.querySelector("button.toggle");
  const time = tr.querySelector("td.last-run time");
  return {
    name: tr.dataset.workflow,
    enabled: toggle ? toggle.dataset.enabled : "",
    label: toggle ? toggle.innerText.trim() : "",
    status: text("td.last-run .badge"),
    started: time ? time.getAttribute("datetime") : "",
    lastRun: text("td.last-run"),
    nextRun: text("td.next-run"),
  };
})`

func workflowRows(t *testing.T, tab context.Context) map[string]workflowRow {
	t.Helper()
	rows := run(t, tab, "read table#workflows", chromedp.Evaluate[[]workflowRow](readWorkflowRows))
	byName := map[string]workflowRow{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	return byName
}

func TestBrowserWorkflowsPage(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	d := startDemo(t, t.TempDir())
	tab := newTab(t)
	open(t, tab, d.URL+"/workflows", chromedp.CSS("table#workflows"))

	rows := run(t, tab, "read table#workflows", chromedp.Evaluate[[]workflowRow](readWorkflowRows))
	var names []string
	for _, r := range rows {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, demoWorkflows) {
		t.Fatalf("the page lists %q, want %q", names, demoWorkflows)
	}
	// The datetime attribute has whole seconds.
	from, to := d.started.Truncate(time.Second), time.Now()
	for _, r := range rows {
		if r.Status != "ok" && r.Status != "partial" {
			t.Errorf("%s: last run %q (%q), want the demo's ok or partial run", r.Name, r.Status, r.LastRun)
		}
		started, err := time.Parse(time.RFC3339, r.Started)
		if err != nil {
			t.Errorf("%s: the last run's time %q: %v", r.Name, r.Started, err)
		} else if started.Before(from) || started.After(to) {
			t.Errorf("%s: the last run started at %s, not while the demo ran (%s to %s)", r.Name, started, from, to)
		}
		if !strings.Contains(r.LastRun, "API call") {
			t.Errorf("%s: the last run cell %q does not say what the run did", r.Name, r.LastRun)
		}
		if r.Enabled != "true" || r.Label != "On" {
			t.Errorf("%s: toggle data-enabled=%q %q, want true and On (every example is enabled)", r.Name, r.Enabled, r.Label)
		}
	}
	screenshot(t, tab)
}

func TestBrowserDisableSurvivesRestart(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	const name = "billable-mobile"
	toggle := chromedp.CSS(`tr[data-workflow="` + name + `"] button.toggle`)
	dir := t.TempDir()
	d := startDemo(t, dir)
	tab := newTab(t)
	open(t, tab, d.URL+"/workflows", toggle)
	if r := workflowRows(t, tab)[name]; r.Enabled != "true" {
		t.Fatalf("%s starts with data-enabled=%q, want true", name, r.Enabled)
	}

	submit(t, tab, toggle)
	r := workflowRows(t, tab)[name]
	if r.Enabled != "false" || r.Label != "Off" || r.NextRun != "disabled" {
		t.Fatalf("after the click, %s shows data-enabled=%q %q, next run %q; want false, Off, disabled", name, r.Enabled, r.Label, r.NextRun)
	}

	// Restart on the same folder: the switch lives in the database, not in the file.
	d.stop(t)
	d = startDemo(t, dir)
	open(t, tab, d.URL+"/workflows", toggle)
	r = workflowRows(t, tab)[name]
	if r.Enabled != "false" || r.Label != "Off" || r.NextRun != "disabled" {
		t.Fatalf("after the restart, %s shows data-enabled=%q %q, next run %q; want false, Off, disabled", name, r.Enabled, r.Label, r.NextRun)
	}

	submit(t, tab, toggle)
	r = workflowRows(t, tab)[name]
	if r.Enabled != "true" || r.Label != "On" || r.NextRun == "disabled" {
		t.Fatalf("after the second click, %s shows data-enabled=%q %q, next run %q; want true, On and a next run", name, r.Enabled, r.Label, r.NextRun)
	}
	screenshot(t, tab)
}

// runRow is one row of table#runs.
type runRow struct {
	ID      int    `json:"id"`
	Trigger string `json:"trigger"`
	Status  string `json:"status"`
}

const readRunRows = `Array.from(document.querySelectorAll("table#runs tr[data-run]")).map(tr => ({
  id: Number(tr.dataset.run),
  trigger: tr.cells[2].innerText.trim(),
  status: tr.cells[3].innerText.trim(),
}))`

func TestBrowserRunNow(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	const name = "website-worklogs"
	page := chromedp.CSS(`#workflow[data-workflow="` + name + `"]`)
	runNow := chromedp.CSS(`#workflow button.run-now`)
	d := startDemo(t, t.TempDir())
	tab := newTab(t)
	open(t, tab, d.URL+"/workflows/"+name, page)

	before := run(t, tab, "read table#runs", chromedp.Evaluate[[]runRow](readRunRows))
	if len(before) == 0 {
		t.Fatalf("%s shows no run, want the demo's", name)
	}
	maxBefore := 0
	for _, r := range before {
		maxBefore = max(maxBefore, r.ID)
	}
	if dis := run(t, tab, "read the run-now button", chromedp.AttributeValue(runNow, "disabled")); dis.Exists {
		t.Fatalf("Run now is disabled before any click")
	}
	submit(t, tab, runNow)

	// The run goes on in the background: reload until it is listed and finished.
	var manual runRow
	var after []runRow
	pollUntil(t, "a finished manual run is listed", 30*time.Second, 250*time.Millisecond, func() (bool, string) {
		ctx, cancel := context.WithTimeout(tab, 5*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate(d.URL+"/workflows/"+name), chromedp.WaitVisible(page)); err != nil {
			return false, err.Error()
		}
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]runRow](readRunRows))
		if err != nil {
			return false, err.Error()
		}
		after = rows
		for _, r := range rows {
			if r.ID > maxBefore && r.Trigger == "manual" && r.Status != "running" {
				manual = r
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", rows)
	})
	// A scheduled run may start meanwhile, but one click makes exactly one manual run, and
	// the runs listed before are still listed.
	var added, manuals int
	for _, r := range after {
		if r.ID > maxBefore {
			added++
			if r.Trigger == "manual" {
				manuals++
			}
		}
	}
	if manuals != 1 || len(after) != len(before)+added {
		t.Errorf("after one click: %d new manual runs (want 1), %d runs listed (want the %d before plus %d new): before %+v, after %+v",
			manuals, len(after), len(before), added, before, after)
	}
	if manual.Status != "ok" && manual.Status != "partial" {
		t.Errorf("the manual run %d ended %q, want ok or partial (the demo's WEB-404 entry fails each time)", manual.ID, manual.Status)
	}
	if refresh := run(t, tab, "read body[data-refresh]", chromedp.Evaluate[bool](`document.body.hasAttribute("data-refresh")`)); refresh {
		t.Errorf("the page still reloads itself (body[data-refresh]) after the run finished")
	}
	screenshot(t, tab)
}

// quotaBucket is the part of GET /api/v1/quota's bucket that the meter shows.
type quotaBucket struct {
	Connection string `json:"connection"`
	Bucket     string `json:"bucket"`
	Known      bool   `json:"known"`
	Total      int    `json:"total"`
	Used       int    `json:"used"`
	Remaining  int    `json:"remaining"`
	Level      string `json:"level"`
	Hourly     []int  `json:"hourly"`
}

// meterView is what the browser shows of one .meter.
type meterView struct {
	Used      string `json:"used"`
	Total     string `json:"total"`
	Remaining string `json:"remaining"`
	ResetsIn  string `json:"resetsIn"`
	Level     string `json:"level"`
	Bars      int    `json:"bars"`
	Hourly    []int  `json:"hourly"` // the chart's g.hour data-value, oldest first
}

const readTogglUserMeter = `(() => {
  const m = document.querySelector('.meter[data-connection="toggl"][data-bucket="user"]');
  if (!m) return null;
  const text = sel => { const n = m.querySelector(sel); return n ? n.innerText.trim() : ""; };
  return {
    used: text(".used"), total: text(".total"), remaining: text(".remaining"), resetsIn: text(".resets-in"),
    level: m.dataset.level,
    bars: m.querySelectorAll("svg.chart rect.bar").length,
    hourly: Array.from(m.querySelectorAll("svg.chart g.hour")).map(g => Number(g.dataset.value)),
  };
})()`

func (d *demoServer) togglUserBucket(t *testing.T) quotaBucket {
	t.Helper()
	_, body := d.get(t, "/api/v1/quota")
	var q struct {
		Buckets []quotaBucket `json:"buckets"`
	}
	if err := json.Unmarshal(body, &q); err != nil {
		t.Fatalf("GET /api/v1/quota: %v\n%s", err, body)
	}
	for _, b := range q.Buckets {
		if b.Connection == "toggl" && b.Bucket == "user" {
			return b
		}
	}
	t.Fatalf("GET /api/v1/quota has no toggl user bucket:\n%s", body)
	return quotaBucket{}
}

func TestBrowserQuotaMeter(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	meter := chromedp.CSS(`.meter[data-connection="toggl"][data-bucket="user"]`)
	d := startDemo(t, t.TempDir())
	tab := newTab(t)

	// The API is read before and after the page, so that a scheduled run spending quota
	// in between is told apart from a page that disagrees with the API.
	var api quotaBucket
	var page *meterView
	for attempt := 1; ; attempt++ {
		first := d.togglUserBucket(t)
		open(t, tab, d.URL+"/quota", meter)
		page = run(t, tab, "read the toggl user meter", chromedp.Evaluate[*meterView](readTogglUserMeter))
		api = d.togglUserBucket(t)
		if reflect.DeepEqual(first, api) {
			break
		}
		if attempt == 3 {
			t.Fatalf("the quota kept moving while the page was read: %+v, then %+v", first, api)
		}
	}
	if page == nil {
		t.Fatal("no .meter[data-connection=toggl][data-bucket=user] on /quota")
	}

	if api.Total != 30 {
		t.Errorf("the API gives the toggl user bucket %d requests an hour, want 30 (Starter plan)", api.Total)
	}
	for _, f := range []struct {
		what string
		page string
		api  int
	}{{"used", page.Used, api.Used}, {"total", page.Total, api.Total}, {"remaining", page.Remaining, api.Remaining}} {
		n, err := strconv.Atoi(f.page)
		if err != nil || n != f.api {
			t.Errorf("the meter shows %s %q, the API %d", f.what, f.page, f.api)
		}
	}
	if api.Used == 0 {
		t.Errorf("the API says the demo's runs used none of the toggl user bucket")
	}
	if page.Level != api.Level {
		t.Errorf("the meter's data-level is %q, the API's level %q", page.Level, api.Level)
	}
	if api.Known && page.ResetsIn == "" {
		t.Errorf("the bucket was measured, but the meter does not say when it resets")
	}
	if page.Bars != 24 {
		t.Errorf("the meter's chart has %d rect.bar, want 24 (one per hour)", page.Bars)
	}
	if !slices.Equal(page.Hourly, api.Hourly) {
		t.Errorf("the chart's hours %v differ from the API's hourly %v", page.Hourly, api.Hourly)
	}
	screenshot(t, tab)
}

// auditKey names one audit row: period, workflow, connection, method, route and status.
type auditKey struct {
	Period, Workflow, Connection, Method, Route, Status string
}

// readAuditTable reads table#audit-table: each row's cells up to Calls, and the totals.
const readAuditTable = `({
  rows: Array.from(document.querySelectorAll("table#audit-table tr.audit-row")).map(tr =>
    Array.from(tr.cells).slice(0, 7).map(td => td.innerText.trim())),
  total: (document.querySelector("tr#audit-totals .total-calls") || {innerText: ""}).innerText.trim(),
  truncated: !!document.getElementById("audit-truncated"),
})`

func TestBrowserAuditCSV(t *testing.T) {
	t.Parallel()
	requireChromium(t)
	d := startDemo(t, t.TempDir())
	tab := newTab(t)
	// The download link writes the window's end in whole seconds (ui/query.go, queryValues),
	// so a call made earlier in the second the page is drawn is in the table and not in the
	// file. The demo's runs are over when it serves: draw the page in a later second.
	waitUntil(t, d.ready.Truncate(time.Second).Add(time.Second))
	open(t, tab, d.URL+"/audit?since=24h&by=hour", chromedp.CSS("table#audit-table"))

	table := run(t, tab, "read table#audit-table", chromedp.Evaluate[struct {
		Rows      [][]string `json:"rows"`
		Total     string     `json:"total"`
		Truncated bool       `json:"truncated"`
	}](readAuditTable))
	if table.Truncated {
		t.Fatalf("the table shows only part of the demo's %d rows; the sums cannot be checked", len(table.Rows))
	}
	total, err := strconv.Atoi(table.Total)
	if err != nil || total == 0 {
		t.Fatalf("the totals row shows %q calls, want the demo's calls", table.Total)
	}
	shown := map[auditKey]int{}
	sum := 0
	for _, cells := range table.Rows {
		if len(cells) != 7 {
			t.Fatalf("an audit row has the cells %q, want 7 up to Calls", cells)
		}
		k := auditKey{Period: cells[0], Workflow: cells[1], Connection: cells[2], Method: cells[3], Route: cells[4], Status: cells[5]}
		if k.Workflow == "—" {
			k.Workflow = ""
		}
		if k.Status == "no answer" {
			k.Status = "0"
		}
		calls, err := strconv.Atoi(cells[6])
		if err != nil {
			t.Fatalf("row %q: calls: %v", cells, err)
		}
		if _, dup := shown[k]; dup {
			t.Fatalf("the table has two rows for %+v", k)
		}
		shown[k] = calls
		sum += calls
	}
	if sum != total {
		t.Errorf("the rows' calls add up to %d, the totals row says %d", sum, total)
	}

	// The link carries the table's window as from/to, so the file matches the table.
	href := run(t, tab, "read a#download-csv", chromedp.AttributeValue(chromedp.CSS("a#download-csv"), "href"))
	u, err := url.Parse(href.Value)
	if !href.Exists || err != nil || u.Path != "/audit.csv" {
		t.Fatalf("a#download-csv href %q (%v), want /audit.csv?…", href.Value, err)
	}
	if q := u.Query(); q.Get("by") != "hour" || q.Get("from") == "" || q.Get("to") == "" {
		t.Errorf("a#download-csv href %q lacks by=hour and the window's from and to", href.Value)
	}
	resp, body := d.get(t, u.RequestURI())
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "text/csv" {
		t.Errorf("the CSV is served as %q", resp.Header.Get("Content-Type"))
	}
	if cd, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); cd != "attachment" {
		t.Errorf("the CSV's Content-Disposition is %q, want an attachment", resp.Header.Get("Content-Disposition"))
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%s", err, body)
	}
	header := []string{"period", "workflow", "connection", "method", "route", "status", "calls", "cache_hits", "retries", "errors", "duration_seconds"}
	if len(recs) == 0 || !slices.Equal(recs[0], header) {
		t.Fatalf("the CSV's header is %q, want %q", recs[:min(1, len(recs))], header)
	}
	inCSV := map[auditKey]int{}
	csvSum := 0
	for _, rec := range recs[1:] {
		p, err := time.Parse(time.RFC3339, rec[0])
		if err != nil {
			t.Fatalf("CSV line %q: period: %v", rec, err)
		}
		k := auditKey{Period: p.UTC().Format("2006-01-02 15:04"), Workflow: rec[1], Connection: rec[2], Method: rec[3], Route: rec[4], Status: rec[5]}
		calls, err := strconv.Atoi(rec[6])
		if err != nil {
			t.Fatalf("CSV line %q: calls: %v", rec, err)
		}
		if _, dup := inCSV[k]; dup {
			t.Fatalf("the CSV has two lines for %+v", k)
		}
		inCSV[k] = calls
		csvSum += calls
	}
	for k, calls := range shown {
		if got, ok := inCSV[k]; !ok {
			t.Errorf("the table's row %+v is not in the CSV", k)
		} else if got != calls {
			t.Errorf("%+v: the table shows %d calls, the CSV %d", k, calls, got)
		}
	}
	for k := range inCSV {
		if _, ok := shown[k]; !ok {
			t.Errorf("the CSV's line %+v is not in the table", k)
		}
	}
	if csvSum != total {
		t.Errorf("the CSV's calls add up to %d, the table's totals row says %d", csvSum, total)
	}
	screenshot(t, tab)
}
