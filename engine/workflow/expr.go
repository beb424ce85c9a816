package workflow

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	exprfile "github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"github.com/sluicehq/sluice/connectors"
)

// Expression is one compiled workflow expression with its source.
type Expression struct {
	Source  string
	program *vm.Program
}

var timeType = reflect.TypeOf(time.Time{})

// compileExpr compiles the expression in scalar n, which must give a value of type want (or
// bool for a filter, when want is connectors.Bool). Problems are reported at their position in
// the file.
func (f *yamlFile) compileExpr(n *yaml.Node, what string, want connectors.FieldType) *Expression {
	src, ok := f.scalar(n, what)
	if !ok {
		return nil
	}
	if strings.TrimSpace(src) == "" {
		f.errorf(n, "%s: the expression is empty", what)
		return nil
	}
	opts := append([]expr.Option{expr.Env(Env{}), expr.MaxNodes(2000)}, funcOptions...)
	switch want {
	case connectors.Bool:
		opts = append(opts, expr.AsBool())
	case connectors.String:
		opts = append(opts, expr.AsKind(reflect.String))
	case connectors.Int:
		opts = append(opts, expr.AsInt())
	}
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		f.exprError(n, what, err, want)
		return nil
	}
	if !f.checkConstants(n, what, prog) {
		return nil
	}
	if got := prog.Node().Type(); got != nil && got.Kind() != reflect.Interface {
		if msg := typeMismatch(got, want); msg != "" {
			f.errorf(n, "%s: %s", what, msg)
			return nil
		}
	}
	return &Expression{Source: src, program: prog}
}

// typeMismatch says why a compiled result type does not fit want, or "".
func typeMismatch(got reflect.Type, want connectors.FieldType) string {
	switch want {
	case connectors.Time:
		if got != timeType {
			return fmt.Sprintf("the expression gives %s, but a time is needed (such as entry.start)", typeName(got))
		}
	case connectors.Strings:
		if got.Kind() != reflect.Slice {
			return fmt.Sprintf("the expression gives %s, but a list of text is needed", typeName(got))
		}
	}
	return ""
}

// typeName names a Go type the way expression authors think of it.
func typeName(t reflect.Type) string {
	switch {
	case t == timeType:
		return "a time"
	case t.Kind() == reflect.String:
		return "text"
	case t.Kind() == reflect.Bool:
		return "true/false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a decimal number"
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return "a list"
	case t.Kind() == reflect.Map:
		return "a map"
	}
	return t.String()
}

// exprTypeName names one of expr's type names in words.
func exprTypeName(t string) string {
	switch t {
	case "string":
		return "text"
	case "int", "int64":
		return "a whole number"
	case "float64":
		return "a decimal number"
	case "bool":
		return "true/false"
	}
	return t
}

func wantName(t connectors.FieldType) string {
	switch t {
	case connectors.Bool:
		return "true/false"
	case connectors.String:
		return "text"
	case connectors.Int:
		return "a whole number"
	case connectors.Time:
		return "a time"
	case connectors.Strings:
		return "a list of text"
	}
	return string(t)
}

var (
	noField     = regexp.MustCompile(`^type \S*Entry has no field (\w+)$`)
	unknownName = regexp.MustCompile(`^unknown name (\w+)$`)
	expected    = regexp.MustCompile(`^expected (\w+), but got (\w+)`)
)

// exprError reports a compile error at its position, in words about the workflow rather
// than about Go types.
func (f *yamlFile) exprError(n *yaml.Node, what string, err error, want connectors.FieldType) {
	var fe *exprfile.Error
	if !errors.As(err, &fe) {
		fe = &exprfile.Error{Message: err.Error()}
	}
	msg := strings.TrimSpace(fe.Message)
	switch {
	case noField.MatchString(msg):
		name := noField.FindStringSubmatch(msg)[1]
		msg = fmt.Sprintf("entry has no field %q", name)
		if s := suggest(name, entryFields()); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
	case unknownName.MatchString(msg):
		name := unknownName.FindStringSubmatch(msg)[1]
		msg = fmt.Sprintf("unknown name %q", name)
		if s := suggest(name, envNames()); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else if n.Style == yaml.DoubleQuotedStyle || n.Style == yaml.SingleQuotedStyle {
			msg += fmt.Sprintf("; this is an expression: for the text, quote it twice: '\"%s\"'", n.Value)
		}
	case expected.MatchString(msg):
		got := expected.FindStringSubmatch(msg)[2]
		msg = fmt.Sprintf("the expression gives %s, but %s is needed", exprTypeName(got), wantName(want))
		f.errorf(n, "%s: %s", what, msg)
		return
	}
	line, col := f.position(n, fe.From)
	f.add(line, col, "%s: %s", what, msg)
}

