package ui

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestPagesRender(t *testing.T) {
	h := server(t, newFake(), "")
	cases := []struct {
		name, path string
		want       []string
		absent     []string
	}{
		{
			name: "workflows", path: "/workflows",
			want: []string{
				`<table id="workflows"`,
				`data-workflow="daily-sync"`, `data-workflow="weekly-report"`,
				`href="/workflows/daily-sync"`,
				`&lt;script&gt;alert(1)&lt;/script&gt; Toggl to Jira`,
				`toggl: your entries <span class="arrow" aria-label="to">→</span> jira`,
				`<span class="effective">every 15m</span>`, `wished: every 5m`, `slowed to every 15m: the quota affords 4 runs an hour`,
				`class="toggle is-on" data-enabled="true"`, `action="/workflows/daily-sync/disable"`,
				`class="toggle is-off" data-enabled="false"`, `action="/workflows/weekly-report/enable"`,
				`class="button run-now"`,
				`<span class="badge badge-partial">partial</span>`, `10 min ago`, `5 read · 3 created · 2 failed · 6 API calls`,
				`in 4 min`,
				`<span class="calls-24h">42</span>`, `<span class="cache-hits-24h">9</span> from cache`,
				// The invalid file, prominently.
				`id="invalid-summary"`, `1 workflow file is invalid.`,
				`data-workflow-error="weekly-report"`, `workflows/weekly.yaml:14:12: unknown field &#34;chanel&#34;`,
				// A run is in progress: the page refreshes itself, through the external script.
				`data-refresh="5"`, `<script src="/static/refresh.js" defer></script>`,
				`running now`, `disabled title="A run is in progress"`,
				// Layout.
				`<nav id="nav"`, `href="/quota"`, `href="/audit"`, `class="active" aria-current="page">Workflows`,
				`<span class="version" id="version" title="sluice version">v1.2.3-test</span>`,
			},
			absent: []string{`<script>alert(1)`, `<script>alert`},
		},
		{
			name: "workflow", path: "/workflows/daily-sync",
			want: []string{
				`id="workflow" data-workflow="daily-sync"`, `<h1>daily-sync</h1>`,
				`action="/workflows/daily-sync/disable"`, `action="/workflows/daily-sync/run"`,
				`name="return_to" value="/workflows/daily-sync"`,
				`<table id="runs"`, `data-run="8"`, `data-run="7"`, `data-failures-of="8"`,
				`<span class="badge badge-partial">partial</span>`, `<span class="badge badge-ok">ok</span>`,
				`1.5 s`, `3.0 s`, `manual`, `2 entries failed`,
				`<span class="failure-title">Standup (2025-03-10 09:00)</span>`, `jira: issue PROJ-1 does not exist`,
				`&lt;b&gt;Review&lt;/b&gt;`, `2 entries failed</strong> in this run`,
				`<pre id="yaml" class="yaml"><code>name: daily-sync`,
				`&lt;script&gt;alert(&#39;yaml&#39;)&lt;/script&gt;`,
				`<span class="effective">every 15m</span>`, `workflows/daily-sync.yaml`,
			},
			absent: []string{`<script>alert`, `<b>Review`, `data-refresh`, `refresh.js`},
		},
		{
			name: "quota", path: "/quota",
			want: []string{
				`class="meter level-ok" data-connection="toggl" data-bucket="user" data-level="ok"`,
				`class="meter level-critical" data-connection="toggl" data-bucket="org" data-level="critical"`,
				`data-connection="jira" data-bucket=""`,
				`You've used <strong class="used">14</strong> / <span class="total">30</span> requests · resets in <span class="resets-in">41 min</span>`,
				`You've used <strong class="used">230</strong> / <span class="total">240</span> requests · resets in <span class="resets-in">12 min</span>`,
				`sluice leaves the last <span class="reserve-count">3</span> (the shaded reserve)`,
				`· <strong class="external-now">2</strong> used this window by other applications`,
				`aria-valuenow="14"`, `<rect class="fill" x="0" y="0" width="466" height="14">`,
				`<rect class="reserve" x="900" y="0" width="100" height="14">`,
				`<p class="advice" role="note">sluice is spending most of it: lower the polling</p>`,
				`Size not known yet`,
				// Health: bad credentials and an open circuit.
				`data-state="bad-credentials"`, `Credentials refused</strong> (HTTP 401)`,
				`data-state="circuit-open"`, `Circuit open</strong> until`, `(in 9 min) after 5 failed attempts in a row`,
				// Spenders.
				`<tr data-workflow="daily-sync"><td><a href="/workflows/daily-sync">daily-sync</a></td><td class="num">40</td><td class="num">9</td></tr>`,
				// External usage with the advice.
				`<table class="data compact" id="external-usage">`, `find the application using this API token, lower its polling, or reset the token`,
				`2025-03-10 12:00 UTC`, `<td class="num">5</td>`,
				// The chart: axis labels, the limit, hover titles.
				`<svg class="chart"`, `>−24 h</text>`, `>now</text>`, `>limit 30</text>`,
				`<title>15:00–16:00: 1 request</title>`, `<title>00:00–01:00: 27 requests</title>`,
				`id="config-error"`, `sluice.yaml:4:3: connection &#34;toggl&#34;: token is empty`,
			},
		},
		{
			name: "audit", path: "/audit",
			want: []string{
				`<form method="get" action="/audit" class="filters" id="audit-filter">`,
				`<option value="24h" selected>last 24h</option>`, `<option value="daily-sync">daily-sync</option>`,
				`<table id="audit-table"`, `<code>/api/v9/me/time_entries</code>`, `<code>/rest/api/3/issue/{key}/worklog</code>`,
				`<tr id="audit-totals">`, `<td class="num total-calls">4</td>`, `<td class="num total-cache-hits">1</td>`,
				`<td class="num total-errors">1</td>`,
				`<span class="status status-error">500</span>`,
				`id="download-csv"`, `href="/audit.csv?by=hour&amp;from=2025-03-09T14%3A00%3A00Z&amp;to=2025-03-10T14%3A00%3A00Z"`,
				`id="download-json"`, `href="/audit.json?by=hour&amp;`,
				`4 calls</strong> sent (0 without answer), 1 read from the cache, 0 retries, 1 error.`,
			},
			absent: []string{`id="audit-error"`},
		},
		{
			name: "audit filtered by day", path: "/audit?since=7d&workflow=daily-sync",
			want: []string{`<option value="7d" selected>last 7d</option>`, `<option value="daily-sync" selected>daily-sync</option>`,
				`<td class="nowrap">2025-03-09</td>`, `<td class="nowrap">2025-03-10</td>`, `workflow <strong>daily-sync</strong>, by day`,
				`<td class="num total-calls">5</td>`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := get(h, tc.path)
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s = %d, body:\n%s", tc.path, w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			body := w.Body.String()
			for _, s := range tc.want {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(body, s) {
					t.Errorf("page holds %q", s)
				}
			}
			if t.Failed() {
				t.Logf("body:\n%s", body)
			}
		})
	}
}

