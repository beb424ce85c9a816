package ui

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/engine/audit"
	"github.com/sluicehq/sluice/engine/serve"
)

// decode unmarshals a JSON answer into v, failing on anything but JSON.
func decode(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
}

// keys fails unless m has exactly the keys want.
func keys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	got := slices.Sorted(maps.Keys(m))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s keys\n got %v\nwant %v", what, got, want)
	}
}

var workflowKeys = []string{"name", "description", "file", "source", "sink", "schedule", "effective_schedule",
	"plan_warning", "priority", "enabled", "enabled_in_file", "running", "next_run", "last_run", "calls_24h",
	"cache_hits_24h", "reload_error"}

var runKeys = []string{"id", "workflow", "trigger", "status", "started_at", "finished_at", "duration_seconds",
	"read", "created", "updated", "deleted", "skipped", "failed", "api_calls", "error"}

func TestAPIWorkflows(t *testing.T) {
	h := server(t, newFake(), "")
	w := get(h, "/api/v1/workflows")
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/v1/workflows = %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	var ws []map[string]any
	decode(t, w.Body.Bytes(), &ws)
	if len(ws) != 2 {
		t.Fatalf("%d workflows, want 2", len(ws))
	}
	keys(t, "workflow", ws[0], workflowKeys...)
	d := ws[0]
	if d["name"] != "daily-sync" || d["schedule"] != "every 5m" || d["effective_schedule"] != "every 15m" ||
		d["enabled"] != true || d["calls_24h"] != 42.0 || d["cache_hits_24h"] != 9.0 {
		t.Errorf("daily-sync = %v", d)
	}
	if d["next_run"] != "2025-03-10T14:04:10Z" {
		t.Errorf("next_run = %v, want RFC 3339", d["next_run"])
	}
	last, ok := d["last_run"].(map[string]any)
	if !ok {
		t.Fatalf("last_run = %v", d["last_run"])
	}
	keys(t, "last_run", last, runKeys...)
	if last["duration_seconds"] != 1.5 || last["status"] != "partial" || last["started_at"] != "2025-03-10T13:50:00Z" {
		t.Errorf("last_run = %v", last)
	}
	b := ws[1]
	if b["last_run"] != nil || b["next_run"] != nil || b["running"] != true ||
		!strings.Contains(b["reload_error"].(string), `unknown field "chanel"`) {
		t.Errorf("weekly-report = %v", b)
	}
}

func TestAPIWorkflow(t *testing.T) {
	f := newFake()
	h := server(t, f, "")
	w := get(h, "/api/v1/workflows/daily-sync?runs=50")
	if w.Code != http.StatusOK {
		t.Fatalf("GET = %d %s", w.Code, w.Body)
	}
	if f.lastLimit != 50 {
		t.Errorf("asked for %d runs, want 50", f.lastLimit)
	}
	var d map[string]any
	decode(t, w.Body.Bytes(), &d)
	keys(t, "workflow detail", d, append(slices.Clone(workflowKeys), "yaml", "runs")...)
	if !strings.Contains(d["yaml"].(string), "<script>alert('yaml')</script>") {
		t.Errorf("yaml = %q; JSON carries it as is", d["yaml"])
	}
	runs := d["runs"].([]any)
	if len(runs) != 2 {
		t.Fatalf("%d runs", len(runs))
	}
	r0 := runs[0].(map[string]any)
	keys(t, "run", r0, append(slices.Clone(runKeys), "failures")...)
	fs := r0["failures"].([]any)
	if len(fs) != 2 {
		t.Fatalf("%d failures", len(fs))
	}
	f0 := fs[0].(map[string]any)
	keys(t, "failure", f0, "key", "title", "op", "error")
	if f0["title"] != "Standup (2025-03-10 09:00)" || f0["op"] != "create" {
		t.Errorf("failure = %v", f0)
	}
	if r1 := runs[1].(map[string]any); len(r1["failures"].([]any)) != 0 {
		t.Errorf("run without failures has %v", r1["failures"])
	}
	if get(h, "/api/v1/workflows/daily-sync"); f.lastLimit != defaultRuns {
		t.Errorf("default runs = %d, want %d", f.lastLimit, defaultRuns)
	}
}

