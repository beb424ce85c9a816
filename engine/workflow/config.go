package workflow

import (
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sluicehq/sluice/connectors"
)

// Config is sluice.yaml: where state is kept, the connections, and where workflows live.
type Config struct {
	// File is the path the config was read from; Dir its folder, which relative paths in the
	// file are resolved against.
	File, Dir string
	// Store is the state database: "sqlite:<path>" with the path resolved.
	Store string
	// Workflows lists the globs or folders workflow files are read from, resolved.
	Workflows []string
	// Connections by name.
	Connections map[string]*Connection
	// Log sets the log level (debug, info, warn, error) and format (text, json).
	LogLevel, LogFormat string
	// Reserve is the share of every quota bucket sluice leaves for the user's own use of the
	// service (quota.reserve, default 10%).
	Reserve float64

	// broken names connections whose type could not be read; workflows using them are not
	// judged, since the config's own diagnostic already says what is wrong.
	broken map[string]bool
	// workflowsAt is the position of the workflows key, for problems finding the files.
	workflowsAt Diagnostic
}

// Connection is a named, configured account at a service.
type Connection struct {
	Name    string
	Type    string
	Spec    connectors.Spec
	BaseURL string
	// Values holds the connection's fields; secrets are connectors.Secret.
	Values connectors.Values
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

const nameRule = "lower-case letters, digits, - and _, starting with a letter or digit"

// decodeConfig reads sluice.yaml's document node.
func decodeConfig(f *yamlFile, root *yaml.Node, path string, env LookupEnv) *Config {
	dir := filepath.Dir(path)
	cfg := &Config{File: path, Dir: dir, Connections: map[string]*Connection{}, broken: map[string]bool{}}
	o := f.object(nil, root, "", "sluice.yaml")

	store, sn := o.str("store", false)
	if sn == nil || isNull(sn) {
		store = "sqlite:sluice.db"
	}
	if expanded, err := expandEnv(store, env); err != nil {
		f.errorf(sn, "store: %v", err)
	} else {
		store = expanded
	}
	switch {
	case strings.HasPrefix(store, "sqlite:"):
		p := strings.TrimPrefix(store, "sqlite:")
		if p == "" {
			f.errorf(sn, `store: "sqlite:" needs a file path, such as sqlite:sluice.db`)
		} else if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		cfg.Store = "sqlite:" + p
	case strings.HasPrefix(store, "postgres://"), strings.HasPrefix(store, "postgresql://"):
		cfg.Store = store
	default:
		f.errorf(sn, `store: %q is not a store address: use sqlite:<file> or postgres://...`, store)
	}

	cfg.Workflows = decodePaths(f, o, dir)
	cfg.workflowsAt = Diagnostic{File: path, Line: 1, Col: 1}
	if k := o.key("workflows"); k != nil {
		cfg.workflowsAt.Line, cfg.workflowsAt.Col = k.Line, k.Column
	}

	conns := o.take("connections")
	co := f.object(o.key("connections"), conns, "connections", "")
	for _, name := range co.order {
		cn := co.take(name)
		if !namePattern.MatchString(name) {
			f.errorf(co.key(name), "connection name %q: use %s", name, nameRule)
			continue
		}
		if c := decodeConnection(f, co.key(name), cn, name, env); c != nil {
			cfg.Connections[name] = c
		} else {
			cfg.broken[name] = true
		}
	}
	if conns == nil {
		f.errorf(root, "no connections: add a connections block naming at least a source and a sink")
	}

	cfg.Reserve = decodeQuota(f, o)
	lo := f.object(o.key("log"), o.take("log"), "log", "")
	cfg.LogLevel = lo.enum("level", "info", "debug", "info", "warn", "error")
	cfg.LogFormat = lo.enum("format", "text", "text", "json")
	lo.finish()
	o.finish()
	return cfg
}

// decodePaths reads `workflows:`, a path or a list of them, default "workflows".
func decodePaths(f *yamlFile, o *object, dir string) []string {
	n := o.take("workflows")
	var raw []string
	switch {
	case n == nil || isNull(n):
		raw = []string{"workflows"}
	case n.Kind == yaml.SequenceNode:
		for _, item := range n.Content {
			if s, ok := f.scalar(item, "workflows[]"); ok {
				raw = append(raw, s)
			}
		}
	default:
		if s, ok := f.scalar(n, "workflows"); ok {
			raw = []string{s}
		}
	}
	var out []string
	for _, p := range raw {
		if p == "" {
			f.errorf(n, "workflows: a path must not be empty")
			continue
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		out = append(out, p)
	}
	return out
}

func decodeConnection(f *yamlFile, key, n *yaml.Node, name string, env LookupEnv) *Connection {
	what := "connections." + name
	o := f.object(key, n, what, "")
	typ, tn := o.str("type", true)
	if typ == "" {
		o.finishLenient()
		return nil
	}
	spec, ok := connectors.Lookup(typ)
	if !ok {
		msg := "unknown connection type " + `"` + typ + `"` + " (known: " + strings.Join(connectors.Names(), ", ") + ")"
		if s := suggest(typ, connectors.Names()); s != "" {
			msg += ` (did you mean "` + s + `"?)`
		}
		f.errorf(tn, "%s: %s", what, msg)
		o.finishLenient()
		return nil
	}
	c := &Connection{Name: name, Type: typ, Spec: spec}
	base, bn := o.str("base_url", spec.BaseURL == "")
	if bn == nil || isNull(bn) {
		base = spec.BaseURL
	} else if expanded, err := expandEnv(base, env); err != nil {
		f.errorf(bn, "%s.base_url: %v", what, err)
	} else {
		base = expanded
	}
	if base != "" {
		if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			f.errorf(bn, "%s.base_url: %q is not an http(s) URL", what, base)
		}
	}
	c.BaseURL = strings.TrimRight(base, "/")
	c.Values = f.fields(o, spec.Connection, env)
	o.finish()
	return c
}

// finishLenient marks every key as used: once a block's type is unknown, its other keys
// cannot be judged.
func (o *object) finishLenient() {
	for _, k := range o.order {
		o.used[k] = true
	}
}

// ConnectionNames lists the connections in name order.
func (c *Config) ConnectionNames() []string {
	names := make([]string, 0, len(c.Connections))
	for n := range c.Connections {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// DefaultReserve is the share of a quota bucket left to the user when the config says
// nothing.
const DefaultReserve = 0.10

// decodeQuota reads the quota block: `reserve: 10%` (from 0% to 50%).
func decodeQuota(f *yamlFile, o *object) float64 {
	qo := f.object(o.key("quota"), o.take("quota"), "quota", "")
	defer qo.finish()
	text, n := qo.str("reserve", false)
	if n == nil || isNull(n) {
		return DefaultReserve
	}
	pct, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(text), "%")), 64)
	if err != nil || !strings.HasSuffix(strings.TrimSpace(text), "%") || pct < 0 || pct > 50 {
		f.errorf(n, "quota.reserve: %q is not a share like 10%% (from 0%% to 50%%)", text)
		return DefaultReserve
	}
	return pct / 100
}
