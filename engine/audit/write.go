package audit

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// CSVHeader is the first line WriteCSV writes.
var CSVHeader = []string{"period", "workflow", "connection", "method", "route", "status",
	"calls", "cache_hits", "retries", "errors", "duration_seconds"}

// seconds is d in seconds, to the microsecond the store keeps; durations are seconds
// throughout sluice's API.
func seconds(d time.Duration) float64 { return float64(d.Microseconds()) / 1e6 }

// WriteCSV writes a header line, then one line per row: the period in RFC 3339 (UTC) and
// the durations in seconds. Totals are left out; they are the columns' sums.
func (r Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("audit: write csv: %w", err)
	}
	for _, row := range r.Rows {
		rec := []string{
			row.Period.UTC().Format(time.RFC3339), row.Workflow, row.Connection, row.Method, row.Route,
			strconv.Itoa(row.Status), strconv.Itoa(row.Calls), strconv.Itoa(row.CacheHits),
			strconv.Itoa(row.Retries), strconv.Itoa(row.Errors), strconv.FormatFloat(seconds(row.Duration), 'f', 6, 64),
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("audit: write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("audit: write csv: %w", err)
	}
	return nil
}

// The JSON form of a report, the one of /api/v1/audit too: keys are snake_case, durations
// seconds, statuses keys of by_status as text (JSON object keys are strings).
type (
	jsonReport struct {
		Query  jsonQuery  `json:"query"`
		Rows   []jsonRow  `json:"rows"`
		Totals jsonTotals `json:"totals"`
	}
	jsonQuery struct {
		From     time.Time `json:"from"`
		To       time.Time `json:"to"`
		Workflow string    `json:"workflow"`
		By       string    `json:"by"`
	}
	jsonRow struct {
		Period     time.Time `json:"period"`
		Workflow   string    `json:"workflow"`
		Connection string    `json:"connection"`
		Method     string    `json:"method"`
		Route      string    `json:"route"`
		Status     int       `json:"status"`
		Calls      int       `json:"calls"`
		CacheHits  int       `json:"cache_hits"`
		Retries    int       `json:"retries"`
		Errors     int       `json:"errors"`
		Duration   float64   `json:"duration_seconds"`
	}
	jsonTotals struct {
		Calls        int            `json:"calls"`
		CacheHits    int            `json:"cache_hits"`
		Retries      int            `json:"retries"`
		Errors       int            `json:"errors"`
		NoAnswer     int            `json:"no_answer"`
		Duration     float64        `json:"duration_seconds"`
		ByStatus     map[int]int    `json:"by_status"`
		ByWorkflow   map[string]int `json:"by_workflow"`
		ByConnection map[string]int `json:"by_connection"`
	}
)

// WriteJSON writes {"query":{...},"rows":[...],"totals":{...}}, indented, with times in
// RFC 3339 (UTC) and durations in seconds.
func (r Report) WriteJSON(w io.Writer) error {
	t := r.Totals
	out := jsonReport{
		Query: jsonQuery{From: r.Query.From.UTC(), To: r.Query.To.UTC(), Workflow: r.Query.Workflow, By: string(r.Query.By)},
		Rows:  make([]jsonRow, len(r.Rows)),
		Totals: jsonTotals{Calls: t.Calls, CacheHits: t.CacheHits, Retries: t.Retries, Errors: t.Errors,
			NoAnswer: t.NoAnswer, Duration: seconds(t.Duration),
			ByStatus: orEmpty(t.ByStatus), ByWorkflow: orEmpty(t.ByWorkflow), ByConnection: orEmpty(t.ByConnection)},
	}
	for i, row := range r.Rows {
		out.Rows[i] = jsonRow{Period: row.Period.UTC(), Workflow: row.Workflow, Connection: row.Connection,
			Method: row.Method, Route: row.Route, Status: row.Status, Calls: row.Calls, CacheHits: row.CacheHits,
			Retries: row.Retries, Errors: row.Errors, Duration: seconds(row.Duration)}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("audit: write json: %w", err)
	}
	return nil
}

// orEmpty makes a nil map encode as {} rather than null.
func orEmpty[K comparable](m map[K]int) map[K]int {
	if m == nil {
		return map[K]int{}
	}
	return m
}

// errWriter keeps the first write error, so that printing code can ignore them.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// WriteTable writes the report as aligned text for a terminal: a heading, one line per row,
// a totals line under the columns, and a summary sentence.
func (r Report) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	q := r.Query
	layout := "2006-01-02 15:04"
	if q.By == Day {
		layout = "2006-01-02"
	}
	heading := fmt.Sprintf("API calls from %s to %s (UTC), by %s", q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339), q.By)
	if q.Workflow != "" {
		heading += ", workflow " + q.Workflow
	}
	fmt.Fprintln(ew, heading)
	if len(r.Rows) == 0 {
		fmt.Fprintln(ew, "No API call was recorded in this window.")
		return wrapTable(ew.err)
	}
	tw := tabwriter.NewWriter(ew, 2, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "period\tworkflow\tconnection\tmethod\troute\tstatus\tcalls\tcache hits\tretries\terrors\ttime")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", row.Period.UTC().Format(layout), orDash(row.Workflow),
			row.Connection, row.Method, row.Route, statusText(row.Status), row.Calls, row.CacheHits, row.Retries, row.Errors,
			row.Duration.Round(time.Millisecond))
	}
	t := r.Totals
	fmt.Fprintf(tw, "total\t\t\t\t\t\t%d\t%d\t%d\t%d\t%s\n", t.Calls, t.CacheHits, t.Retries, t.Errors, t.Duration.Round(time.Millisecond))
	if err := tw.Flush(); err != nil {
		return wrapTable(err)
	}
	fmt.Fprintf(ew, "%s sent (%d without answer), %s answered from the cache at no quota cost, %s, %s.\n",
		plural(t.Calls, "call"), t.NoAnswer, plural(t.CacheHits, "read"), plural(t.Retries, "retry"), plural(t.Errors, "error"))
	if len(t.ByStatus) > 0 {
		var parts []string
		for _, s := range slices.Sorted(maps.Keys(t.ByStatus)) {
			parts = append(parts, fmt.Sprintf("%s ×%d", statusText(s), t.ByStatus[s]))
		}
		fmt.Fprintf(ew, "By status: %s.\n", strings.Join(parts, ", "))
	}
	return wrapTable(ew.err)
}

func wrapTable(err error) error {
	if err != nil {
		return fmt.Errorf("audit: write table: %w", err)
	}
	return nil
}

func statusText(s int) string {
	if s == 0 {
		return "no answer"
	}
	return strconv.Itoa(s)
}

func orDash(s string) string { return cmp.Or(s, "-") }

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, word[:len(word)-1])
	}
	return fmt.Sprintf("%d %ss", n, word)
}
