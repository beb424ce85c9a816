package ui

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/sluicehq/sluice/engine/audit"
	"github.com/sluicehq/sluice/engine/store"
)

func TestBrokenTemplatesFailAtStart(t *testing.T) {
	good := func() fstest.MapFS {
		fs := fstest.MapFS{}
		for _, name := range pageNames {
			fs["templates/"+name] = &fstest.MapFile{Data: []byte(`{{define "` + name + `"}}ok{{end}}`)}
		}
		return fs
	}
	if _, err := parseTemplates(good()); err != nil {
		t.Fatalf("good templates: %v", err)
	}
	broken := good()
	broken["templates/quota.html"] = &fstest.MapFile{Data: []byte(`{{define "quota.html"}}{{if .X}}unclosed{{end}}`)}
	if _, err := parseTemplates(broken); err == nil {
		t.Error("a broken template parsed")
	}
	missing := good()
	delete(missing, "templates/audit.html")
	if _, err := parseTemplates(missing); err == nil || !strings.Contains(err.Error(), `"audit.html"`) {
		t.Errorf("a missing page: %v", err)
	}
	unknownFunc := good()
	unknownFunc["templates/x.html"] = &fstest.MapFile{Data: []byte(`{{nosuchfunc 1}}`)}
	if _, err := parseTemplates(unknownFunc); err == nil {
		t.Error("an unknown function parsed")
	}
	// The embedded templates are the good kind.
	if _, err := parseTemplates(files); err != nil {
		t.Errorf("embedded templates: %v", err)
	}
}

func TestRelative(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{4*time.Minute + 10*time.Second, "in 4 min"},
		{30 * time.Second, "in less than a minute"},
		{0, "in less than a minute"},
		{-30 * time.Second, "just now"},
		{-3 * time.Minute, "3 min ago"},
		{2*time.Hour + 5*time.Minute, "in 2 h 5 min"},
		{-2 * time.Hour, "2 h ago"},
		{-(50*time.Hour + 10*time.Minute), "2 d 2 h ago"},
		{72 * time.Hour, "in 3 d"},
	}
	for _, tc := range cases {
		if got := relative(now, now.Add(tc.d)); got != tc.want {
			t.Errorf("relative(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := next(now, now.Add(-time.Minute)); got != "due now" {
		t.Errorf("next(overdue) = %q", got)
	}
	if got := next(now, now.Add(5*time.Minute)); got != "in 5 min" {
		t.Errorf("next(in 5 min) = %q", got)
	}
	if got := relative(now, time.Time{}); got != "" {
		t.Errorf("relative(zero) = %q", got)
	}
}

func TestHuman(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0 s", 450 * time.Millisecond: "450 ms", 1500 * time.Millisecond: "1.5 s",
		3*time.Minute + 4*time.Second: "3 min 4 s", 62 * time.Minute: "1 h 2 min",
	} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
	if got := runTime(now, store.Run{StartedAt: now.Add(-90 * time.Second)}); got != "running for 1 min 30 s" {
		t.Errorf("runTime(running) = %q", got)
	}
}

func TestPluralAndCounts(t *testing.T) {
	for _, tc := range [][3]string{{"1", "call", "1 call"}, {"2", "call", "2 calls"}, {"3", "entry", "3 entries"}, {"0", "retry", "0 retries"}, {"2", "day", "2 days"}} {
		n := map[string]int{"0": 0, "1": 1, "2": 2, "3": 3}[tc[0]]
		if got := plural(n, tc[1]); got != tc[2] {
			t.Errorf("plural(%s, %s) = %q", tc[0], tc[1], got)
		}
	}
	if got := counts(store.Counts{Read: 12, Created: 3, Failed: 1, Calls: 1}); got != "12 read · 3 created · 1 failed · 1 API call" {
		t.Errorf("counts = %q", got)
	}
	if badge("running") != "badge-running" || badge(`x" onclick="y`) != "badge-unknown" {
		t.Error("badge classes")
	}
}

