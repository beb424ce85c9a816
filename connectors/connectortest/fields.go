package connectortest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// Responses are not validated against the specs: real Toggl responses carry nulls the Track
// document does not allow, and Reports declares its detailed report as a string although it is
// an array. These helpers let a test check instead that a simulator's response has the fields
// the vendor lists, leaving types and nulls aside.

// ResponseFields returns, sorted, the property names the spec lists for the JSON response of
// an operation with the given status; for an array, those of its items. pathTemplate is the
// operation's path template as Finding.Route gives it, e.g. "/rest/api/3/issue/{issueIdOrKey}/worklog".
// It fails tb when the spec has no such operation or status, or lists no fields for it (Reports'
// detailed report is declared a string: use SchemaFields with "detailed.GroupedTimeEntry").
func (s *Spec) ResponseFields(tb testing.TB, method, pathTemplate string, status int) []string {
	tb.Helper()
	for _, d := range s.docs {
		path, ok := strings.CutPrefix(pathTemplate, d.base)
		if !ok || d.doc.Paths.Value(path) == nil {
			continue
		}
		op := d.doc.Paths.Value(path).GetOperation(strings.ToUpper(method))
		if op == nil {
			tb.Fatalf("connectortest: %s has no operation %s %s", d.name, method, pathTemplate)
		}
		resp := op.Responses.Status(status)
		if resp == nil || resp.Value == nil {
			tb.Fatalf("connectortest: %s %s has no %d response in %s", method, pathTemplate, status, d.name)
		}
		media := resp.Value.Content.Get("application/json")
		if media == nil || media.Schema == nil {
			tb.Fatalf("connectortest: the %d response of %s %s has no JSON schema in %s", status, method, pathTemplate, d.name)
		}
		fields := schemaFields(media.Schema)
		if len(fields) == 0 {
			tb.Fatalf("connectortest: %s lists no fields for the %d response of %s %s (its schema: %s)",
				d.name, status, method, pathTemplate, describe(media.Schema))
		}
		return fields
	}
	tb.Fatalf("connectortest: no document has the path %s", pathTemplate)
	return nil
}

// SchemaFields returns, sorted, the property names of the named component schema, such as
// "Worklog" (Jira), "github_com_toggl_toggl_api_internal_models.TimeEntry" (Toggl Track) or
// "detailed.GroupedTimeEntry" (Reports). It fails tb when no document has the schema or it
// lists no fields.
func (s *Spec) SchemaFields(tb testing.TB, name string) []string {
	tb.Helper()
	for _, d := range s.docs {
		if ref := d.doc.Components.Schemas[name]; ref != nil {
			fields := schemaFields(ref)
			if len(fields) == 0 {
				tb.Fatalf("connectortest: schema %s of %s lists no fields", name, d.name)
			}
			return fields
		}
	}
	tb.Fatalf("connectortest: no document has the schema %s", name)
	return nil
}

// schemaFields collects the properties of s, of its allOf parts, and of its items for an array.
func schemaFields(s *openapi3.SchemaRef) []string {
	var fields []string
	var walk func(s *openapi3.SchemaRef, depth int)
	walk = func(s *openapi3.SchemaRef, depth int) {
		if s == nil || s.Value == nil || depth > 8 {
			return
		}
		if s.Value.Type.Is(openapi3.TypeArray) {
			walk(s.Value.Items, depth+1)
			return
		}
		for name := range s.Value.Properties {
			fields = append(fields, name)
		}
		for _, part := range s.Value.AllOf {
			walk(part, depth+1)
		}
	}
	walk(s, 0)
	slices.Sort(fields)
	return slices.Compact(fields)
}

func describe(s *openapi3.SchemaRef) string {
	if s.Ref != "" {
		return s.Ref
	}
	if s.Value.Type != nil {
		return "type " + strings.Join(s.Value.Type.Slice(), ", ")
	}
	return "untyped"
}

// MissingFields returns the fields a JSON object lacks. For a JSON array it checks every
// element and names a missing field "[i].field". It fails tb when body is not an object or an
// array of objects. A field present with the value null counts as present.
func MissingFields(tb testing.TB, body []byte, fields ...string) []string {
	tb.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		tb.Fatalf("connectortest: response is not JSON: %v", err)
	}
	var objects []map[string]any
	var prefix func(i int) string
	switch v := v.(type) {
	case map[string]any:
		objects = []map[string]any{v}
		prefix = func(int) string { return "" }
	case []any:
		for i, e := range v {
			o, ok := e.(map[string]any)
			if !ok {
				tb.Fatalf("connectortest: element %d of the response is not an object", i)
			}
			objects = append(objects, o)
		}
		prefix = func(i int) string { return fmt.Sprintf("[%d].", i) }
	default:
		tb.Fatalf("connectortest: response is neither an object nor an array")
	}
	var missing []string
	for i, o := range objects {
		for _, f := range fields {
			if _, ok := o[f]; !ok {
				missing = append(missing, prefix(i)+f)
			}
		}
	}
	return missing
}
