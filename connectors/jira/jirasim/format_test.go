package jirasim

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in     string
		want   int64
		wantOK bool
	}{
		{"1h 30m", 5400, true},
		{"1h30m", 5400, true},
		{"  2h  ", 7200, true},
		{"2d", 57600, true},
		{"1w", 144000, true},
		{"1w 2d 3h 4m", 144000 + 57600 + 10800 + 240, true},
		{"4m 3h", 10800 + 240, true},
		{"90", 5400, true},
		{"1.5h", 5400, true},
		{"0.5m", 30, true},
		{"2H", 7200, true},
		{"0m", 0, true},
		{"", 0, false},
		{"h", 0, false},
		{"1x", 0, false},
		{"1s", 0, false},
		{"1h 2h", 0, false},
		{"-1h", 0, false},
		{"1.h", 0, false},
		{".5h", 0, false},
		{"1e3", 0, false},
		{"1h 30", 0, false},
		{"99999999999999999999w", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseDuration(tc.in)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("parseDuration(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0m"},
		{30, "0m"},
		{60, "1m"},
		{90, "1m"},
		{5400, "1h 30m"},
		{12000, "3h 20m"},
		{28800, "1d"},
		{57600 + 3600, "2d 1h"},
		{144000, "1w"},
		{144000 + 28800 + 60, "1w 1d 1m"},
		{-5, "0m"},
	}
	for _, tc := range tests {
		if got := formatDuration(tc.in); got != tc.want {
			t.Errorf("formatDuration(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseStarted(t *testing.T) {
	tests := []struct {
		in     string
		want   time.Time
		wantOK bool
	}{
		{"2021-01-17T12:34:00.000+0000", time.Date(2021, 1, 17, 12, 34, 0, 0, time.UTC), true},
		{"2021-01-17T12:34:00.123-0700", time.Date(2021, 1, 17, 19, 34, 0, 123e6, time.UTC), true},
		{"2021-01-17T12:34:00.000Z", time.Time{}, false},
		{"2021-01-17T12:34:00.000+00:00", time.Time{}, false},
		{"2021-01-17T12:34:00+0000", time.Time{}, false},
		{"2021-01-17T12:34:00.0000+0000", time.Time{}, false},
		{"2021-01-17 12:34:00.000+0000", time.Time{}, false},
		{"2021-02-30T12:34:00.000+0000", time.Time{}, false},
		{"2021-01-17T25:34:00.000+0000", time.Time{}, false},
		{" 2021-01-17T12:34:00.000+0000", time.Time{}, false},
	}
	for _, tc := range tests {
		got, ok := parseStarted(tc.in)
		if ok != tc.wantOK || !got.Equal(tc.want) {
			t.Errorf("parseStarted(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
		if ok && formatTime(got) != tc.in {
			t.Errorf("formatTime(parseStarted(%q)) = %q, want it unchanged", tc.in, formatTime(got))
		}
	}
}

func TestIsADFDoc(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"minimal", `{"type":"doc","version":1,"content":[]}`, true},
		{"paragraph", `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"hi"}]}]}`, true},
		{"node with attrs and marks", `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"hi","marks":[{"type":"strong"}]}]},{"type":"rule"}]}`, true},
		{"plain string", `"hello"`, false},
		{"null", `null`, false},
		{"array", `[]`, false},
		{"wrong type", `{"type":"paragraph","version":1,"content":[]}`, false},
		{"version string", `{"type":"doc","version":"1","content":[]}`, false},
		{"no version", `{"type":"doc","content":[]}`, false},
		{"content object", `{"type":"doc","version":1,"content":{}}`, false},
		{"node a string", `{"type":"doc","version":1,"content":["hi"]}`, false},
		{"text without text", `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text"}]}]}`, false},
		{"nested content not array", `{"type":"doc","version":1,"content":[{"type":"paragraph","content":"hi"}]}`, false},
	}
	for _, tc := range tests {
		if got := isADFDoc(json.RawMessage(tc.in)); got != tc.want {
			t.Errorf("%s: isADFDoc = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCommentText(t *testing.T) {
	w := Worklog{Comment: json.RawMessage(`{"type":"doc","version":1,"content":[
		{"type":"paragraph","content":[{"type":"text","text":"Toggl #1: "},{"type":"text","text":"docs"}]},
		{"type":"paragraph","content":[{"type":"text","text":"second"}]}]}`)}
	if got := w.CommentText(); got != "Toggl #1: docs\nsecond" {
		t.Errorf("CommentText() = %q", got)
	}
	if got := (Worklog{}).CommentText(); got != "" {
		t.Errorf("CommentText() of no comment = %q", got)
	}
}
