package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/sluicehq/sluice/engine/audit"
)

// cmdAudit prints the API calls recorded in a window, grouped by hour or day, as a table,
// CSV or JSON. It reads only the store: it calls no API.
func cmdAudit(ctx context.Context, c cmdIO, args []string) error {
	fs := c.flags("audit")
	config := fs.String("config", "sluice.yaml", "the configuration file")
	since := fs.String("since", "24h", "the window's start: a duration before --until (90m, 24h, 7d) or an RFC 3339 time")
	until := fs.String("until", "now", "the window's end, not included: an RFC 3339 time or now")
	only := fs.String("workflow", "", "only this workflow's calls")
	by := fs.String("by", "hour", "group the calls by UTC hour or day")
	format := fs.String("format", "table", "print a table, csv or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	write, err := reportWriter(*format)
	if err != nil {
		return err
	}
	clock := c.app.clock
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	q, err := auditQuery(clock.Now(), *since, *until, *only, *by)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, c, *config)
	if err != nil {
		return reportLoad(c, err)
	}
	defer a.Close()
	r, err := audit.Build(ctx, a.store, q)
	if err != nil {
		return err
	}
	if q.Workflow != "" && len(r.Rows) == 0 && a.project.Workflow(q.Workflow) == nil {
		return usageError{fmt.Sprintf("no workflow named %q (have %s)", q.Workflow, workflowNames(a.project))}
	}
	return write(r, c.stdout)
}

// reportWriter returns the audit.Report method that prints format.
func reportWriter(format string) (func(audit.Report, io.Writer) error, error) {
	switch format {
	case "table":
		return audit.Report.WriteTable, nil
	case "csv":
		return audit.Report.WriteCSV, nil
	case "json":
		return audit.Report.WriteJSON, nil
	}
	return nil, usageError{fmt.Sprintf("--format %q: use table, csv or json", format)}
}

// auditQuery reads the window and grouping flags against now.
func auditQuery(now time.Time, since, until, workflow, by string) (audit.Query, error) {
	q := audit.Query{Workflow: workflow, By: audit.Granularity(by), To: now}
	if until != "now" {
		t, err := time.Parse(time.RFC3339, until)
		if err != nil {
			return q, usageError{fmt.Sprintf("--until %q: use an RFC 3339 time such as 2026-01-31T09:00:00Z, or now", until)}
		}
		q.To = t
	}
	if t, err := time.Parse(time.RFC3339, since); err == nil {
		q.From = t
	} else if d, err := parseAge(since); err == nil {
		q.From = q.To.Add(-d)
	} else {
		return q, usageError{fmt.Sprintf("--since %q: use a duration such as 90m, 24h or 7d, or an RFC 3339 time such as 2026-01-31T09:00:00Z", since)}
	}
	var qe *audit.QueryError
	if err := q.Validate(); errors.As(err, &qe) {
		return q, usageError{strings.Join(qe.Problems, "; ")}
	} else if err != nil {
		return q, err
	}
	return q, nil
}

// parseAge reads a positive duration in Go's form, optionally after whole days: 90m, 24h,
// 7d, 1d12h.
func parseAge(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("%q: not a number of days", s)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			s = "0s"
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 || days+d <= 0 {
		return 0, fmt.Errorf("%q: not a positive duration", s)
	}
	return days + d, nil
}
