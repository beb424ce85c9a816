package workflow

import (
	"slices"
	"testing"
	"time"
)

func TestJiraKeys(t *testing.T) {
	cases := []struct {
		text  string
		first string
		all   []string
		rest  string
	}{
		{"WEB-12 fix login redirect", "WEB-12", []string{"WEB-12"}, "fix login redirect"},
		{"WEB-12: fix login", "WEB-12", []string{"WEB-12"}, "fix login"},
		{"fix login (WEB-12, APP-3)", "WEB-12", []string{"WEB-12", "APP-3"}, "fix login"},
		{"review APP_2-7 and WEB-12 again WEB-12", "APP_2-7", []string{"APP_2-7", "WEB-12"}, "review and again"},
		{"no key here", "", nil, "no key here"},
		{"lowercase web-12 is not a key", "", nil, "lowercase web-12 is not a key"},
		{"XWEB-12x is inside a word", "", nil, "XWEB-12x is inside a word"},
		{"WEB-0 has no issue zero", "", nil, "WEB-0 has no issue zero"},
		{"A-1 needs two letters", "", nil, "A-1 needs two letters"},
		{"[WEB-1] [APP-2] standup", "WEB-1", []string{"WEB-1", "APP-2"}, "standup"},
		{"", "", nil, ""},
	}
	for _, c := range cases {
		if got := jiraKey(c.text); got != c.first {
			t.Errorf("jiraKey(%q) = %q, want %q", c.text, got, c.first)
		}
		if got := jiraKeys(c.text); !slices.Equal(got, c.all) {
			t.Errorf("jiraKeys(%q) = %q, want %q", c.text, got, c.all)
		}
		if got := withoutJiraKeys(c.text); got != c.rest {
			t.Errorf("withoutJiraKeys(%q) = %q, want %q", c.text, got, c.rest)
		}
	}
}

func TestRoundSeconds(t *testing.T) {
	cases := []struct {
		seconds    int
		step, mode string
		want       int
	}{
		{1, "15m", "up", 900},
		{900, "15m", "up", 900},
		{901, "15m", "up", 1800},
		{899, "15m", "down", 0},
		{1799, "15m", "down", 900},
		{449, "15m", "nearest", 0},
		{450, "15m", "nearest", 900},
		{1349, "15m", "nearest", 900},
		{5400, "1h", "nearest", 7200},
		{0, "15m", "up", 0},
		{-1, "15m", "up", -1},
		{61, "6m", "up", 360},
		{100, "1d", "up", 86400},
	}
	for _, c := range cases {
		got, err := roundSeconds(c.seconds, c.step, c.mode)
		if err != nil || got != c.want {
			t.Errorf("round %s %d to %s = %d, %v; want %d", c.mode, c.seconds, c.step, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "15", "0s", "500ms", "15 minutes", "-15m"} {
		if _, err := roundSeconds(60, bad, "up"); err == nil {
			t.Errorf("step %q: want an error", bad)
		}
	}
}

func TestParseDuration(t *testing.T) {
	cases := map[string]time.Duration{
		"15m": 15 * time.Minute, "1h30m": 90 * time.Minute, "30d": 30 * 24 * time.Hour,
		"1d12h": 36 * time.Hour, " 90s ": 90 * time.Second,
	}
	for in, want := range cases {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "15", "1w", "-5m", "1d-5m", "fortnight"} {
		if got, err := parseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", bad, got)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	cases := map[time.Duration]string{
		15 * time.Minute: "15m", 90 * time.Minute: "1h30m", 48 * time.Hour: "2d",
		25*time.Hour + time.Second: "1d1h1s", 0: "0s", 1500 * time.Millisecond: "1s500ms",
	}
	for in, want := range cases {
		if got := FormatDuration(in); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestExpandEnv(t *testing.T) {
	env := func(name string) (string, bool) {
		switch name {
		case "TOKEN":
			return "s3cr3t", true
		case "EMPTY":
			return "", true
		}
		return "", false
	}
	good := map[string]string{
		"plain":                "plain",
		"${TOKEN}":             "s3cr3t",
		"Bearer ${TOKEN}!":     "Bearer s3cr3t!",
		"${MISSING:-fallback}": "fallback",
		"${EMPTY:-fallback}":   "fallback",
		"cost $5 and $$HOME":   "cost $5 and $HOME",
		"${TOKEN}${TOKEN}":     "s3cr3ts3cr3t",
		"trailing $":           "trailing $",
		"${MISSING:-}":         "",
	}
	for in, want := range good {
		if got, err := expandEnv(in, env); err != nil || got != want {
			t.Errorf("expandEnv(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"${MISSING}", "${EMPTY}", "${TOKEN", "${}", "${1X}", "${A-B}"} {
		if got, err := expandEnv(bad, env); err == nil {
			t.Errorf("expandEnv(%q) = %q, want an error", bad, got)
		}
	}
}
