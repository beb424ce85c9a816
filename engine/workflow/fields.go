package workflow

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sluicehq/sluice/connectors"
)

// fields reads a block's connector fields into Values: each value typed, required fields
// checked, defaults applied. With env set, ${VAR} references in scalars are expanded first.
func (f *yamlFile) fields(o *object, specs []connectors.Field, env LookupEnv) connectors.Values {
	vals := connectors.Values{}
	for _, fld := range specs {
		n := o.take(fld.Name)
		if n == nil || isNull(n) {
			switch {
			case fld.Required:
				o.missing(fld.Name)
			case fld.Default != "":
				v, err := parseText(fld.Type, fld.Default)
				if err != nil {
					panic(fmt.Sprintf("workflow: default of %s: %v", o.path(fld.Name), err))
				}
				vals[fld.Name] = wrapSecret(fld, v)
			}
			continue
		}
		if v, ok := f.fieldValue(n, fld, o.path(fld.Name), env); ok {
			vals[fld.Name] = wrapSecret(fld, v)
		}
	}
	return vals
}

func wrapSecret(fld connectors.Field, v any) any {
	if s, ok := v.(string); ok && fld.Secret {
		return connectors.Secret(s)
	}
	return v
}

// fieldValue decodes one field's value.
func (f *yamlFile) fieldValue(n *yaml.Node, fld connectors.Field, what string, env LookupEnv) (any, bool) {
	switch fld.Type {
	case connectors.Strings, connectors.Ints:
		if n.Kind != yaml.SequenceNode {
			f.errorf(n, "%s must be a list, not %s", what, describe(n))
			return nil, false
		}
		elem := connectors.String
		if fld.Type == connectors.Ints {
			elem = connectors.Int
		}
		var strs []string
		var ints []int64
		ok := true
		for i, item := range n.Content {
			v, good := f.scalarField(item, elem, nil, fmt.Sprintf("%s[%d]", what, i), env)
			if !good {
				ok = false
				continue
			}
			if s, isStr := v.(string); isStr {
				strs = append(strs, s)
			} else {
				ints = append(ints, v.(int64))
			}
		}
		if !ok {
			return nil, false
		}
		if fld.Type == connectors.Ints {
			return ints, true
		}
		return strs, true
	}
	return f.scalarField(n, fld.Type, fld.Enum, what, env)
}

// scalarField decodes a scalar of type t.
func (f *yamlFile) scalarField(n *yaml.Node, t connectors.FieldType, enum []string, what string, env LookupEnv) (any, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		f.errorf(n, "%s must be a single value, not %s", what, describe(n))
		return nil, false
	}
	text := n.Value
	expanded := false
	if env != nil && strings.Contains(text, "$") {
		s, err := expandEnv(text, env)
		if err != nil {
			f.errorf(n, "%s: %v", what, err)
			return nil, false
		}
		expanded = s != text
		text = s
	}
	// Unexpanded values must carry YAML's own type, so `enabled: "yes"` is caught.
	if !expanded {
		switch t {
		case connectors.Bool:
			return f.boolValue(n, what)
		case connectors.Int:
			return f.intValue(n, what)
		}
	}
	v, err := parseText(t, text)
	if err != nil {
		f.errorf(n, "%s: %v", what, err)
		return nil, false
	}
	if s, ok := v.(string); ok && len(enum) > 0 && !slices.Contains(enum, s) {
		msg := fmt.Sprintf("%s: %q is not one of %s", what, s, quoteList(enum))
		if sug := suggest(s, enum); sug != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", sug)
		}
		f.errorf(n, "%s", msg)
		return nil, false
	}
	return v, true
}

// parseText parses the text form of a scalar field type.
func parseText(t connectors.FieldType, s string) (any, error) {
	switch t {
	case connectors.String:
		return s, nil
	case connectors.Int:
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", s)
		}
		return i, nil
	case connectors.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", s)
		}
		return b, nil
	case connectors.Duration:
		return parseDuration(s)
	case connectors.Date:
		d, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not a date like 2026-01-31", s)
		}
		return d, nil
	}
	return nil, fmt.Errorf("fields of type %q cannot be configured", t)
}
