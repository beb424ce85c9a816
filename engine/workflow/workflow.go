package workflow

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/sluicehq/sluice/connectors"
)

// Workflow is one loaded, validated workflow file.
type Workflow struct {
	// Name identifies the workflow; its ledger and cursors are kept under it.
	Name        string
	Description string
	// File is the path the workflow was read from; YAML its text, as it was loaded.
	File string
	YAML []byte
	// Enabled is the file's default; the store may override it.
	Enabled  bool
	Schedule Schedule
	// Timeout bounds one run.
	Timeout time.Duration
	Source  Endpoint
	Sink    Endpoint
	// Filter selects entries; nil lets every entry through.
	Filter *Expression
	// Map sets each of the sink's map fields, given or defaulted.
	Map []MapField
	// OnUpdate is "update" or "ignore"; OnDelete is "delete" or "ignore".
	OnUpdate, OnDelete string
	// Priority is "high", "normal" or "low": when a quota is short, low-priority workflows
	// are deferred first.
	Priority string
}

// Schedule is when a workflow wishes to run: every Every, or on Cron in Location.
type Schedule struct {
	Every    time.Duration
	Cron     string
	Location *time.Location
}

func (s Schedule) String() string {
	if s.Cron != "" {
		if s.Location != nil && s.Location != time.UTC {
			return fmt.Sprintf("cron %q (%s)", s.Cron, s.Location)
		}
		return fmt.Sprintf("cron %q", s.Cron)
	}
	return "every " + FormatDuration(s.Every)
}

// FormatDuration writes d the way workflow files do: 15m, 1h30m, 2d.
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		d -= days * 24 * time.Hour
	}
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.unit
		}
	}
	if d > 0 {
		fmt.Fprintf(&b, "%dms", d/time.Millisecond)
	}
	return b.String()
}

func mapFieldNames(fields []connectors.Field) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// Endpoint is a workflow's source or sink: a connection plus its block's fields.
type Endpoint struct {
	Connection *Connection
	Values     connectors.Values
}

// MapField is one compiled map expression.
type MapField struct {
	Field connectors.Field
	Expr  *Expression
	// Defaulted is true when the workflow did not set the field and the sink's default applies.
	Defaulted bool
}

// Default settings of a workflow.
const (
	DefaultEvery   = 15 * time.Minute
	DefaultTimeout = 10 * time.Minute
	MinEvery       = time.Minute
)

// decodeWorkflow reads one workflow file's document node against the loaded config.
func decodeWorkflow(f *yamlFile, root *yaml.Node, cfg *Config) *Workflow {
	w := &Workflow{File: f.name}
	if root.Kind != yaml.MappingNode {
		f.errorf(root, "a workflow file must be a mapping of keys to values (name:, source:, sink: ...), not %s", describe(root))
		return w
	}
	o := f.object(nil, root, "", "the workflow")
	name, nn := o.str("name", true)
	if name != "" && !namePattern.MatchString(name) {
		f.errorf(nn, "workflow name %q: use %s", name, nameRule)
	}
	w.Name = name
	w.Description, _ = o.str("description", false)
	w.Enabled = o.boolean("enabled", true)
	w.Schedule = decodeSchedule(f, o)
	w.Timeout = DefaultTimeout
	if n := o.take("timeout"); n != nil && !isNull(n) {
		if d, ok := f.durationValue(n, "timeout"); ok && d == 0 {
			f.errorf(n, "timeout must be longer than zero")
		} else if ok {
			w.Timeout = d
		}
	}

	w.Source = decodeEndpoint(f, o, cfg, "source")
	w.Sink = decodeEndpoint(f, o, cfg, "sink")

	if fn := o.take("filter"); fn != nil && !isNull(fn) {
		w.Filter = f.compileExpr(fn, "filter", connectors.Bool)
	}
	w.Map = decodeMap(f, o, w.Sink)
	w.OnUpdate = o.enum("on_update", "update", "update", "ignore")
	w.OnDelete = o.enum("on_delete", "delete", "delete", "ignore")
	w.Priority = o.enum("priority", "normal", "high", "normal", "low")
	o.finish()
	return w
}

