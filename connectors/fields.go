package connectors

import (
	"log/slog"
	"time"
)

// FieldType is the type of a configuration or map field.
type FieldType string

// Field types. Configuration values arrive as the Go type named in each comment; map fields
// are typed the same way after their expression ran.
const (
	String   FieldType = "string"   // string
	Int      FieldType = "int"      // int64 (map fields: int)
	Bool     FieldType = "bool"     // bool
	Duration FieldType = "duration" // time.Duration, written like 15m or 1h30m
	Date     FieldType = "date"     // time.Time at UTC midnight, written 2006-01-02
	Time     FieldType = "time"     // time.Time (map fields only)
	Strings  FieldType = "list"     // []string
	Ints     FieldType = "int list" // []int64
)

// Field describes one key of a connection, source, sink or map block.
type Field struct {
	Name string
	Type FieldType
	// Required fields must be given; Default applies to the others when set.
	Required bool
	// Default is written as in YAML; for map fields it is an expression.
	Default string
	// Enum, when set, lists the allowed values of a string field.
	Enum []string
	// Secret fields are held as Secret and never printed, logged or stored.
	Secret bool
	Doc    string
}

// Secret is a credential. It prints, logs and marshals as "[redacted]"; Reveal gives the value.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value, for the one place that sends it.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string               { return redacted }
func (s Secret) GoString() string             { return redacted }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Values holds validated field values by name, typed as FieldType documents. Getters return
// the zero value for absent fields.
type Values map[string]any

// Has reports whether the field was set or defaulted.
func (v Values) Has(name string) bool { _, ok := v[name]; return ok }

// String returns a string field.
func (v Values) String(name string) string { s, _ := v[name].(string); return s }

// Secret returns a secret field.
func (v Values) Secret(name string) Secret { s, _ := v[name].(Secret); return s }

// Int returns an int field.
func (v Values) Int(name string) int64 {
	switch n := v[name].(type) {
	case int64:
		return n
	case int:
		return int64(n)
	}
	return 0
}

// Bool returns a bool field.
func (v Values) Bool(name string) bool { b, _ := v[name].(bool); return b }

// Duration returns a duration field.
func (v Values) Duration(name string) time.Duration { d, _ := v[name].(time.Duration); return d }

// Time returns a date or time field.
func (v Values) Time(name string) time.Time { t, _ := v[name].(time.Time); return t }

// Strings returns a list field.
func (v Values) Strings(name string) []string { s, _ := v[name].([]string); return s }

// Ints returns an int list field.
func (v Values) Ints(name string) []int64 { s, _ := v[name].([]int64); return s }