func TestNewChart(t *testing.T) {
	c := newChart(hourly, now, 30)
	if len(c.Bars) != 24 {
		t.Fatalf("%d bars", len(c.Bars))
	}
	// Bars sit on the base line, left to right, one slot apart.
	for i, b := range c.Bars {
		if b.Y+b.H != c.Base || b.X != chartLeft+i*chartSlot+3 || b.Value != hourly[i] {
			t.Errorf("bar %d = %+v", i, b)
		}
	}
	if c.Limit == nil || c.Limit.Label != "limit 30" || c.Limit.Y != c.Base-30*chartPlotH/50 {
		t.Errorf("limit = %+v", c.Limit)
	}
	if got := []string{c.YTicks[0].Label, c.YTicks[1].Label, c.YTicks[2].Label}; strings.Join(got, ",") != "0,25,50" {
		t.Errorf("y ticks = %v", got)
	}
	if len(c.XTicks) != 5 || c.XTicks[0].Label != "−24 h" || c.XTicks[4].Label != "now" || c.XTicks[4].X != c.Right {
		t.Errorf("x ticks = %+v", c.XTicks)
	}
	if !strings.Contains(c.Label, "180 requests in all, at most 27 in one hour") {
		t.Errorf("label = %q", c.Label)
	}
	// Nothing spent and no limit known: an empty chart that still draws.
	e := newChart(make([]int, 24), now, 0)
	if len(e.Bars) != 24 || e.Limit != nil || e.Bars[0].H != 0 {
		t.Errorf("empty chart = %+v", e)
	}
	// A single request in a large bucket still shows.
	if s := newChart([]int{1, 0}, now, 600); s.Bars[0].H != 1 {
		t.Errorf("one request in 600: height %d", s.Bars[0].H)
	}
}

func TestNiceCeilAndMeter(t *testing.T) {
	for v, want := range map[int]int{1: 1, 2: 2, 3: 5, 7: 10, 27: 50, 30: 50, 51: 100, 240: 500, 600: 1000} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", v, got, want)
		}
	}
	m := newMeter(14, 3, 30)
	if m.Used != 466 || m.Reserve != 100 || m.ReserveX != 900 || m.Percent != 46 {
		t.Errorf("meter = %+v", m)
	}
	if m := newMeter(40, 3, 30); m.Used != 1000 || m.Percent != 100 {
		t.Errorf("over-used meter = %+v", m)
	}
	if m := newMeter(5, 1, 0); m != (meterView{}) {
		t.Errorf("meter of an unknown size = %+v", m)
	}
}

func TestAuditQuery(t *testing.T) {
	parse := func(s string) (audit.Query, error) {
		v, err := url.ParseQuery(s)
		if err != nil {
			t.Fatal(err)
		}
		return auditParamsOf(v).query(now)
	}
	cases := []struct {
		q        string
		from, to time.Time
		by       audit.Granularity
		workflow string
	}{
		{"", now.Add(-24 * time.Hour), now, audit.Hour, ""},
		{"since=1h", now.Add(-time.Hour), now, audit.Hour, ""},
		{"since=90m&workflow=a", now.Add(-90 * time.Minute), now, audit.Hour, "a"},
		{"since=7d", now.Add(-7 * 24 * time.Hour), now, audit.Day, ""},
		{"since=30d&by=hour", now.Add(-30 * 24 * time.Hour), now, audit.Hour, ""},
		{"since=48h", now.Add(-48 * time.Hour), now, audit.Hour, ""},
		{"from=2025-03-10T09:00", time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC), now, audit.Hour, ""},
		{"from=2025-03-10T09:00:00%2B01:00&to=2025-03-10T12:30:00Z", time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC),
			time.Date(2025, 3, 10, 12, 30, 0, 0, time.UTC), audit.Hour, ""},
		{"from=2025-03-01&to=2025-03-08&by=day", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2025, 3, 8, 0, 0, 0, 0, time.UTC), audit.Day, ""},
	}
	for _, tc := range cases {
		q, err := parse(tc.q)
		if err != nil {
			t.Errorf("%q: %v", tc.q, err)
			continue
		}
		if !q.From.Equal(tc.from) || !q.To.Equal(tc.to) || q.By != tc.by || q.Workflow != tc.workflow {
			t.Errorf("%q = %+v", tc.q, q)
		}
	}
	for _, bad := range []string{"since=abc", "since=h", "since=1w", "since=+1h", "since=1.5h", "since=9999999d",
		"since=91d", "by=week", "to=2025-03-10T09:00", "since=1h&from=2025-03-10T09:00", "from=2025-13-01",
		"from=2025-03-10T10:00&to=2025-03-10T10:00", "workflow=" + strings.Repeat("a", 201), "workflow=a%00b"} {
		_, err := parse(bad)
		var ie *inputError
		if !errors.As(err, &ie) || ie.msg == "" {
			t.Errorf("%q: err = %v, want an input error", bad, err)
		}
	}
}

func TestDownloadName(t *testing.T) {
	q := audit.Query{From: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC), To: now}
	if got := downloadName(q, "csv"); got != "sluice-audit-20250301T0900Z-20250310T1400Z.csv" {
		t.Errorf("downloadName = %q", got)
	}
}