func decodeSchedule(f *yamlFile, o *object) Schedule {
	sched := Schedule{Every: DefaultEvery, Location: time.UTC}
	n := o.take("schedule")
	if n == nil || isNull(n) {
		return sched
	}
	so := f.object(o.key("schedule"), n, "schedule", "")
	every, en := so.duration("every")
	cronSpec, cn := so.str("cron", false)
	tz, tn := so.str("timezone", false)
	so.finish()
	hasEvery := en != nil && !isNull(en)
	hasCron := cn != nil && !isNull(cn)
	switch {
	case hasEvery && hasCron:
		f.errorf(cn, "schedule: give either every or cron, not both")
	case hasEvery:
		if every > 0 && every < MinEvery {
			f.errorf(en, "schedule.every: %s is too often; the shortest interval is %s", FormatDuration(every), FormatDuration(MinEvery))
		} else if every > 0 {
			sched.Every = every
		}
	case hasCron:
		if _, err := cron.ParseStandard(cronSpec); err != nil {
			f.errorf(cn, "schedule.cron: %q: %v", cronSpec, err)
		} else {
			sched.Cron, sched.Every = cronSpec, 0
		}
	default:
		f.errorf(so.at, "schedule: give every (such as 15m) or cron (such as \"*/15 * * * *\")")
	}
	if tz != "" {
		loc, err := time.LoadLocation(tz)
		switch {
		case err != nil:
			f.errorf(tn, "schedule.timezone: unknown time zone %q (use an IANA name such as Europe/Berlin)", tz)
		case !hasCron:
			f.errorf(tn, "schedule.timezone applies to cron schedules only")
		default:
			sched.Location = loc
		}
	}
	return sched
}

// decodeEndpoint reads the source or sink block.
func decodeEndpoint(f *yamlFile, o *object, cfg *Config, which string) Endpoint {
	n := o.take(which)
	if n == nil || isNull(n) {
		o.missing(which)
		return Endpoint{}
	}
	bo := f.object(o.key(which), n, which, "")
	connName, cn := bo.str("connection", true)
	if connName == "" {
		bo.finishLenient()
		return Endpoint{}
	}
	conn, ok := cfg.Connections[connName]
	if !ok && cfg.broken[connName] {
		bo.finishLenient()
		return Endpoint{}
	}
	if !ok {
		msg := fmt.Sprintf("%s.connection: unknown connection %q", which, connName)
		if s := suggest(connName, cfg.ConnectionNames()); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else if len(cfg.Connections) > 0 {
			msg += fmt.Sprintf(" (sluice.yaml defines %s)", quoteList(cfg.ConnectionNames()))
		}
		f.errorf(cn, "%s", msg)
		bo.finishLenient()
		return Endpoint{}
	}
	fields, check := conn.Spec.Source, conn.Spec.CheckSource
	if which == "sink" {
		fields, check = conn.Spec.Sink, conn.Spec.CheckSink
	}
	if (which == "source" && conn.Spec.NewSource == nil) || (which == "sink" && conn.Spec.NewSink == nil) {
		f.errorf(cn, "%s.connection: %q is a %s connection, which cannot be a %s", which, connName, conn.Type, which)
		bo.finishLenient()
		return Endpoint{}
	}
	what := which
	bo.desc = fmt.Sprintf("the %s %s", conn.Type, which)
	before := len(*f.diags)
	vals := f.fields(bo, fields, nil)
	bo.finish()
	// Rules across fields are judged only when every field could be read.
	if check != nil && len(*f.diags) == before {
		for _, fe := range check(vals) {
			at := bo.key(fe.Field)
			if at == nil {
				at = bo.at
			}
			f.errorf(at, "%s.%s: %s", what, fe.Field, fe.Msg)
		}
	}
	return Endpoint{Connection: conn, Values: vals}
}

// decodeMap compiles the map block against the sink's map fields, filling in defaults.
func decodeMap(f *yamlFile, o *object, sink Endpoint) []MapField {
	n := o.take("map")
	if sink.Connection == nil {
		// Without a known sink the fields cannot be judged, but the expressions can.
		mo := f.object(o.key("map"), n, "map", "")
		for _, k := range mo.order {
			f.compileExpr(mo.take(k), "map."+k, "")
		}
		return nil
	}
	mo := f.object(o.key("map"), n, "map", "")
	if mo.at == nil {
		mo.at = o.at
	}
	var out []MapField
	for _, fld := range sink.Connection.Spec.Map {
		vn := mo.take(fld.Name)
		switch {
		case vn != nil && !isNull(vn):
			if e := f.compileExpr(vn, "map."+fld.Name, fld.Type); e != nil {
				out = append(out, MapField{Field: fld, Expr: e})
			}
		case fld.Default != "":
			e := f.compileExpr(&yaml.Node{Kind: yaml.ScalarNode, Value: fld.Default, Line: mo.at.Line, Column: mo.at.Column}, "map."+fld.Name+" (default)", fld.Type)
			if e != nil {
				out = append(out, MapField{Field: fld, Expr: e, Defaulted: true})
			}
		case fld.Required:
			mo.missing(fld.Name)
		}
	}
	mo.desc = "map (the " + sink.Connection.Type + " sink takes " + mapFieldNames(sink.Connection.Spec.Map) + ")"
	mo.finish()
	return out
}
