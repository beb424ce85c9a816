package connectortest

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi3"
)

// The overlay patches the loaded documents in memory; the files stay as the vendors publish
// them. testdata/openapi/SOURCES.md lists every entry with its evidence.
//
// Relaxations fix a document that would reject requests the real API accepts. Tightenings
// add rules the real API enforces but the document only states in prose, so that our tests
// catch requests the real API would reject. Nothing the real API enforces is loosened.
//
// Each entry first checks that its target still looks as described and fails the load when it
// does not: a refreshed document that fixed or moved something must be noticed, not patched
// blindly.

// togglTrackOverlay patches Toggl Track v9.
func togglTrackOverlay(doc *openapi3.T) error {
	projects, err := operation(doc, "GET", "/workspaces/{workspace_id}/projects")
	if err != nil {
		return err
	}
	// Relaxation: seven query parameters of GET /workspaces/{wid}/projects are marked
	// required, but they are optional filters and sort keys; real clients omit them.
	for _, name := range []string{"name", "page", "sort_field", "sort_order", "only_templates", "sort_pinned", "search"} {
		p := projects.Parameters.GetByInAndName(openapi3.ParameterInQuery, name)
		if p == nil || !p.Required {
			return fmt.Errorf("projects: query parameter %q is no longer a required parameter", name)
		}
		p.Required = false
	}
	// Relaxation: `active` is typed boolean, but its own description says "You can pass
	// 'both' to get both active and inactive projects".
	active := projects.Parameters.GetByInAndName(openapi3.ParameterInQuery, "active")
	if active == nil || active.Schema == nil || !active.Schema.Value.Type.Is(openapi3.TypeBoolean) {
		return errors.New("projects: query parameter \"active\" is no longer a boolean")
	}
	active.Schema = &openapi3.SchemaRef{Value: &openapi3.Schema{AnyOf: openapi3.SchemaRefs{
		active.Schema,
		{Value: &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeString}, Enum: []any{"both"}}},
	}}}

	// Tightening: GET /me/quota and GET /me/organizations declare no security, yet they answer
	// for the calling user and the real API needs credentials for them like for every /me path.
	for _, path := range []string{"/me/quota", "/me/organizations"} {
		op, err := operation(doc, "GET", path)
		if err != nil {
			return err
		}
		if op.Security != nil {
			return fmt.Errorf("GET %s now declares security", path)
		}
		op.Security = &openapi3.SecurityRequirements{{"BasicAuth": {}}}
	}

	// Tightening: creating a time entry needs `created_with` ("Must be provided when creating
	// a time entry") and `start` ("required for creation"); timeentry.Payload is shared with
	// updates, so the rule is added to the create operation only. `workspace_id` is left out:
	// the legacy `wid` may stand in for it.
	create, err := operation(doc, "POST", "/workspaces/{workspace_id}/time_entries")
	if err != nil {
		return err
	}
	return requireInBody(create, "#/components/schemas/timeentry.Payload", &openapi3.Schema{
		Required: []string{"created_with", "start"},
	})
}

// reportsOverlayV2 patches Toggl Reports v3 before it is converted to OpenAPI 3.
//
// Removal: the four shared-report operations (POST /reports/api/v3/shared/{report_token} and
// its .csv, .pdf and .xlsx variants) list every body field as a separate `in: body`
// parameter, which Swagger 2.0 forbids and no converter can turn into one request body.
// sluice does not use them; requests to them are reported as unknown.
func reportsOverlayV2(doc *openapi2.T) error {
	removed := 0
	for path, item := range doc.Paths {
		for method, op := range item.Operations() {
			bodies := 0
			for _, p := range op.Parameters {
				if p.In == "body" {
					bodies++
				}
			}
			if bodies > 1 {
				item.SetOperation(method, nil)
				removed++
			}
		}
		if len(item.Operations()) == 0 {
			delete(doc.Paths, path)
		}
	}
	if removed == 0 {
		return errors.New("no operation with several body parameters is left to remove")
	}
	return nil
}

// reportsOverlay patches Toggl Reports v3 after conversion.
func reportsOverlay(doc *openapi3.T) error {
	// Fix: every operation requires `BasicAuth`, but the document has no securityDefinitions,
	// so nothing could satisfy it. It is the same HTTP Basic scheme as Toggl Track's.
	// (`APIKeyAuth`, required together with BasicAuth by a few export operations, stays
	// undeclared: the document says nothing about it, and sluice does not call those.)
	if _, ok := doc.Components.SecuritySchemes["BasicAuth"]; ok {
		return errors.New("BasicAuth is now declared")
	}
	if doc.Components.SecuritySchemes == nil {
		doc.Components.SecuritySchemes = openapi3.SecuritySchemes{}
	}
	doc.Components.SecuritySchemes["BasicAuth"] = &openapi3.SecuritySchemeRef{
		Value: openapi3.NewSecurityScheme().WithType("http").WithScheme("basic"),
	}

	// Relaxation: the filter arrays whose description says "To filter records with no
	// projects, use [null]" (also clients, tags, tasks) are plain integer arrays; their items
	// become nullable. The description is the evidence, so only those arrays change: in
	// detailed.Post and nine more request schemas (summary, totals, weekly, exports).
	var patched []string
	for name, ref := range doc.Components.Schemas {
		for prop, p := range ref.Value.Properties {
			if !strings.Contains(p.Value.Description, "use [null]") {
				continue
			}
			if !p.Value.Type.Is(openapi3.TypeArray) || p.Value.Items == nil || p.Value.Items.Value.Nullable {
				return fmt.Errorf("%s.%s: no longer an array of non-nullable items", name, prop)
			}
			p.Value.Items.Value.Nullable = true
			patched = append(patched, name+"."+prop)
		}
	}
	for _, want := range []string{"client_ids", "project_ids", "tag_ids", "task_ids"} {
		if !slices.Contains(patched, "detailed.Post."+want) {
			return fmt.Errorf("detailed.Post.%s: no longer documents [null]", want)
		}
	}
	return nil
}

