package workflow

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// yamlFile decodes one YAML file, collecting diagnostics with positions.
type yamlFile struct {
	name  string
	lines []string
	diags *Diagnostics
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseFile parses src into its document node. A syntax error becomes a diagnostic and the
// result is nil.
func parseFile(name string, src []byte, diags *Diagnostics) (*yamlFile, *yaml.Node) {
	f := &yamlFile{name: name, lines: strings.Split(string(src), "\n"), diags: diags}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		msg := err.Error()
		line := 0
		if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		col := 0
		if line > 0 {
			col = 1
		}
		f.add(line, col, "YAML syntax error: %s", msg)
		return f, nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		f.add(1, 1, "the file is empty")
		return f, nil
	}
	return f, doc.Content[0]
}

func (f *yamlFile) add(line, col int, format string, args ...any) {
	*f.diags = append(*f.diags, Diagnostic{File: f.name, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// errorf reports a problem at node n.
func (f *yamlFile) errorf(n *yaml.Node, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	f.add(line, col, format, args...)
}

// object reads one YAML mapping: it hands out values by key, remembers which keys it was asked
// for, and reports the others as unknown.
type object struct {
	f     *yamlFile
	at    *yaml.Node // where "missing field" problems point: the key naming the block
	what  string     // the block's path in messages: "workflow", "source", "connections.toggl"
	desc  string     // how unknown-field messages name the block, when not by its path
	keys  map[string]*yaml.Node
	vals  map[string]*yaml.Node
	order []string
	known []string
	used  map[string]bool
}

// object starts reading mapping n, named what in messages (desc for the document itself,
// whose path is ""), whose key node is at. An absent block (n nil) reads as empty; a block
// of the wrong kind is reported and reads as empty.
func (f *yamlFile) object(at, n *yaml.Node, what, desc string) *object {
	o := &object{f: f, at: at, what: what, desc: desc, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}, used: map[string]bool{}}
	if at == nil {
		o.at = n
	}
	if n == nil || isNull(n) {
		return o
	}
	if n.Kind != yaml.MappingNode {
		f.errorf(n, "%s must be a mapping of keys to values, not %s", o.label(), describe(n))
		return o
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			f.errorf(k, "keys in %s must be plain names", o.label())
			continue
		}
		if _, dup := o.vals[k.Value]; dup {
			f.errorf(k, "duplicate key %q in %s", k.Value, o.label())
			continue
		}
		o.keys[k.Value], o.vals[k.Value] = k, v
		o.order = append(o.order, k.Value)
	}
	return o
}

// take returns the value under key, or nil, and marks key as known and used.
func (o *object) take(key string) *yaml.Node {
	o.known = append(o.known, key)
	o.used[key] = true
	return o.vals[key]
}

// label names the block in messages.
func (o *object) label() string {
	if o.desc != "" {
		return o.desc
	}
	return o.what
}

// path names a field of the block in messages: "source.entries", or "name" at the top.
func (o *object) path(key string) string {
	if o.what == "" {
		return key
	}
	return o.what + "." + key
}

// key returns the key node of key, for positions.
func (o *object) key(key string) *yaml.Node { return o.keys[key] }

// missing reports a required field that is absent.
func (o *object) missing(key string) {
	if o.what == "" {
		o.f.errorf(o.at, "missing required field %q", key)
		return
	}
	o.f.errorf(o.at, "%s: missing required field %q", o.what, key)
}

// str reads a string field; a required one that is absent or empty is reported.
func (o *object) str(key string, required bool) (string, *yaml.Node) {
	n := o.take(key)
	if n == nil || isNull(n) {
		if required {
			o.missing(key)
		}
		return "", n
	}
	s, ok := o.f.scalar(n, o.path(key))
	if ok && required && strings.TrimSpace(s) == "" {
		o.f.errorf(n, "%s must not be empty", o.path(key))
	}
	return s, n
}

// boolean reads a bool field, def when absent.
func (o *object) boolean(key string, def bool) bool {
	n := o.take(key)
	if n == nil || isNull(n) {
		return def
	}
	b, ok := o.f.boolValue(n, o.path(key))
	if !ok {
		return def
	}
	return b
}

// enum reads a string field that must be one of allowed, def when absent.
func (o *object) enum(key, def string, allowed ...string) string {
	s, n := o.str(key, false)
	if n == nil || isNull(n) {
		return def
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	o.f.errorf(n, "%s: %q is not one of %s", o.path(key), s, quoteList(allowed))
	return def
}

// duration reads a duration field; zero when absent or wrong.
func (o *object) duration(key string) (time.Duration, *yaml.Node) {
	n := o.take(key)
	if n == nil || isNull(n) {
		return 0, n
	}
	d, ok := o.f.durationValue(n, o.path(key))
	if !ok {
		return 0, n
	}
	return d, n
}

// finish reports every key that nothing asked for.
func (o *object) finish() {
	for _, k := range o.order {
		if o.used[k] {
			continue
		}
		msg := fmt.Sprintf("unknown field %q in %s", k, o.label())
		if s := suggest(k, o.known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		o.f.errorf(o.keys[k], "%s", msg)
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe names the kind of a node for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!null":
		return "null"
	case "!!bool":
		return "a boolean"
	case "!!int":
		return "a number"
	case "!!float":
		return "a number"
	}
	return fmt.Sprintf("the text %q", n.Value)
}

// scalar reads a scalar as text.
func (f *yamlFile) scalar(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		f.errorf(n, "%s must be a single value, not %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

func (f *yamlFile) boolValue(n *yaml.Node, what string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	f.errorf(n, "%s must be true or false, not %s", what, describe(n))
	return false, false
}

func (f *yamlFile) intValue(n *yaml.Node, what string) (int64, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
			return i, true
		}
	}
	f.errorf(n, "%s must be a whole number, not %s", what, describe(n))
	return 0, false
}

func (f *yamlFile) durationValue(n *yaml.Node, what string) (time.Duration, bool) {
	s, ok := f.scalar(n, what)
	if !ok {
		return 0, false
	}
	d, err := parseDuration(s)
	if err != nil {
		f.errorf(n, "%s: %v", what, err)
		return 0, false
	}
	return d, true
}

var daysPrefix = regexp.MustCompile(`^(\d+)d`)

// parseDuration reads Go durations ("90s", "1h30m") and also whole days ("30d", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var days time.Duration
	if m := daysPrefix.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 100000 {
			return 0, fmt.Errorf("%q is not a duration like 15m, 1h30m or 30d", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[len(m[0]):]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration like 15m, 1h30m or 30d", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q: a duration cannot be negative", s)
	}
	return days + d, nil
}

// suggest returns the known name closest to name, if it is close enough to be a typo.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