func TestQuotaChartHas24BarsPerBucket(t *testing.T) {
	f := newFake()
	w := get(server(t, f, ""), "/quota")
	body := w.Body.String()
	charts := strings.Count(body, `<svg class="chart"`)
	if charts != len(f.quota.Buckets) {
		t.Fatalf("%d charts, want %d", charts, len(f.quota.Buckets))
	}
	// The user bucket's chart is the last one.
	last := body[strings.LastIndex(body, `<svg class="chart"`):]
	last = last[:strings.Index(last, "</svg>")]
	bars := regexp.MustCompile(`<rect class="bar" x="\d+" y="(\d+)" width="22" height="(\d+)">`).FindAllStringSubmatch(last, -1)
	if len(bars) != 24 {
		t.Fatalf("%d bars, want 24", len(bars))
	}
	if got := strings.Count(last, "<title>"); got != 24 {
		t.Errorf("%d hover titles, want 24", got)
	}
	// The tallest hour (27 of a scale up to 50, 132 units high) is 71 units; empty hours are 0.
	if bars[10][2] != "71" || bars[0][2] != "0" || bars[1][2] != "2" {
		t.Errorf("bar heights %s, %s, %s; want 71, 0, 2", bars[10][2], bars[0][2], bars[1][2])
	}
	if total := strings.Count(body, `<rect class="bar"`); total != 24*len(f.quota.Buckets) {
		t.Errorf("%d bars on the page, want %d", total, 24*len(f.quota.Buckets))
	}
}

func TestRootRedirects(t *testing.T) {
	h := server(t, newFake(), "")
	w := get(h, "/")
	if w.Code != http.StatusFound || w.Header().Get("Location") != "/workflows" {
		t.Fatalf("GET / = %d to %q", w.Code, w.Header().Get("Location"))
	}
	w = get(h, "/quota/")
	if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/quota" {
		t.Fatalf("GET /quota/ = %d to %q", w.Code, w.Header().Get("Location"))
	}
}