func TestAPIActions(t *testing.T) {
	f := newFake()
	h := server(t, f, "")
	cases := []struct {
		path   string
		code   int
		body   map[string]any
		action string
	}{
		{"/api/v1/workflows/weekly-report/enable", http.StatusOK, map[string]any{"name": "weekly-report", "enabled": true}, "enable weekly-report"},
		{"/api/v1/workflows/daily-sync/disable", http.StatusOK, map[string]any{"name": "daily-sync", "enabled": false}, "disable daily-sync"},
		{"/api/v1/workflows/daily-sync/run", http.StatusAccepted, map[string]any{"name": "daily-sync", "status": "started"}, "run daily-sync"},
	}
	for _, tc := range cases {
		w := serve1(h, req(http.MethodPost, tc.path, nil))
		if w.Code != tc.code {
			t.Errorf("POST %s = %d, want %d: %s", tc.path, w.Code, tc.code, w.Body)
			continue
		}
		var got map[string]any
		decode(t, w.Body.Bytes(), &got)
		if !maps.Equal(got, tc.body) {
			t.Errorf("POST %s = %v, want %v", tc.path, got, tc.body)
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("POST %s Cache-Control = %q", tc.path, cc)
		}
		if a := f.done(); a[len(a)-1] != tc.action {
			t.Errorf("POST %s did %v, want %s last", tc.path, a, tc.action)
		}
	}
}

func TestAPIQuota(t *testing.T) {
	h := server(t, newFake(), "")
	w := get(h, "/api/v1/quota")
	if w.Code != http.StatusOK {
		t.Fatalf("GET = %d", w.Code)
	}
	var q map[string]any
	decode(t, w.Body.Bytes(), &q)
	keys(t, "quota", q, "now", "config_error", "buckets", "external_usage")
	buckets := q["buckets"].([]any)
	if len(buckets) != 3 {
		t.Fatalf("%d buckets", len(buckets))
	}
	user := buckets[2].(map[string]any)
	keys(t, "bucket", user, "connection", "bucket", "known", "total", "used", "remaining", "reserve",
		"resets_in_seconds", "resets_at", "level", "advice", "hourly", "external_calls", "spenders", "health")
	if user["resets_in_seconds"] != 2480.0 || user["resets_at"] != "2025-03-10T14:41:20Z" || user["used"] != 14.0 ||
		len(user["hourly"].([]any)) != 24 || user["external_calls"] != 2.0 {
		t.Errorf("user bucket = %v", user)
	}
	sp := user["spenders"].([]any)[0].(map[string]any)
	keys(t, "spender", sp, "workflow", "calls", "cache_hits")
	health := user["health"].(map[string]any)
	keys(t, "health", health, "failures", "circuit_open_until", "bad_credentials", "refused_at", "refused_status")
	if health["circuit_open_until"] != "2025-03-10T14:09:00Z" || health["refused_at"] != nil {
		t.Errorf("health = %v", health)
	}
	jira := buckets[0].(map[string]any)
	if jira["resets_in_seconds"] != nil || jira["health"].(map[string]any)["bad_credentials"] != true {
		t.Errorf("jira bucket = %v", jira)
	}
	ext := q["external_usage"].([]any)[0].(map[string]any)
	keys(t, "external usage", ext, "connection", "bucket", "at", "calls", "window_resets_at")
	if ext["at"] != "2025-03-10T12:00:00Z" || ext["calls"] != 5.0 {
		t.Errorf("external = %v", ext)
	}
}

