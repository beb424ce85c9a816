package jirasim

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// jiraTime is the layout Jira uses for worklog date-times: milliseconds and an offset without a
// colon, as in 2021-01-17T12:34:00.000+0000.
const jiraTime = "2006-01-02T15:04:05.000-0700"

// startedPattern is the only shape of `started` the simulator accepts.
var startedPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}$`)

// startedMessage is the error Jira gives for a `started` value it cannot read
// (atlassian/atlascode#898).
const startedMessage = `Invalid date format. Please enter the date in the format "yyyy-MM-dd'T'HH:mm:ss.SSSZ"`

// parseStarted reads a `started` value in Jira's form, keeping the offset it was sent with.
func parseStarted(s string) (time.Time, bool) {
	if !startedPattern.MatchString(s) {
		return time.Time{}, false
	}
	t, err := time.Parse(jiraTime, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// formatTime renders t in Jira's worklog form.
func formatTime(t time.Time) string { return t.Format(jiraTime) }

// Jira's default time-tracking settings: an 8-hour day and a 5-day week.
const (
	secondsPerMinute = 60
	secondsPerHour   = 60 * secondsPerMinute
	secondsPerDay    = 8 * secondsPerHour
	secondsPerWeek   = 5 * secondsPerDay
)

// maxDurationSeconds bounds parsed durations well inside int64.
const maxDurationSeconds = 1e15

// parseDuration reads a Jira duration such as "1h 30m", "2d", "1w 2d 3h 4m" or "1.5h". A bare
// number is minutes ("90" is 1h 30m). Units are w (5 days), d (8 hours), h and m, each at most
// once, in any order, with or without spaces between parts. It returns whole seconds.
func parseDuration(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	if isDecimal(s) {
		return toSeconds(s, secondsPerMinute)
	}
	seen := map[byte]bool{}
	var total float64
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		j := i
		for j < len(s) && (isDigit(s[j]) || s[j] == '.') {
			j++
		}
		if j == len(s) || !isDecimal(s[i:j]) {
			return 0, false
		}
		unit := s[j] | 0x20 // lower case
		var mult float64
		switch unit {
		case 'w':
			mult = secondsPerWeek
		case 'd':
			mult = secondsPerDay
		case 'h':
			mult = secondsPerHour
		case 'm':
			mult = secondsPerMinute
		default:
			return 0, false
		}
		if seen[unit] {
			return 0, false
		}
		seen[unit] = true
		v, err := strconv.ParseFloat(s[i:j], 64)
		if err != nil {
			return 0, false
		}
		total += v * mult
		i = j + 1
	}
	if len(seen) == 0 || total > maxDurationSeconds {
		return 0, false
	}
	return int64(math.Round(total)), true
}

func toSeconds(num string, mult float64) (int64, bool) {
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v*mult > maxDurationSeconds {
		return 0, false
	}
	return int64(math.Round(v * mult)), true
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// isDecimal reports whether s is digits, optionally followed by a dot and more digits.
func isDecimal(s string) bool {
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") {
		return false
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if !isDigit(part[i]) {
				return false
			}
		}
	}
	return true
}

// formatDuration renders seconds the way Jira shows time spent: "1w 2d 3h 4m" with 8-hour days
// and 5-day weeks, dropping zero parts and leftover seconds; "0m" when under a minute.
func formatDuration(seconds int64) string {
	if seconds < 0 {
		seconds = 0
	}
	var parts []string
	rest := seconds
	for _, u := range []struct {
		secs int64
		name string
	}{{secondsPerWeek, "w"}, {secondsPerDay, "d"}, {secondsPerHour, "h"}, {secondsPerMinute, "m"}} {
		if n := rest / u.secs; n > 0 {
			parts = append(parts, strconv.FormatInt(n, 10)+u.name)
			rest -= n * u.secs
		}
	}
	if len(parts) == 0 {
		return "0m"
	}
	return strings.Join(parts, " ")
}

// isADFDoc reports whether raw is an Atlassian Document Format document: an object with
// type "doc", version 1 and a content array whose nodes each have a type, whose text nodes
// carry non-empty text, and whose nested content is again an array of such nodes.
func isADFDoc(raw json.RawMessage) bool {
	var doc struct {
		Type    *string          `json:"type"`
		Version *float64         `json:"version"`
		Content *json.RawMessage `json:"content"`
	}
	if !isJSONObject(raw) || json.Unmarshal(raw, &doc) != nil {
		return false
	}
	if doc.Type == nil || *doc.Type != "doc" || doc.Version == nil || *doc.Version != 1 || doc.Content == nil {
		return false
	}
	return isADFContent(*doc.Content)
}

func isADFContent(raw json.RawMessage) bool {
	var nodes []json.RawMessage
	if !isJSONArray(raw) || json.Unmarshal(raw, &nodes) != nil {
		return false
	}
	for _, n := range nodes {
		var node struct {
			Type    *string          `json:"type"`
			Text    *string          `json:"text"`
			Content *json.RawMessage `json:"content"`
		}
		if !isJSONObject(n) || json.Unmarshal(n, &node) != nil {
			return false
		}
		if node.Type == nil || *node.Type == "" {
			return false
		}
		if *node.Type == "text" && (node.Text == nil || *node.Text == "") {
			return false
		}
		if node.Content != nil && !isADFContent(*node.Content) {
			return false
		}
	}
	return true
}

// adfText collects the text nodes of an ADF document, one line per top-level block.
func adfText(raw json.RawMessage) string {
	var doc struct {
		Content []json.RawMessage `json:"content"`
	}
	if json.Unmarshal(raw, &doc) != nil {
		return ""
	}
	lines := make([]string, 0, len(doc.Content))
	for _, block := range doc.Content {
		var sb strings.Builder
		collectText(block, &sb)
		lines = append(lines, sb.String())
	}
	return strings.Join(lines, "\n")
}

func collectText(raw json.RawMessage, sb *strings.Builder) {
	var node struct {
		Text    string            `json:"text"`
		Content []json.RawMessage `json:"content"`
	}
	if json.Unmarshal(raw, &node) != nil {
		return
	}
	sb.WriteString(node.Text)
	for _, c := range node.Content {
		collectText(c, sb)
	}
}

func firstByte(raw []byte) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func isJSONObject(raw []byte) bool { return firstByte(raw) == '{' }
func isJSONArray(raw []byte) bool  { return firstByte(raw) == '[' }
func isJSONNull(raw []byte) bool   { return string(bytes.TrimSpace(raw)) == "null" }

// compactJSON returns raw without insignificant white space, or raw itself if it is not JSON.
func compactJSON(raw []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return append(json.RawMessage(nil), raw...)
	}
	return buf.Bytes()
}

// clone copies raw so that callers outside the lock never share the stored bytes.
func clone(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return nil
	}
	return append(json.RawMessage(nil), raw...)
}