func TestWorkflowPageRunsLimit(t *testing.T) {
	f := newFake()
	h := server(t, f, "")
	for path, want := range map[string]int{"/workflows/daily-sync": 20, "/workflows/daily-sync?runs=500": 500, "/workflows/daily-sync?runs=1": 1} {
		if w := get(h, path); w.Code != http.StatusOK {
			t.Fatalf("GET %s = %d", path, w.Code)
		}
		if f.lastLimit != want {
			t.Errorf("GET %s asked for %d runs, want %d", path, f.lastLimit, want)
		}
	}
}

func TestWorkflowPageMoreRuns(t *testing.T) {
	h := server(t, newFake(), "")
	if body := get(h, "/workflows/daily-sync?runs=2").Body.String(); !strings.Contains(body, `id="more-runs" href="/workflows/daily-sync?runs=100"`) {
		t.Error("a full page of runs has no link to more")
	}
	if body := get(h, "/workflows/daily-sync").Body.String(); strings.Contains(body, `id="more-runs"`) {
		t.Error("every run shown, yet a link to more")
	}
}

func TestEmptyStates(t *testing.T) {
	f := &fakeBackend{quota: newFake().quota}
	f.quota.Buckets, f.quota.External, f.quota.ConfigError = nil, nil, ""
	h := server(t, f, "")
	for path, want := range map[string]string{
		"/workflows": `id="no-workflows"`,
		"/quota":     `id="no-buckets"`,
		"/audit":     `id="no-calls"`,
	} {
		w := get(h, path)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), want) {
			t.Errorf("GET %s = %d, want 200 with %s", path, w.Code, want)
		}
	}
	if w := get(h, "/quota"); !strings.Contains(w.Body.String(), `id="no-external"`) || strings.Contains(w.Body.String(), `id="config-error"`) {
		t.Errorf("quota page without external usage or config error:\n%s", w.Body)
	}
}

func TestAuditPageBadQuery(t *testing.T) {
	h := server(t, newFake(), "")
	cases := map[string]string{
		"since=abc": `since &#34;abc&#34;: give a number and a unit`,
		"by=week":   `by &#34;week&#34;: use hour or day`,
		"from=2025-03-10T10:00&to=2025-03-10T09:00": `the window must end after it starts`,
		"since=1h&from=2025-03-10T10:00":            `give either since, or from and to, not both`,
		"since=91d":                                 `the most a report covers is 90d`,
	}
	for q, want := range cases {
		w := get(h, "/audit?"+q)
		if w.Code != http.StatusBadRequest {
			t.Errorf("GET /audit?%s = %d, want 400", q, w.Code)
			continue
		}
		body := w.Body.String()
		if !strings.Contains(body, `id="audit-error"`) || !strings.Contains(body, want) {
			t.Errorf("GET /audit?%s lacks the message %q:\n%s", q, want, body)
		}
		if strings.Contains(body, `<option value="abc"`) {
			t.Errorf("GET /audit?%s offers the bad window as a choice", q)
		}
		// The form comes back with what was sent.
		if !strings.Contains(body, `id="audit-filter"`) || strings.Contains(body, `id="audit-table"`) {
			t.Errorf("GET /audit?%s: want the form and no table", q)
		}
	}
	if body := get(h, "/audit?since=12h").Body.String(); !strings.Contains(body, `<option value="12h" selected>last 12h</option>`) {
		t.Error("a valid custom since is not offered back")
	}
	// A custom window fills the form back.
	w := get(h, "/audit?"+url.Values{"from": {"2025-03-10T09:00"}, "to": {"2025-03-10T13:00"}}.Encode())
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `value="2025-03-10T09:00"`) ||
		!strings.Contains(w.Body.String(), `<option value="" selected>from / to below</option>`) {
		t.Errorf("custom window: %d\n%s", w.Code, w.Body)
	}
}

func TestAuditPageTruncatesRows(t *testing.T) {
	f := newFake()
	f.calls = nil
	for i := range maxAuditRows + 5 {
		f.calls = append(f.calls, newFake().calls[0])
		f.calls[i].Route = "/r/" + strings.Repeat("x", 1+i%50) + string(rune('a'+i/50%26)) + string(rune('a'+i/1300))
		f.calls[i].At = now.Add(-time.Hour)
	}
	w := get(server(t, f, ""), "/audit")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /audit = %d", w.Code)
	}
	if n := strings.Count(w.Body.String(), `<tr class="audit-row">`); n != maxAuditRows {
		t.Errorf("%d rows shown, want %d", n, maxAuditRows)
	}
	if !strings.Contains(w.Body.String(), `id="audit-truncated"`) {
		t.Error("no note that rows were left out")
	}
}