// jiraDateTime is the format name the overlay gives Worklog.started.
const jiraDateTime = "jira-date-time"

// jiraOverlay patches the Jira platform v3 document. It returns the string formats the
// patched document uses beyond OpenAPI's.
func jiraOverlay(doc *openapi3.T) (map[string]openapi3.StringFormatValidator, error) {
	worklog := doc.Components.Schemas["Worklog"]
	if worklog == nil {
		return nil, errors.New("schema Worklog is gone")
	}
	// Relaxation and tightening: `started` is `format: date-time`, which is RFC 3339 and
	// rejects Jira's own example `2021-01-17T12:34:00.000+0000` (no colon in the offset).
	// Jira documents and accepts yyyy-MM-dd'T'HH:mm:ss.SSSZ; exactly that form is checked.
	started := worklog.Value.Properties["started"]
	if started == nil || started.Value.Format != "date-time" {
		return nil, errors.New("overlay: Worklog.started is no longer a date-time")
	}
	started.Value.Format = jiraDateTime

	// Tightening: the comment is untyped in the document, whose description says it is an
	// Atlassian Document Format document; API v3 refuses a plain string. The top-level node
	// of an ADF document is checked; the nodes inside are not.
	comment := worklog.Value.Properties["comment"]
	if comment == nil || comment.Value.Type != nil {
		return nil, errors.New("overlay: Worklog.comment is no longer untyped")
	}
	worklog.Value.Properties["comment"] = &openapi3.SchemaRef{Value: adfDocument(comment.Value.Description)}

	// Tightening: on create, `started` is "Required when creating a worklog", and exactly one
	// of `timeSpent` and `timeSpentSeconds` must be given ("Required when creating a worklog
	// if timeSpentSeconds isn't provided", "Cannot be provided if timeSpentSecond is
	// provided"). Worklog is shared with update, so the rule goes on addWorklog only.
	add, err := operation(doc, "POST", "/rest/api/3/issue/{issueIdOrKey}/worklog")
	if err != nil {
		return nil, err
	}
	err = requireInBody(add, "#/components/schemas/Worklog", &openapi3.Schema{
		Required: []string{"started"},
		OneOf: openapi3.SchemaRefs{
			{Value: &openapi3.Schema{Required: []string{"timeSpent"}}},
			{Value: &openapi3.Schema{Required: []string{"timeSpentSeconds"}}},
		},
	})
	if err != nil {
		return nil, err
	}

	// Tightening: most operations list `{}` (anonymous access) among their security
	// requirements, which would let a request without credentials pass. Anonymous access
	// only works where a site grants permissions to "anyone on the web"; sluice always
	// authenticates, and its simulators must refuse anonymous calls as a private site does.
	anonymous := 0
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.Security == nil {
				continue
			}
			kept := slices.DeleteFunc(*op.Security, func(r openapi3.SecurityRequirement) bool { return len(r) == 0 })
			anonymous += len(*op.Security) - len(kept)
			*op.Security = kept
		}
	}
	if anonymous == 0 {
		return nil, errors.New("no operation offers anonymous access any more")
	}
	return map[string]openapi3.StringFormatValidator{jiraDateTime: openapi3.NewCallbackValidator(checkJiraDateTime)}, nil
}

// adfDocument is the schema of the top-level node of an Atlassian Document Format document:
// {"type": "doc", "version": 1, "content": [...]}.
func adfDocument(description string) *openapi3.Schema {
	return &openapi3.Schema{
		Description: description,
		Type:        &openapi3.Types{openapi3.TypeObject},
		Required:    []string{"type", "version", "content"},
		Properties: openapi3.Schemas{
			"type":    {Value: &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeString}, Enum: []any{"doc"}}},
			"version": {Value: &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeInteger}, Enum: []any{1.0}}},
			"content": {Value: &openapi3.Schema{Type: &openapi3.Types{openapi3.TypeArray}}},
		},
	}
}

// operation returns the operation of doc at method and path.
func operation(doc *openapi3.T, method, path string) (*openapi3.Operation, error) {
	item := doc.Paths.Value(path)
	if item == nil || item.GetOperation(method) == nil {
		return nil, fmt.Errorf("operation %s %s is gone", method, path)
	}
	return item.GetOperation(method), nil
}

// requireInBody makes op's body, whose schema must be a reference to ref, match extra as
// well. The referenced schema is left as it is, for the other operations using it.
func requireInBody(op *openapi3.Operation, ref string, extra *openapi3.Schema) error {
	if op.RequestBody == nil || len(op.RequestBody.Value.Content) != 1 {
		return fmt.Errorf("%s: no longer one request body type", op.OperationID)
	}
	for mime, media := range op.RequestBody.Value.Content {
		if media.Schema == nil || media.Schema.Ref != ref {
			return fmt.Errorf("%s: %s body is no longer %s", op.OperationID, mime, ref)
		}
		// The title names the schema in reasons: "doesn't match schema <title>: ...".
		extra.Title = ref + " with the overlay's rules for " + op.OperationID
		extra.AllOf = append(openapi3.SchemaRefs{media.Schema}, extra.AllOf...)
		media.Schema = &openapi3.SchemaRef{Value: extra}
	}
	return nil
}
