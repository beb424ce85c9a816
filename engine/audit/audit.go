package audit

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine/store"
)

// Source is where calls are read; the store implements it. Calls returns the calls made in
// [from, to), oldest first, only those of workflow when it is not "". It may be called
// concurrently and must stop when ctx ends.
type Source interface {
	Calls(ctx context.Context, from, to time.Time, workflow string) ([]store.Call, error)
}

// Granularity is the length of a report's periods.
type Granularity string

// Granularities: UTC clock hours and UTC days.
const (
	Hour Granularity = "hour"
	Day  Granularity = "day"
)

// MaxSpan is the longest window a report may cover.
const MaxSpan = 90 * 24 * time.Hour

// Query says which calls a report covers and how it groups them.
type Query struct {
	// From and To bound the window [From, To): a call made exactly at To is left out.
	From, To time.Time
	// Workflow keeps only that workflow's calls when set.
	Workflow string
	// By is the period length. The first and last periods may be cut by the window.
	By Granularity
}

// Validate reports every problem with q as a *QueryError, or nil.
func (q Query) Validate() error {
	var problems []string
	switch {
	case q.From.IsZero() || q.To.IsZero():
		problems = append(problems, "the window needs both a start and an end")
	case !q.To.After(q.From):
		problems = append(problems, fmt.Sprintf("the window must end after it starts (from %s to %s)",
			q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339)))
	case q.To.Sub(q.From) > MaxSpan:
		problems = append(problems, fmt.Sprintf("the window spans %s; the most a report covers is %s",
			formatSpan(q.To.Sub(q.From)), formatSpan(MaxSpan)))
	}
	if q.By != Hour && q.By != Day {
		problems = append(problems, fmt.Sprintf("grouping %q: use %s or %s", q.By, Hour, Day))
	}
	if len(problems) > 0 {
		return &QueryError{Problems: problems}
	}
	return nil
}

// formatSpan writes d with whole days first: 90d, 91d3h, 2h30m.
func formatSpan(d time.Duration) string {
	days, rest := d/(24*time.Hour), d%(24*time.Hour)
	var s string
	if days > 0 {
		s = fmt.Sprintf("%dd", days)
	}
	if rest > 0 || days == 0 {
		r := rest.String()
		if strings.HasSuffix(r, "m0s") {
			r = r[:len(r)-2]
		}
		if strings.HasSuffix(r, "h0m") {
			r = r[:len(r)-2]
		}
		s += r
	}
	return s
}

// period returns the start of the UTC period holding t.
func (g Granularity) period(t time.Time) time.Time {
	t = t.UTC()
	if g == Day {
		y, m, d := t.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	return t.Truncate(time.Hour)
}

// Row is the calls of one period that share workflow, connection, method, route and status.
type Row struct {
	// Period is the start of the UTC hour or day.
	Period     time.Time
	Workflow   string
	Connection string
	Method     string
	// Route is the path template, as audited.
	Route string
	// Status is the HTTP status; 0 when no answer came.
	Status int
	// Calls counts the requests really sent; CacheHits the reads answered from the cache.
	Calls, CacheHits int
	// Retries counts the requests that repeated an earlier attempt.
	Retries int
	// Errors counts the calls that failed: an error recorded, no answer or a status ≥ 400.
	Errors int
	// Duration is the total time of the requests sent.
	Duration time.Duration
}

// Totals sums a report.
type Totals struct {
	Calls, CacheHits, Retries, Errors int
	// NoAnswer counts the requests sent that got no answer (Status 0).
	NoAnswer int
	// Duration is the total time of the requests sent.
	Duration time.Duration
	// ByStatus counts the requests sent by status (0: no answer); cache hits are left out.
	ByStatus map[int]int
	// ByWorkflow and ByConnection count the requests sent. Every workflow and connection
	// seen is a key, even one whose reads were all cache hits.
	ByWorkflow   map[string]int
	ByConnection map[string]int
}

// Report is the calls of a window, grouped.
type Report struct {
	// Query is the query, with From and To in UTC.
	Query Query
	// Rows are sorted by period, workflow, connection, route, method and status.
	Rows   []Row
	Totals Totals
}

// failed reports whether a call counts as an error.
func failed(c store.Call) bool {
	return c.Error != "" || c.Status >= 400 || (!c.CacheHit && c.Status == 0)
}

func (r *Row) add(c store.Call) {
	if c.CacheHit {
		r.CacheHits++
	} else {
		r.Calls++
		r.Duration += c.Duration
	}
	if c.Retry > 0 {
		r.Retries++
	}
	if failed(c) {
		r.Errors++
	}
}

func (t *Totals) add(c store.Call) {
	if _, ok := t.ByWorkflow[c.Workflow]; !ok {
		t.ByWorkflow[c.Workflow] = 0
	}
	if _, ok := t.ByConnection[c.Connection]; !ok {
		t.ByConnection[c.Connection] = 0
	}
	if c.CacheHit {
		t.CacheHits++
	} else {
		t.Calls++
		t.Duration += c.Duration
		t.ByStatus[c.Status]++
		t.ByWorkflow[c.Workflow]++
		t.ByConnection[c.Connection]++
		if c.Status == 0 {
			t.NoAnswer++
		}
	}
	if c.Retry > 0 {
		t.Retries++
	}
	if failed(c) {
		t.Errors++
	}
}

type rowKey struct {
	period                              int64
	workflow, connection, method, route string
	status                              int
}

// Build reads the calls q covers from src and groups them. It returns a *QueryError, and
// reads nothing, when q is not valid.
func Build(ctx context.Context, src Source, q Query) (Report, error) {
	if err := q.Validate(); err != nil {
		return Report{}, err
	}
	q.From, q.To = q.From.UTC(), q.To.UTC()
	calls, err := src.Calls(ctx, q.From, q.To, q.Workflow)
	if err != nil {
		return Report{}, fmt.Errorf("audit: read calls: %w", err)
	}
	r := Report{Query: q, Rows: []Row{}, Totals: Totals{
		ByStatus: map[int]int{}, ByWorkflow: map[string]int{}, ByConnection: map[string]int{},
	}}
	index := map[rowKey]int{}
	for _, c := range calls {
		// The source promises the window; hold it to sub-millisecond bounds and the filter.
		if c.At.Before(q.From) || !c.At.Before(q.To) || (q.Workflow != "" && c.Workflow != q.Workflow) {
			continue
		}
		p := q.By.period(c.At)
		k := rowKey{p.UnixNano(), c.Workflow, c.Connection, c.Method, c.Route, c.Status}
		i, ok := index[k]
		if !ok {
			i = len(r.Rows)
			index[k] = i
			r.Rows = append(r.Rows, Row{Period: p, Workflow: c.Workflow, Connection: c.Connection,
				Method: c.Method, Route: c.Route, Status: c.Status})
		}
		r.Rows[i].add(c)
		r.Totals.add(c)
	}
	slices.SortFunc(r.Rows, func(a, b Row) int {
		return cmp.Or(
			a.Period.Compare(b.Period),
			cmp.Compare(a.Workflow, b.Workflow),
			cmp.Compare(a.Connection, b.Connection),
			cmp.Compare(a.Route, b.Route),
			cmp.Compare(a.Method, b.Method),
			cmp.Compare(a.Status, b.Status),
		)
	})
	return r, nil
}