func TestAPIAudit(t *testing.T) {
	f := newFake()
	h := server(t, f, "")
	w := get(h, "/api/v1/audit?since=24h&by=hour&workflow=daily-sync")
	if w.Code != http.StatusOK {
		t.Fatalf("GET = %d %s", w.Code, w.Body)
	}
	var rep map[string]any
	decode(t, w.Body.Bytes(), &rep)
	keys(t, "report", rep, "query", "rows", "totals")
	q := rep["query"].(map[string]any)
	if q["from"] != "2025-03-09T14:00:00Z" || q["to"] != "2025-03-10T14:00:00Z" || q["by"] != "hour" || q["workflow"] != "daily-sync" {
		t.Errorf("query = %v", q)
	}
	rows := rep["rows"].([]any)
	if len(rows) == 0 {
		t.Fatal("no rows")
	}
	keys(t, "row", rows[0].(map[string]any), "period", "workflow", "connection", "method", "route", "status",
		"calls", "cache_hits", "retries", "errors", "duration_seconds")
	totals := rep["totals"].(map[string]any)
	keys(t, "totals", totals, "calls", "cache_hits", "retries", "errors", "no_answer", "duration_seconds",
		"by_status", "by_workflow", "by_connection")
	if totals["calls"] != 4.0 || totals["duration_seconds"] != 0.66 ||
		totals["by_status"].(map[string]any)["500"] != 1.0 {
		t.Errorf("totals = %v", totals)
	}

	// The same report as CSV.
	w = get(h, "/api/v1/audit?since=24h&format=csv")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("csv: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	recs, err := csv.NewReader(w.Body).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v", err)
	}
	if !slices.Equal(recs[0], audit.CSVHeader) || len(recs) != 1+len(rows) {
		t.Errorf("csv has %d lines, header %v", len(recs), recs[0])
	}
}

