package ui

import (
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/engine/audit"
	"github.com/sluicehq/sluice/engine/serve"
	"github.com/sluicehq/sluice/engine/store"
)

// pageNames are the templates a handler renders; New checks that each is defined.
var pageNames = []string{"workflows.html", "workflow.html", "quota.html", "audit.html", "error.html"}

// parseTemplates parses every template once, with the functions they use.
func parseTemplates(fsys fs.FS) (*template.Template, error) {
	t, err := template.New("").Funcs(funcs).ParseFS(fsys, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("ui: parse templates: %w", err)
	}
	for _, name := range pageNames {
		if t.Lookup(name) == nil {
			return nil, fmt.Errorf("ui: parse templates: page %q is not defined", name)
		}
	}
	return t, nil
}

// funcs are the template functions. They format; they never fetch.
var funcs = template.FuncMap{
	"rel":        relative,
	"next":       next,
	"span":       span,
	"stamp":      stamp,
	"iso":        iso,
	"human":      human,
	"badge":      badge,
	"counts":     counts,
	"pathEsc":    url.PathEscape,
	"detailPath": detailPath,
	"actions":    newActions,
	"at":         func(now time.Time, v any) atNow { return atNow{Now: now, V: v} },
	"runTime":    runTime,
	"statusText": statusText,
	"period":     period,
	"plural":     plural,
}

// atNow passes a value to a partial template together with the page's time.
type atNow struct {
	Now time.Time
	V   any
}

// actions is what the toggle and run-now forms need.
type actions struct {
	serve.WorkflowState
	CSRF     string
	ReturnTo string
}

func newActions(st serve.WorkflowState, csrf, returnTo string) actions {
	return actions{WorkflowState: st, CSRF: csrf, ReturnTo: returnTo}
}

// detailPath is the path of a workflow's page.
func detailPath(name string) string { return "/workflows/" + url.PathEscape(name) }

// relative says when t is from now: "in 4 min", "3 h 5 min ago", "just now"; "" when t is
// zero.
func relative(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now)
	switch {
	case d >= time.Minute:
		return "in " + span(d)
	case d >= 0:
		return "in less than a minute"
	case d > -time.Minute:
		return "just now"
	}
	return span(-d) + " ago"
}

// next says when a scheduled run is due: "in 4 min", or "due now" once its time passed.
func next(now, t time.Time) string {
	if !t.After(now) {
		return "due now"
	}
	return relative(now, t)
}

// span writes a positive duration to the minute: "41 min", "2 h 5 min", "3 d 4 h".
func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	}
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return fmt.Sprintf("%d d", days)
	}
	return fmt.Sprintf("%d d %d h", days, h)
}

// stamp writes t to the minute, in its own time zone.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02 15:04 MST")
}

// iso writes t in RFC 3339, for <time datetime>.
func iso(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// human writes a run's length: "450 ms", "2.5 s", "3 min 4 s", "1 h 2 min".
func human(d time.Duration) string {
	switch {
	case d <= 0:
		return "0 s"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	return fmt.Sprintf("%d h %d min", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// runTime is how long a run took, or has been running.
func runTime(now time.Time, r store.Run) string {
	if r.FinishedAt.IsZero() {
		if r.StartedAt.IsZero() {
			return ""
		}
		return "running for " + human(now.Sub(r.StartedAt))
	}
	return human(r.FinishedAt.Sub(r.StartedAt))
}

// badge is the CSS class of a run status's badge; unknown statuses look neutral.
func badge(s store.RunStatus) string {
	switch s {
	case store.RunOK, store.RunPartial, store.RunFailed, store.RunDeferred, store.RunCancelled, store.RunRunning:
		return "badge-" + string(s)
	}
	return "badge-unknown"
}

// counts sums up what a run did: "12 read · 3 created · 1 failed".
func counts(c store.Counts) string {
	parts := []string{fmt.Sprintf("%d read", c.Read)}
	for _, p := range []struct {
		n    int
		what string
	}{{c.Created, "created"}, {c.Updated, "updated"}, {c.Deleted, "deleted"}, {c.Skipped, "skipped"}, {c.Failed, "failed"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	parts = append(parts, plural(c.Calls, "API call"))
	return strings.Join(parts, " · ")
}

// statusText writes an audited HTTP status; 0 means no answer came.
func statusText(s int) string {
	if s == 0 {
		return "no answer"
	}
	return strconv.Itoa(s)
}

// period writes an audit period's start (UTC) at its granularity.
func period(t time.Time, by audit.Granularity) string {
	if by == audit.Day {
		return t.UTC().Format("2006-01-02")
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// plural writes "1 call", "2 calls", "3 entries".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if len(word) > 1 && word[len(word)-1] == 'y' && !strings.ContainsRune("aeiou", rune(word[len(word)-2])) {
		word = word[:len(word)-1] + "ie"
	}
	return strconv.Itoa(n) + " " + word + "s"
}
