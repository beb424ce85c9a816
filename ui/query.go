package ui

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/sluicehq/sluice/engine/audit"
)

// inputError is a request parameter we refuse; its message is shown as is (400).
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// parseRuns reads ?runs=: how many runs a workflow's page lists.
func parseRuns(s string) (int, error) {
	if s == "" {
		return defaultRuns, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxRuns {
		return 0, badInput("runs %q: give a whole number from 1 to %d", clip(s), maxRuns)
	}
	return n, nil
}

// auditParams are an audit query's parameters as sent, to fill the form back.
type auditParams struct {
	Since, From, To, Workflow, By string
}

func auditParamsOf(v url.Values) auditParams {
	return auditParams{Since: v.Get("since"), From: v.Get("from"), To: v.Get("to"),
		Workflow: v.Get("workflow"), By: v.Get("by")}
}

// defaultSince is the window when a query gives none.
const defaultSince = "24h"

// query turns the parameters into an audit query, at now. The window is since (1h, 24h,
// 7d, 90m…) before now, or from (RFC 3339, or a datetime-local value read as UTC) to to
// (now when left out); since and from/to exclude each other; 24 hours when neither is
// given. by is hour or day, by default hour up to two days and day beyond.
func (p auditParams) query(now time.Time) (audit.Query, error) {
	q := audit.Query{Workflow: p.Workflow}
	var problems []string
	add := func(err error) {
		var ie *inputError
		if errors.As(err, &ie) {
			problems = append(problems, ie.msg)
		}
	}
	now = now.UTC()
	switch {
	case p.Since != "" && (p.From != "" || p.To != ""):
		problems = append(problems, "give either since, or from and to, not both")
	case p.From == "" && p.To != "":
		problems = append(problems, "to needs a from")
	case p.From != "":
		from, err := parseTime("from", p.From)
		add(err)
		to := now
		if p.To != "" {
			to, err = parseTime("to", p.To)
			add(err)
		}
		q.From, q.To = from, to
	default:
		since := p.Since
		if since == "" {
			since = defaultSince
		}
		d, err := parseSince(since)
		add(err)
		q.From, q.To = now.Add(-d), now
	}
	if len(p.Workflow) > 200 || strings.IndexFunc(p.Workflow, unicode.IsControl) >= 0 {
		problems = append(problems, "workflow: not a workflow name")
	}
	switch p.By {
	case "":
		q.By = audit.Hour
		if q.To.Sub(q.From) > 48*time.Hour {
			q.By = audit.Day
		}
	case string(audit.Hour), string(audit.Day):
		q.By = audit.Granularity(p.By)
	default:
		problems = append(problems, fmt.Sprintf("by %q: use hour or day", clip(p.By)))
	}
	if len(problems) == 0 {
		var qe *audit.QueryError
		if err := q.Validate(); errors.As(err, &qe) {
			problems = append(problems, qe.Problems...)
		}
	}
	if len(problems) > 0 {
		return audit.Query{}, &inputError{msg: strings.Join(problems, "; ")}
	}
	return q, nil
}

// parseSince reads a window's length: a whole number of minutes (m), hours (h) or days (d).
func parseSince(s string) (time.Duration, error) {
	bad := badInput("since %q: give a number and a unit, such as 1h, 24h, 7d or 30d", clip(s))
	if len(s) < 2 {
		return 0, bad
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'm':
		unit = time.Minute
	case 'h':
		unit = time.Hour
	case 'd':
		unit = 24 * time.Hour
	default:
		return 0, bad
	}
	digits := s[:len(s)-1]
	if strings.Trim(digits, "0123456789") != "" || len(digits) > 6 {
		return 0, bad
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 {
		return 0, bad
	}
	d := time.Duration(n) * unit
	if d > audit.MaxSpan {
		return 0, badInput("since %q: the most a report covers is %dd", clip(s), audit.MaxSpan/(24*time.Hour))
	}
	return d, nil
}

// timeLayouts are what from and to accept: RFC 3339, or the value of an
// <input type="datetime-local"> or <input type="date">, read as UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

func parseTime(name, s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, badInput("%s %q: give a time such as 2025-03-01T09:00:00Z (RFC 3339) or 2025-03-01T09:00 (UTC)", name, clip(s))
}

// values writes q back as parameters with an exact window, for the download links.
func queryValues(q audit.Query) url.Values {
	v := url.Values{}
	v.Set("from", q.From.UTC().Format(time.RFC3339Nano))
	v.Set("to", q.To.UTC().Format(time.RFC3339Nano))
	if q.Workflow != "" {
		v.Set("workflow", q.Workflow)
	}
	v.Set("by", string(q.By))
	return v
}

// downloadName is a report file's name: sluice-audit-20250301T0900Z-20250302T0900Z.csv.
func downloadName(q audit.Query, ext string) string {
	const layout = "20060102T1504Z"
	return fmt.Sprintf("sluice-audit-%s-%s.%s", q.From.UTC().Format(layout), q.To.UTC().Format(layout), ext)
}