func TestAuditDownloads(t *testing.T) {
	h := server(t, newFake(), "")
	const q = "?from=2025-03-09T14:00:00Z&to=2025-03-10T14:00:00Z&by=hour"
	w := get(h, "/audit.csv"+q)
	if w.Code != http.StatusOK {
		t.Fatalf("csv = %d %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cd := w.Header().Get("Content-Disposition"); cd != `attachment; filename="sluice-audit-20250309T1400Z-20250310T1400Z.csv"` {
		t.Errorf("Content-Disposition = %q", cd)
	}
	recs, err := csv.NewReader(bytes.NewReader(w.Body.Bytes())).ReadAll()
	if err != nil {
		t.Fatalf("csv does not parse: %v", err)
	}
	// Header, then the rows: 4 toggl calls over 3 periods and statuses, 1 jira call.
	if len(recs) != 5 || !slices.Equal(recs[0], audit.CSVHeader) {
		t.Errorf("csv = %v", recs)
	}

	w = get(h, "/audit.json"+q+"&workflow=daily-sync")
	if w.Code != http.StatusOK {
		t.Fatalf("json = %d %s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cd := w.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="sluice-audit-`) || !strings.HasSuffix(cd, `.json"`) {
		t.Errorf("Content-Disposition = %q", cd)
	}
	var rep struct {
		Query struct{ Workflow string } `json:"query"`
		Rows  []map[string]any          `json:"rows"`
	}
	decode(t, w.Body.Bytes(), &rep)
	if rep.Query.Workflow != "daily-sync" || len(rep.Rows) != 4 {
		t.Errorf("json = %+v", rep)
	}
	// The export is the CLI's: durations in milliseconds.
	if _, ok := rep.Rows[0]["duration_seconds"]; !ok {
		t.Errorf("row = %v", rep.Rows[0])
	}
}

func TestMetricsPassThrough(t *testing.T) {
	f := newFake()
	w := get(server(t, f, ""), "/metrics")
	if w.Code != http.StatusOK || w.Body.String() != f.metrics {
		t.Fatalf("GET /metrics = %d %q", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestHealthz(t *testing.T) {
	f := newFake()
	h := server(t, f, "")
	if w := get(h, "/healthz"); w.Code != http.StatusOK || w.Body.String() != "ok\n" {
		t.Errorf("ready: %d %q", w.Code, w.Body)
	}
	if w := serve1(h, req(http.MethodHead, "/healthz", nil)); w.Code != http.StatusOK {
		t.Errorf("HEAD /healthz = %d", w.Code)
	}
	f.readyErr = errBoom
	w := get(h, "/healthz")
	if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "secret detail") {
		t.Errorf("not ready: %d %q", w.Code, w.Body)
	}
}

func TestAPIErrors(t *testing.T) {
	f := newFake()
	h := server(t, f, "")
	cases := []struct {
		method, path string
		code         int
		msg          string
	}{
		{"GET", "/api/v1/workflows/nope", 404, `no workflow is named "nope"`},
		{"POST", "/api/v1/workflows/nope/run", 404, `no workflow is named "nope"`},
		{"POST", "/api/v1/workflows/nope/enable", 404, `no workflow is named "nope"`},
		{"GET", "/api/v1/workflows/daily-sync?runs=-1", 400, `runs "-1": give a whole number from 1 to 500`},
		{"GET", "/api/v1/workflows/daily-sync?runs=0", 400, `runs "0"`},
		{"GET", "/api/v1/workflows/daily-sync?runs=501", 400, `runs "501"`},
		{"GET", "/api/v1/workflows/daily-sync?runs=abc", 400, `runs "abc"`},
		{"GET", "/api/v1/audit?since=abc", 400, `since "abc": give a number and a unit, such as 1h, 24h, 7d or 30d`},
		{"GET", "/api/v1/audit?since=0h", 400, `since "0h"`},
		{"GET", "/api/v1/audit?since=-1h", 400, `since "-1h"`},
		{"GET", "/api/v1/audit?by=week", 400, `by "week": use hour or day`},
		{"GET", "/api/v1/audit?from=2025-03-10T10:00:00Z&to=2025-03-10T09:00:00Z", 400, "the window must end after it starts"},
		{"GET", "/api/v1/audit?from=yesterday", 400, `from "yesterday": give a time`},
		{"GET", "/api/v1/audit?to=2025-03-10T09:00:00Z", 400, "to needs a from"},
		{"GET", "/api/v1/audit?since=1h&to=2025-03-10T09:00:00Z", 400, "give either since, or from and to, not both"},
		{"GET", "/api/v1/audit?from=2024-01-01T00:00:00Z", 400, "the most a report covers is 90d"},
		{"GET", "/api/v1/audit?format=xml", 400, `format "xml": use json or csv`},
		{"GET", "/api/v1/audit?since=abc&by=week", 400, `since "abc"`},
		{"DELETE", "/api/v1/workflows", 405, "method DELETE is not allowed here"},
		{"GET", "/api/v1/workflows/daily-sync/run", 405, "method GET is not allowed here"},
		{"PUT", "/api/v1/quota", 405, "method PUT is not allowed here"},
		{"GET", "/api/v1/nothing", 404, "nothing here: /api/v1/nothing"},
	}
	for _, tc := range cases {
		w := serve1(h, req(tc.method, tc.path, nil))
		if w.Code != tc.code {
			t.Errorf("%s %s = %d, want %d: %s", tc.method, tc.path, w.Code, tc.code, w.Body)
			continue
		}
		var e map[string]any
		decode(t, w.Body.Bytes(), &e)
		keys(t, "error", e, "error")
		if msg, _ := e["error"].(string); !strings.Contains(msg, tc.msg) {
			t.Errorf("%s %s: error %q, want it to hold %q", tc.method, tc.path, msg, tc.msg)
		}
		if tc.code == 405 && w.Header().Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tc.method, tc.path)
		}
	}
	if a := f.done(); len(a) != 0 {
		t.Errorf("refused requests did %v", a)
	}
}

func TestAPIBusyAndBackendFailure(t *testing.T) {
	f := newFake()
	f.runErr = serve.ErrBusy
	h := server(t, f, "")
	w := serve1(h, req(http.MethodPost, "/api/v1/workflows/daily-sync/run", nil))
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "already running") {
		t.Errorf("busy: %d %s", w.Code, w.Body)
	}
	f.workflowsErr = errBoom
	w = get(h, "/api/v1/workflows")
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "secret detail") ||
		!strings.Contains(w.Body.String(), `"error":"internal error`) {
		t.Errorf("backend failure: %d %s", w.Code, w.Body)
	}
	w = get(h, "/workflows")
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "secret detail") {
		t.Errorf("backend failure on a page: %d %s", w.Code, w.Body)
	}
}

func TestPanicIsA500(t *testing.T) {
	f := newFake()
	f.panicOnQuota = true
	h := server(t, f, "")
	for path, ct := range map[string]string{"/quota": "text/html", "/api/v1/quota": "application/json"} {
		w := get(h, path)
		if w.Code != http.StatusInternalServerError || !strings.HasPrefix(w.Header().Get("Content-Type"), ct) ||
			strings.Contains(w.Body.String(), "exploded") {
			t.Errorf("GET %s = %d %s %q", path, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
	// The server still answers.
	if w := get(h, "/workflows"); w.Code != http.StatusOK {
		t.Errorf("after a panic: %d", w.Code)
	}
}
