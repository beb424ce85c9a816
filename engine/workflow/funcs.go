package workflow

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"

	"github.com/sluicehq/sluice/connectors"
)

// Env is what workflow expressions see: `entry` is the source entry (see connectors.Entry for
// its fields) and `workflow` the workflow's name.
type Env struct {
	Entry    *connectors.Entry `expr:"entry"`
	Workflow string            `expr:"workflow"`
}

// findJiraKey returns the bounds of the first Jira issue key in s at or after from, or -1, -1.
// A key is a project key (a capital letter, then capitals, digits or underscores), a hyphen
// and an issue number without leading zeros, standing as a word of its own. It is written
// out by hand because it runs for every entry of most workflows.
func findJiraKey(s string, from int) (int, int) {
	for i := from; i < len(s); i++ {
		if !isUpper(s[i]) || (i > 0 && isWordByte(s[i-1])) {
			continue
		}
		j := i + 1
		for j < len(s) && (isUpper(s[j]) || isDigit(s[j]) || s[j] == '_') {
			j++
		}
		if j-i < 2 || j+1 >= len(s) || s[j] != '-' || s[j+1] < '1' || s[j+1] > '9' {
			continue
		}
		k := j + 2
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		if k < len(s) && isWordByte(s[k]) {
			continue
		}
		return i, k
	}
	return -1, -1
}

func isUpper(c byte) bool    { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isWordByte(c byte) bool { return isUpper(c) || isDigit(c) || c == '_' || (c >= 'a' && c <= 'z') }

// jiraKeys returns the issue keys in text, in order, without repeats.
func jiraKeys(text string) []string {
	var keys []string
	for from := 0; ; {
		i, j := findJiraKey(text, from)
		if i < 0 {
			return keys
		}
		if !slices.Contains(keys, text[i:j]) {
			keys = append(keys, text[i:j])
		}
		from = j
	}
}

// jiraKey returns the first issue key in text, or "".
func jiraKey(text string) string {
	i, j := findJiraKey(text, 0)
	if i < 0 {
		return ""
	}
	return text[i:j]
}

var (
	keySeparators = regexp.MustCompile(`^[\s:\-–—|,]+|[\s:\-–—|,]+$`)
	emptyBrackets = regexp.MustCompile(`[(\[][\s,;/]*[)\]]`)
)

// withoutJiraKeys removes the issue keys from text, and the separators left at its ends.
func withoutJiraKeys(text string) string {
	i, j := findJiraKey(text, 0)
	if i < 0 {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	from := 0
	for i >= 0 {
		b.WriteString(text[from:i])
		from = j
		i, j = findJiraKey(text, j)
	}
	b.WriteString(text[from:])
	out := emptyBrackets.ReplaceAllString(b.String(), "")
	out = strings.Join(strings.Fields(out), " ")
	return keySeparators.ReplaceAllString(out, "")
}

// steps caches parsed rounding steps: expressions pass the same few constants for every entry.
var steps sync.Map

func parseStep(s string) (time.Duration, error) {
	if d, ok := steps.Load(s); ok {
		return d.(time.Duration), nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < time.Second {
		return 0, fmt.Errorf("rounding step %q must be at least 1s", s)
	}
	steps.Store(s, d)
	return d, nil
}

// roundSeconds rounds seconds to a multiple of step, rounding half up for "nearest".
func roundSeconds(seconds int, step, mode string) (int, error) {
	d, err := parseStep(step)
	if err != nil {
		return 0, err
	}
	s := int(d / time.Second)
	if seconds <= 0 {
		return seconds, nil
	}
	switch mode {
	case "up":
		return (seconds + s - 1) / s * s, nil
	case "down":
		return seconds / s * s, nil
	default:
		return (seconds + s/2) / s * s, nil
	}
}

var zones sync.Map

func loadZone(name string) (*time.Location, error) {
	if z, ok := zones.Load(name); ok {
		return z.(*time.Location), nil
	}
	z, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	zones.Store(name, z)
	return z, nil
}

// constantArgs lists, for helpers taking a constant string, which argument it is and how to
// check it at load time, so that `roundUp(entry.duration, "15x")` fails validation.
var constantArgs = map[string]struct {
	index int
	check func(string) error
}{
	"roundUp":      {1, func(s string) error { _, err := parseStep(s); return err }},
	"roundDown":    {1, func(s string) error { _, err := parseStep(s); return err }},
	"roundNearest": {1, func(s string) error { _, err := parseStep(s); return err }},
	"inZone":       {1, func(s string) error { _, err := loadZone(s); return err }},
	"formatTime":   {2, func(s string) error { _, err := loadZone(s); return err }},
}

// Funcs lists the helper functions with a one-line description, for docs and `sluice validate`.
var Funcs = []struct{ Name, Doc string }{
	{"jiraKey(text)", `the first Jira issue key in text ("WEB-12 fix login" -> "WEB-12"), or ""`},
	{"jiraKeys(text)", "every Jira issue key in text, in order"},
	{"withoutJiraKeys(text)", `text without its issue keys ("WEB-12: fix login" -> "fix login")`},
	{"roundUp(seconds, step)", `seconds rounded up to a multiple of step ("15m", "6m", "1h")`},
	{"roundDown(seconds, step)", "seconds rounded down to a multiple of step"},
	{"roundNearest(seconds, step)", "seconds rounded to the nearest multiple of step, halves up"},
	{"inZone(time, zone)", `time in an IANA time zone ("Europe/Berlin")`},
	{"formatTime(time, layout[, zone])", `time formatted with a Go layout ("2006-01-02 15:04")`},
}

// funcOptions are the helpers as expr options, with typed signatures so calls are checked at
// load time.
var funcOptions = []expr.Option{
	expr.Function("jiraKey", func(p ...any) (any, error) { return jiraKey(p[0].(string)), nil },
		new(func(string) string)),
	expr.Function("jiraKeys", func(p ...any) (any, error) { return jiraKeys(p[0].(string)), nil },
		new(func(string) []string)),
	expr.Function("withoutJiraKeys", func(p ...any) (any, error) { return withoutJiraKeys(p[0].(string)), nil },
		new(func(string) string)),
	expr.Function("roundUp", func(p ...any) (any, error) { return roundSeconds(p[0].(int), p[1].(string), "up") },
		new(func(int, string) int)),
	expr.Function("roundDown", func(p ...any) (any, error) { return roundSeconds(p[0].(int), p[1].(string), "down") },
		new(func(int, string) int)),
	expr.Function("roundNearest", func(p ...any) (any, error) { return roundSeconds(p[0].(int), p[1].(string), "nearest") },
		new(func(int, string) int)),
	expr.Function("inZone", func(p ...any) (any, error) {
		z, err := loadZone(p[1].(string))
		if err != nil {
			return nil, err
		}
		return p[0].(time.Time).In(z), nil
	}, new(func(time.Time, string) time.Time)),
	expr.Function("formatTime", func(p ...any) (any, error) {
		t := p[0].(time.Time)
		if len(p) == 3 {
			z, err := loadZone(p[2].(string))
			if err != nil {
				return nil, err
			}
			t = t.In(z)
		}
		return t.Format(p[1].(string)), nil
	}, new(func(time.Time, string) string), new(func(time.Time, string, string) string)),
}