// checkConstants checks the constant arguments of helper calls (rounding steps, time zones).
func (f *yamlFile) checkConstants(n *yaml.Node, what string, prog *vm.Program) bool {
	ok := true
	root := prog.Node()
	ast.Find(root, func(node ast.Node) bool {
		call, isCall := node.(*ast.CallNode)
		if !isCall {
			return false
		}
		id, isIdent := call.Callee.(*ast.IdentifierNode)
		if !isIdent {
			return false
		}
		c, known := constantArgs[id.Value]
		if !known || c.index >= len(call.Arguments) {
			return false
		}
		lit, isStr := call.Arguments[c.index].(*ast.StringNode)
		if !isStr {
			return false
		}
		if err := c.check(lit.Value); err != nil {
			line, col := f.position(n, lit.Location().From)
			f.add(line, col, "%s: %s: %v", what, id.Value, err)
			ok = false
		}
		return false
	})
	return ok
}

// position maps a rune offset into scalar n's value, as expr reports it, to the file's line
// and column. Block scalars (| and >) start on the line after their key; quoted ones one
// column after the quote; continuation lines start after their indentation.
func (f *yamlFile) position(n *yaml.Node, from int) (int, int) {
	off := len(n.Value)
	if r := []rune(n.Value); from < len(r) {
		off = len(string(r[:from]))
	}
	srcLine := n.Line - 1 // index into f.lines
	start := n.Column - 1 // byte index where the value's text starts on that line
	block := -1           // a block scalar's indentation: the same on every line
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		srcLine++
		for i := srcLine; i < len(f.lines); i++ {
			if text := strings.TrimLeft(f.lines[i], " "); text != "" {
				block = len(f.lines[i]) - len(text)
				break
			}
		}
		start = block
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		start++
	}
	for ; srcLine >= 0 && srcLine < len(f.lines); srcLine++ {
		text := f.lines[srcLine]
		if start < 0 || start > len(text) {
			start = len(text) - len(strings.TrimLeft(text, " \t"))
		}
		avail := len(text) - start
		if off <= avail {
			return srcLine + 1, start + off + 1
		}
		off -= avail + 1
		start = block
	}
	return n.Line, n.Column
}

func entryFields() []string {
	t := reflect.TypeOf(connectors.Entry{})
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("expr"); tag != "" {
			names = append(names, tag)
		}
	}
	return names
}

func envNames() []string {
	names := []string{"entry", "workflow"}
	for _, f := range Funcs {
		name, _, _ := strings.Cut(f.Name, "(")
		names = append(names, name)
	}
	return names
}

// Evaluator runs a workflow's filter and map over entries. It keeps one expression VM, so
// use one Evaluator per goroutine.
type Evaluator struct {
	wf  *Workflow
	vm  vm.VM
	env Env
}

// NewEvaluator returns an Evaluator for the workflow.
func (w *Workflow) NewEvaluator() *Evaluator {
	return &Evaluator{wf: w, env: Env{Workflow: w.Name}}
}

// Filter reports whether the entry passes the workflow's filter; true without one.
func (ev *Evaluator) Filter(e *connectors.Entry) (bool, error) {
	if ev.wf.Filter == nil {
		return true, nil
	}
	ev.env.Entry = e
	out, err := ev.vm.Run(ev.wf.Filter.program, ev.env)
	if err != nil {
		return false, fmt.Errorf("filter: %w", err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("filter: gave %T, want true or false", out)
	}
	return b, nil
}

// Map evaluates each map field for the entry, typed as the sink declares it.
func (ev *Evaluator) Map(e *connectors.Entry) (connectors.Values, error) {
	ev.env.Entry = e
	vals := make(connectors.Values, len(ev.wf.Map))
	for _, m := range ev.wf.Map {
		out, err := ev.vm.Run(m.Expr.program, ev.env)
		if err != nil {
			return nil, fmt.Errorf("map.%s: %w", m.Field.Name, err)
		}
		v, err := coerce(out, m.Field.Type)
		if err != nil {
			return nil, fmt.Errorf("map.%s: %w", m.Field.Name, err)
		}
		vals[m.Field.Name] = v
	}
	return vals, nil
}

// coerce converts an expression result to a map field's type. nil becomes the zero value, so
// `{"a": "X-1"}[entry.project]` gives "" for other projects.
func coerce(v any, t connectors.FieldType) (any, error) {
	bad := func() error {
		return fmt.Errorf("the expression gave %v (%s), but %s is needed", v, typeName(reflect.TypeOf(v)), wantName(t))
	}
	switch t {
	case connectors.String:
		switch s := v.(type) {
		case string:
			return s, nil
		case nil:
			return "", nil
		}
	case connectors.Int:
		switch n := v.(type) {
		case int:
			return n, nil
		case int64:
			return int(n), nil
		case float64:
			if n == float64(int(n)) {
				return int(n), nil
			}
		case nil:
			return 0, nil
		}
	case connectors.Bool:
		switch b := v.(type) {
		case bool:
			return b, nil
		case nil:
			return false, nil
		}
	case connectors.Time:
		switch tm := v.(type) {
		case time.Time:
			return tm, nil
		case nil:
			return time.Time{}, nil
		}
	case connectors.Strings:
		switch l := v.(type) {
		case []string:
			return l, nil
		case []any:
			out := make([]string, 0, len(l))
			for _, x := range l {
				s, ok := x.(string)
				if !ok {
					return nil, bad()
				}
				out = append(out, s)
			}
			return out, nil
		case nil:
			return []string(nil), nil
		}
	}
	return nil, bad()
}
