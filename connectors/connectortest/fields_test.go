package connectortest_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/connectortest"
)

func TestResponseFields(t *testing.T) {
	spec := connectortest.LoadSpec(t, connectortest.TogglTrack, connectortest.TogglReports, connectortest.Jira)
	for _, tc := range []struct {
		name             string
		fields           []string
		want, wantAbsent []string
	}{
		{
			name:   "Jira worklog created",
			fields: spec.ResponseFields(t, "POST", "/rest/api/3/issue/{issueIdOrKey}/worklog", 201),
			want:   []string{"author", "id", "issueId", "properties", "self", "started", "timeSpentSeconds", "updated"},
		},
		{
			name:   "Jira worklog page",
			fields: spec.ResponseFields(t, "GET", "/rest/api/3/issue/{issueIdOrKey}/worklog", 200),
			want:   []string{"maxResults", "startAt", "total", "worklogs"},
		},
		{
			// An array response gives its items' fields. The Track document lacks
			// server_deleted_at, which real responses carry.
			name:       "Toggl time entries",
			fields:     spec.ResponseFields(t, "get", "/api/v9/me/time_entries", 200),
			want:       []string{"at", "duration", "id", "project_id", "start", "stop", "workspace_id"},
			wantAbsent: []string{"server_deleted_at"},
		},
		{
			name:   "Toggl quota",
			fields: spec.ResponseFields(t, "GET", "/api/v9/me/quota", 200),
			want:   []string{"organization_id", "remaining", "resets_in_secs", "total"},
		},
		{
			name:   "Reports rows",
			fields: spec.SchemaFields(t, "detailed.GroupedTimeEntry"),
			want:   []string{"description", "row_number", "time_entries", "user_id"},
		},
		{
			name:   "Reports row entries",
			fields: spec.SchemaFields(t, "detailed.SingleTimeEntry"),
			want:   []string{"at", "id", "seconds", "start", "stop"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.IsSorted(tc.fields) {
				t.Errorf("fields not sorted: %v", tc.fields)
			}
			for _, f := range tc.want {
				if !slices.Contains(tc.fields, f) {
					t.Errorf("fields %v lack %q", tc.fields, f)
				}
			}
			for _, f := range tc.wantAbsent {
				if slices.Contains(tc.fields, f) {
					t.Errorf("fields %v have %q", tc.fields, f)
				}
			}
		})
	}
}

func TestResponseFieldsFails(t *testing.T) {
	spec := connectortest.LoadSpec(t, connectortest.TogglTrack, connectortest.TogglReports, connectortest.Jira)
	for _, tc := range []struct {
		name, want string
		call       func(tb testing.TB)
	}{
		{"Reports report declared as string", "lists no fields for the 200 response of POST /reports/api/v3/workspace/{workspace_id}/search/time_entries (its schema: type string)", func(tb testing.TB) {
			spec.ResponseFields(tb, "POST", "/reports/api/v3/workspace/{workspace_id}/search/time_entries", 200)
		}},
		{"concrete path instead of template", "no document has the path /rest/api/3/issue/ABC-1/worklog", func(tb testing.TB) {
			spec.ResponseFields(tb, "POST", "/rest/api/3/issue/ABC-1/worklog", 201)
		}},
		{"method the path lacks", "has no operation PATCH", func(tb testing.TB) {
			spec.ResponseFields(tb, "PATCH", "/rest/api/3/issue/{issueIdOrKey}/worklog", 200)
		}},
		{"undeclared status", "has no 200 response", func(tb testing.TB) {
			spec.ResponseFields(tb, "POST", "/rest/api/3/issue/{issueIdOrKey}/worklog", 200)
		}},
		{"unknown schema", "no document has the schema Worklogs", func(tb testing.TB) {
			spec.SchemaFields(tb, "Worklogs")
		}},
		{"unknown document", "unknown document", func(tb testing.TB) {
			connectortest.LoadSpec(tb, "jira-platform-v2.json")
		}},
		{"no document", "needs at least one document name", func(tb testing.TB) {
			connectortest.LoadSpec(tb)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ftb := &fakeTB{}
			errs := ftb.fatal(func() { tc.call(ftb) })
			if len(errs) != 1 || !strings.Contains(errs[0], tc.want) {
				t.Errorf("reported %q, want %q", errs, tc.want)
			}
		})
	}
}

func TestMissingFields(t *testing.T) {
	fields := []string{"id", "stop", "server_deleted_at"}
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"object with nulls", `{"id":1,"stop":null,"server_deleted_at":null}`, nil},
		{"object", `{"id":1,"stop":"2024-01-01T00:00:00Z"}`, []string{"server_deleted_at"}},
		{"array", `[{"id":1,"stop":null,"server_deleted_at":null},{"id":2}]`, []string{"[1].stop", "[1].server_deleted_at"}},
		{"empty array", `[]`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := connectortest.MissingFields(t, []byte(tc.body), fields...); !slices.Equal(got, tc.want) {
				t.Errorf("MissingFields = %q, want %q", got, tc.want)
			}
		})
	}
	for _, body := range []string{`"ok"`, `[1]`, `{`} {
		ftb := &fakeTB{}
		if errs := ftb.fatal(func() { connectortest.MissingFields(ftb, []byte(body), "id") }); len(errs) != 1 {
			t.Errorf("MissingFields(%s) reported %q, want one failure", body, errs)
		}
	}
}
