package connectortest_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/connectors/connectortest"
)

// basicAuth is Toggl's form: the API token as user, "api_token" as password.
var basicAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef:api_token"))

// answer200 is a simulator that accepts everything.
var answer200 = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusOK)
})

// call is one request a test sends.
type call struct {
	method, path, body string
	// auth is the Authorization header; empty means basicAuth, "-" means none.
	auth string
	// contentType defaults to application/json when there is a body; "-" means none.
	contentType string
}

// send makes the request with a real client and returns the status code.
func send(t *testing.T, srv *httptest.Server, c call) int {
	t.Helper()
	status, err := trySend(t.Context(), srv, c)
	if err != nil {
		t.Fatal(err)
	}
	return status
}

// trySend makes the request with a real client, drains the response and returns its status.
func trySend(ctx context.Context, srv *httptest.Server, c call) (int, error) {
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, srv.URL+c.path, body)
	if err != nil {
		return 0, err
	}
	switch c.auth {
	case "":
		req.Header.Set("Authorization", basicAuth)
	case "-":
	default:
		req.Header.Set("Authorization", c.auth)
	}
	switch {
	case c.contentType == "-":
	case c.contentType != "":
		req.Header.Set("Content-Type", c.contentType)
	case c.body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// serve starts a real server for h, closed when the test ends.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

const (
	valid   = "valid"
	invalid = "invalid"
	unknown = "unknown"
)

// verdictCase is one request and what the checker must say of it.
type verdictCase struct {
	name string
	call
	want string
	// route is the template the request must match (empty for unknown ones).
	route string
	// reason must appear in the finding's reason (invalid and unknown ones).
	reason string
}

// runVerdicts sends each case through its own checker in front of answer200, and checks
// the verdict, the route and the reason.
func runVerdicts(t *testing.T, spec *connectortest.Spec, cases []verdictCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := spec.Check(answer200)
			send(t, serve(t, c), tc.call)

			all := c.Requests()
			if len(all) != 1 || c.Count() != 1 {
				t.Fatalf("checker saw %d requests (Count %d), want 1", len(all), c.Count())
			}
			got := all[0]
			t.Log(got)
			if got.Route != tc.route {
				t.Errorf("route = %q, want %q", got.Route, tc.route)
			}
			if got.Status != http.StatusOK {
				t.Errorf("status = %d, want 200", got.Status)
			}
			inv, unk, acc := c.Invalid(), c.Unknown(), c.AcceptedInvalid()
			switch tc.want {
			case valid:
				if len(inv)+len(unk) > 0 || got.Reason != "" {
					t.Errorf("want valid, got invalid %v, unknown %v", inv, unk)
				}
			case invalid:
				if len(inv) != 1 || len(unk) != 0 || len(acc) != 1 {
					t.Fatalf("want one invalid (and accepted) request, got invalid %v, unknown %v, accepted %v", inv, unk, acc)
				}
			case unknown:
				if len(unk) != 1 || len(inv) != 0 || len(acc) != 0 {
					t.Fatalf("want one unknown request, got invalid %v, unknown %v, accepted invalid %v", inv, unk, acc)
				}
			}
			if tc.want != valid && !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("reason = %q, want it to contain %q", got.Reason, tc.reason)
			}
		})
	}
}

func TestTogglTrack(t *testing.T) {
	spec := connectortest.LoadSpec(t, connectortest.TogglTrack)
	const (
		entries = "/api/v9/me/time_entries"
		create  = "/api/v9/workspaces/{workspace_id}/time_entries"
		entry   = "/api/v9/workspaces/{workspace_id}/time_entries/{time_entry_id}"
		batch   = "/api/v9/workspaces/{workspace_id}/time_entries/{time_entry_ids}"
		proj    = "/api/v9/workspaces/{workspace_id}/projects"
	)
	newEntry := `{"created_with":"sluice-test","workspace_id":1,"start":"2024-05-04T09:00:00Z","duration":3600,"description":"docs","tags":["a"]}`
	runVerdicts(t, spec, []verdictCase{
		{name: "since", call: call{method: "GET", path: "/api/v9/me/time_entries?since=1700000000"}, want: valid, route: entries},
		{name: "since not an integer", call: call{method: "GET", path: "/api/v9/me/time_entries?since=abc"}, want: invalid, route: entries, reason: `parameter "since" in query`},
		{name: "dates and meta", call: call{method: "GET", path: "/api/v9/me/time_entries?start_date=2024-05-01&end_date=2024-05-08&meta=true"}, want: valid, route: entries},
		{name: "meta not a boolean", call: call{method: "GET", path: "/api/v9/me/time_entries?meta=sure"}, want: invalid, route: entries, reason: `parameter "meta"`},
		{name: "no credentials", call: call{method: "GET", path: "/api/v9/me/time_entries", auth: "-"}, want: invalid, route: entries, reason: "no Authorization header"},
		{name: "bearer instead of basic", call: call{method: "GET", path: "/api/v9/me/time_entries", auth: "Bearer abc"}, want: invalid, route: entries, reason: `scheme is "Bearer", not Basic`},
		{name: "basic not base64", call: call{method: "GET", path: "/api/v9/me/time_entries", auth: "Basic %%%"}, want: invalid, route: entries, reason: "not base64"},
		{name: "basic without password", call: call{method: "GET", path: "/api/v9/me/time_entries", auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("token"))}, want: invalid, route: entries, reason: "not user:password"},
		{name: "running entry", call: call{method: "GET", path: "/api/v9/me/time_entries/current"}, want: valid, route: "/api/v9/me/time_entries/current"},
		{name: "create", call: call{method: "POST", path: "/api/v9/workspaces/1/time_entries", body: newEntry}, want: valid, route: create},
		{name: "create with duration as string", call: call{method: "POST", path: "/api/v9/workspaces/1/time_entries", body: strings.Replace(newEntry, `3600`, `"3600"`, 1)}, want: invalid, route: create, reason: `"/duration": value must be an integer`},
		{name: "create with tags as string", call: call{method: "POST", path: "/api/v9/workspaces/1/time_entries", body: strings.Replace(newEntry, `["a"]`, `"a"`, 1)}, want: invalid, route: create, reason: `"/tags": value must be an array`},
		{name: "create without created_with", call: call{method: "POST", path: "/api/v9/workspaces/1/time_entries", body: `{"workspace_id":1,"start":"2024-05-04T09:00:00Z","duration":60}`}, want: invalid, route: create, reason: `property "created_with" is missing`},
		{name: "create without body", call: call{method: "POST", path: "/api/v9/workspaces/1/time_entries"}, want: invalid, route: create, reason: "value is required but missing"},
		{name: "create without content type", call: call{method: "POST", path: "/api/v9/workspaces/1/time_entries", body: newEntry, contentType: "-"}, want: invalid, route: create, reason: `unsupported content type ""`},
		{name: "create with malformed JSON", call: call{method: "POST", path: "/api/v9/workspaces/1/time_entries", body: `{"created_with":`}, want: invalid, route: create, reason: "failed to decode request body"},
		{name: "workspace id not numeric", call: call{method: "POST", path: "/api/v9/workspaces/abc/time_entries", body: newEntry}, want: invalid, route: create, reason: `parameter "workspace_id" in path`},
		{name: "update needs no created_with", call: call{method: "PUT", path: "/api/v9/workspaces/1/time_entries/2", body: `{"description":"renamed"}`}, want: valid, route: entry},
		{name: "bulk patch beside its twin template", call: call{method: "PATCH", path: "/api/v9/workspaces/1/time_entries/2,3", body: `[{"op":"replace","path":"/billable","value":true}]`}, want: valid, route: batch},
		{name: "delete", call: call{method: "DELETE", path: "/api/v9/workspaces/1/time_entries/2"}, want: valid, route: entry},
		{name: "projects without the falsely required params", call: call{method: "GET", path: "/api/v9/workspaces/1/projects"}, want: valid, route: proj},
		{name: "projects active=both", call: call{method: "GET", path: "/api/v9/workspaces/1/projects?active=both&per_page=200"}, want: valid, route: proj},
		{name: "projects active=false", call: call{method: "GET", path: "/api/v9/workspaces/1/projects?active=false"}, want: valid, route: proj},
		{name: "projects active=maybe", call: call{method: "GET", path: "/api/v9/workspaces/1/projects?active=maybe"}, want: invalid, route: proj, reason: `parameter "active"`},
		{name: "projects page not an integer", call: call{method: "GET", path: "/api/v9/workspaces/1/projects?page=first"}, want: invalid, route: proj, reason: `parameter "page"`},
		{name: "quota", call: call{method: "GET", path: "/api/v9/me/quota"}, want: valid, route: "/api/v9/me/quota"},
		{name: "quota without credentials", call: call{method: "GET", path: "/api/v9/me/quota", auth: "-"}, want: invalid, route: "/api/v9/me/quota", reason: "no Authorization header"},
		{name: "status needs no credentials", call: call{method: "GET", path: "/api/v9/status", auth: "-"}, want: valid, route: "/api/v9/status"},
		{name: "method the path lacks", call: call{method: "DELETE", path: "/api/v9/me/time_entries"}, want: unknown, reason: "method DELETE not allowed here; the spec has GET"},
		{name: "unknown path", call: call{method: "GET", path: "/api/v9/me/timers"}, want: unknown, reason: "matches this path"},
		{name: "path without base path", call: call{method: "GET", path: "/me/time_entries"}, want: unknown, reason: "matches this path"},
		{name: "Reports not loaded", call: call{method: "POST", path: "/reports/api/v3/workspace/1/search/time_entries", body: `{}`}, want: unknown, reason: "no operation in " + connectortest.TogglTrack},
	})
}

func TestTogglReports(t *testing.T) {
	// One checker for both Toggl documents, as for a simulator serving both APIs.
	spec := connectortest.LoadSpec(t, connectortest.TogglTrack, connectortest.TogglReports)
	const search = "/reports/api/v3/workspace/{workspace_id}/search/time_entries"
	post := func(body string) call {
		return call{method: "POST", path: "/reports/api/v3/workspace/1/search/time_entries", body: body}
	}
	runVerdicts(t, spec, []verdictCase{
		{name: "search", call: post(`{"start_date":"2024-01-01","end_date":"2024-01-31","page_size":50,"order_by":"date"}`), want: valid, route: search},
		{name: "next page", call: post(`{"start_date":"2024-01-01","end_date":"2024-01-31","first_id":123,"first_row_number":51}`), want: valid, route: search},
		{name: "[null] filters", call: post(`{"start_date":"2024-01-01","project_ids":[null],"tag_ids":[null,7],"client_ids":[null],"task_ids":[null]}`), want: valid, route: search},
		{name: "no body", call: post(""), want: invalid, route: search, reason: "request body has an error: value is required but missing"},
		{name: "page_size as string", call: post(`{"start_date":"2024-01-01","page_size":"50"}`), want: invalid, route: search, reason: `"/page_size": value must be an integer`},
		{name: "project ids as strings", call: post(`{"project_ids":["5"]}`), want: invalid, route: search, reason: `"/project_ids/0": value must be an integer`},
		{name: "[null] where not documented", call: post(`{"user_ids":[null]}`), want: invalid, route: search, reason: `"/user_ids/0": Value is not nullable`},
		{name: "body not an object", call: post(`[]`), want: invalid, route: search, reason: "value must be an object"},
		{name: "no credentials", call: call{method: "POST", path: "/reports/api/v3/workspace/1/search/time_entries", body: `{"start_date":"2024-01-01"}`, auth: "-"}, want: invalid, route: search, reason: "no Authorization header"},
		{name: "workspace id not numeric", call: call{method: "POST", path: "/reports/api/v3/workspace/x/search/time_entries", body: `{}`}, want: invalid, route: search, reason: `parameter "workspace_id" in path`},
		{name: "Track through the same checker", call: call{method: "GET", path: "/api/v9/me"}, want: valid, route: "/api/v9/me"},
		{name: "removed shared-report operation", call: call{method: "POST", path: "/reports/api/v3/shared/abc", body: `{}`}, want: unknown, reason: "matches this path"},
	})
}

func TestJira(t *testing.T) {
	spec := connectortest.LoadSpec(t, connectortest.Jira)
	const (
		worklogs = "/rest/api/3/issue/{issueIdOrKey}/worklog"
		worklog  = "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}"
		property = "/rest/api/3/issue/{issueIdOrKey}/worklog/{worklogId}/properties/{propertyKey}"
	)
	add := func(body string) call {
		return call{method: "POST", path: "/rest/api/3/issue/ABC-1/worklog?notifyUsers=false&adjustEstimate=leave", body: body}
	}
	adf := `{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"Toggl #123"}]}]}`
	runVerdicts(t, spec, []verdictCase{
		{name: "add", call: add(`{"started":"2021-01-17T12:34:00.000+0000","timeSpentSeconds":5400}`), want: valid, route: worklogs},
		{name: "add with comment and property", call: add(`{"started":"2026-05-04T09:00:00.000+0200","timeSpentSeconds":60,"comment":` + adf + `,"properties":[{"key":"sluice","value":{"toggl_id":123}}]}`), want: valid, route: worklogs},
		{name: "add with timeSpent", call: add(`{"started":"2021-01-17T12:34:00.000-0500","timeSpent":"1h 30m"}`), want: valid, route: worklogs},
		{name: "timeSpentSeconds as string", call: add(`{"started":"2021-01-17T12:34:00.000+0000","timeSpentSeconds":"x"}`), want: invalid, route: worklogs, reason: `"/timeSpentSeconds": value must be an integer`},
		{name: "started in RFC 3339 with Z", call: add(`{"started":"2021-01-17T12:34:00Z","timeSpentSeconds":60}`), want: invalid, route: worklogs, reason: `"/started": string doesn't match the format "jira-date-time"`},
		{name: "started with colon in offset", call: add(`{"started":"2021-01-17T12:34:00.000+00:00","timeSpentSeconds":60}`), want: invalid, route: worklogs, reason: "yyyy-MM-dd'T'HH:mm:ss.SSSZ"},
		{name: "started without milliseconds", call: add(`{"started":"2021-01-17T12:34:00+0000","timeSpentSeconds":60}`), want: invalid, route: worklogs, reason: "yyyy-MM-dd'T'HH:mm:ss.SSSZ"},
		{name: "started on February 30", call: add(`{"started":"2021-02-30T12:34:00.000+0000","timeSpentSeconds":60}`), want: invalid, route: worklogs, reason: "not a valid time"},
		{name: "started as number", call: add(`{"started":1610886840000,"timeSpentSeconds":60}`), want: invalid, route: worklogs, reason: `"/started": value must be a string`},
		{name: "add without started", call: add(`{"timeSpentSeconds":60}`), want: invalid, route: worklogs, reason: `property "started" is missing`},
		{name: "add without time spent", call: add(`{"started":"2021-01-17T12:34:00.000+0000"}`), want: invalid, route: worklogs, reason: `property "timeSpent" is missing Or Error at "/timeSpentSeconds": property "timeSpentSeconds" is missing`},
		{name: "add with both time spent fields", call: add(`{"started":"2021-01-17T12:34:00.000+0000","timeSpent":"1m","timeSpentSeconds":60}`), want: invalid, route: worklogs, reason: "input matches more than one oneOf schemas"},
		{name: "comment as plain string", call: add(`{"started":"2021-01-17T12:34:00.000+0000","timeSpentSeconds":60,"comment":"plain"}`), want: invalid, route: worklogs, reason: `"/comment": value must be an object`},
		{name: "comment not a doc", call: add(`{"started":"2021-01-17T12:34:00.000+0000","timeSpentSeconds":60,"comment":{"type":"paragraph","version":1,"content":[]}}`), want: invalid, route: worklogs, reason: `"/comment/type": value is not one of the allowed values`},
		{name: "read-only field", call: add(`{"started":"2021-01-17T12:34:00.000+0000","timeSpentSeconds":60,"id":"10000"}`), want: invalid, route: worklogs, reason: "readOnly property \"id\" in request"},
		{name: "adjustEstimate not in enum", call: call{method: "POST", path: "/rest/api/3/issue/ABC-1/worklog?adjustEstimate=sometimes", body: `{"started":"2021-01-17T12:34:00.000+0000","timeSpentSeconds":60}`}, want: invalid, route: worklogs, reason: `parameter "adjustEstimate" in query`},
		{name: "notifyUsers not a boolean", call: call{method: "POST", path: "/rest/api/3/issue/ABC-1/worklog?notifyUsers=no", body: `{"started":"2021-01-17T12:34:00.000+0000","timeSpentSeconds":60}`}, want: invalid, route: worklogs, reason: `parameter "notifyUsers" in query`},
		{name: "no content type", call: call{method: "POST", path: "/rest/api/3/issue/ABC-1/worklog", body: `{"started":"2021-01-17T12:34:00.000+0000","timeSpentSeconds":60}`, contentType: "-"}, want: invalid, route: worklogs, reason: "header Content-Type has unexpected value"},
		{name: "form body", call: call{method: "POST", path: "/rest/api/3/issue/ABC-1/worklog", body: "started=x", contentType: "application/x-www-form-urlencoded"}, want: invalid, route: worklogs, reason: "header Content-Type has unexpected value"},
		{name: "no credentials", call: call{method: "POST", path: "/rest/api/3/issue/ABC-1/worklog", body: `{"started":"2021-01-17T12:34:00.000+0000","timeSpentSeconds":60}`, auth: "-"}, want: invalid, route: worklogs, reason: "basicAuth: no Authorization header"},
		{name: "OAuth 2.0 bearer token", call: call{method: "GET", path: "/rest/api/3/issue/ABC-1/worklog", auth: "Bearer eyJ0"}, want: valid, route: worklogs},
		{name: "list with properties", call: call{method: "GET", path: "/rest/api/3/issue/ABC-1/worklog?expand=properties&startedAfter=1700000000000&maxResults=5000"}, want: valid, route: worklogs},
		{name: "list startedAfter as date", call: call{method: "GET", path: "/rest/api/3/issue/ABC-1/worklog?startedAfter=2024-01-01"}, want: invalid, route: worklogs, reason: `parameter "startedAfter" in query`},
		{name: "update without started", call: call{method: "PUT", path: "/rest/api/3/issue/ABC-1/worklog/10000?notifyUsers=false", body: `{"timeSpentSeconds":120}`}, want: valid, route: worklog},
		{name: "update with RFC 3339 started", call: call{method: "PUT", path: "/rest/api/3/issue/ABC-1/worklog/10000", body: `{"started":"2021-01-17T12:34:00Z"}`}, want: invalid, route: worklog, reason: `"/started"`},
		{name: "delete", call: call{method: "DELETE", path: "/rest/api/3/issue/10001/worklog/10000?notifyUsers=false&adjustEstimate=leave"}, want: valid, route: worklog},
		{name: "set property", call: call{method: "PUT", path: "/rest/api/3/issue/ABC-1/worklog/10000/properties/sluice", body: `{"toggl_id":123}`}, want: valid, route: property},
		{name: "API v2 path", call: call{method: "GET", path: "/rest/api/2/issue/ABC-1/worklog"}, want: unknown, reason: "no operation in " + connectortest.Jira},
		{name: "method the path lacks", call: call{method: "PATCH", path: "/rest/api/3/issue/ABC-1/worklog/10000"}, want: unknown, reason: "the spec has DELETE, GET, PUT"},
	})
}

// recordingSim remembers what reached it, and answers 400 to `since` values that are not
// integers when strict.
type recordingSim struct {
	strict bool

	mu          sync.Mutex
	body, query string
	header      http.Header
}

func (s *recordingSim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	s.body, s.query, s.header = string(b), r.URL.RawQuery, r.Header.Clone()
	s.mu.Unlock()
	if since := r.URL.Query().Get("since"); s.strict && strings.Trim(since, "0123456789") != "" {
		http.Error(w, "since must be an integer", http.StatusBadRequest)
		return
	}
	if r.URL.Path == "/api/v9/me/timers" {
		http.NotFound(w, r)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func TestRequestPassedOnUnchanged(t *testing.T) {
	spec := connectortest.LoadSpec(t, connectortest.Jira)
	for _, tc := range []struct {
		name, path, body string
	}{
		// No notifyUsers, adjustEstimate or expand: their defaults must not be added.
		{"valid", "/rest/api/3/issue/ABC-1/worklog", "{ \"started\" : \"2021-01-17T12:34:00.000+0000\",\n \"timeSpentSeconds\": 60 }"},
		{"invalid", "/rest/api/3/issue/ABC-1/worklog?notifyUsers=no", `{"timeSpentSeconds":"x"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := &recordingSim{}
			c := spec.Check(sim)
			if got := send(t, serve(t, c), call{method: "POST", path: tc.path, body: tc.body}); got != http.StatusCreated {
				t.Errorf("client got %d, want the handler's 201", got)
			}
			if sim.body != tc.body {
				t.Errorf("handler got body %q, want %q", sim.body, tc.body)
			}
			_, query, _ := strings.Cut(tc.path, "?")
			if sim.query != query {
				t.Errorf("handler got query %q, want %q", sim.query, query)
			}
			if sim.header.Get("Authorization") != basicAuth || sim.header.Get("Content-Type") != "application/json" {
				t.Errorf("handler got headers %v", sim.header)
			}
			if got := c.Requests(); len(got) != 1 || got[0].Status != http.StatusCreated {
				t.Errorf("recorded %v, want one request answered 201", got)
			}
		})
	}
}

func TestAcceptedInvalid(t *testing.T) {
	spec := connectortest.LoadSpec(t, connectortest.TogglTrack)
	calls := []call{
		{method: "GET", path: "/api/v9/me/time_entries?since=1700000000"},
		{method: "GET", path: "/api/v9/me/time_entries?since=abc"},
	}
	for _, tc := range []struct {
		name   string
		strict bool
		// status is what the simulator answers to the invalid request.
		status   int
		accepted int
	}{
		{"lenient simulator", false, http.StatusCreated, 1},
		{"strict simulator", true, http.StatusBadRequest, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := spec.Check(&recordingSim{strict: tc.strict})
			srv := serve(t, c)
			for _, cl := range calls {
				send(t, srv, cl)
			}
			inv := c.Invalid()
			if len(inv) != 1 || inv[0].Path != "/api/v9/me/time_entries?since=abc" || inv[0].Status != tc.status {
				t.Fatalf("Invalid() = %v, want the since=abc request answered %d", inv, tc.status)
			}
			if got := c.AcceptedInvalid(); len(got) != tc.accepted {
				t.Errorf("AcceptedInvalid() = %v, want %d", got, tc.accepted)
			}

			strict := &fakeTB{}
			c.RequireSimulatorStrict(strict)
			strict.end()
			if failed, want := len(strict.errs) == 1, tc.accepted == 1; failed != want {
				t.Errorf("RequireSimulatorStrict reported %q, want a failure: %v", strict.errs, want)
			}
			if tc.accepted == 1 && !strings.Contains(strict.errs[0], "GET /api/v9/me/time_entries?since=abc -> 201: parameter \"since\"") {
				t.Errorf("RequireSimulatorStrict reported %q, want the request listed", strict.errs[0])
			}

			// Our own client sent an invalid request, whatever the simulator answered.
			valid := &fakeTB{}
			c.RequireValid(valid)
			valid.end()
			if len(valid.errs) != 1 || !strings.Contains(valid.errs[0], "1 of 2 requests break") || !strings.Contains(valid.errs[0], "since=abc") {
				t.Errorf("RequireValid reported %q, want the since=abc request", valid.errs)
			}
		})
	}
}

func TestUnknownAndStrictness(t *testing.T) {
	spec := connectortest.LoadSpec(t, connectortest.TogglTrack)
	for _, tc := range []struct {
		name, path string
		status     int
		strictFail bool
	}{
		{"simulator refuses the unknown path", "/api/v9/me/timers", http.StatusNotFound, false},
		{"simulator serves a path the API lacks", "/api/v9/me/stopwatch", http.StatusCreated, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := spec.Check(&recordingSim{})
			send(t, serve(t, c), call{method: "GET", path: tc.path})
			if unk := c.Unknown(); len(unk) != 1 || unk[0].Status != tc.status || unk[0].Route != "" {
				t.Fatalf("Unknown() = %v, want the request answered %d", unk, tc.status)
			}
			if got := c.AcceptedInvalid(); len(got) != 0 {
				t.Errorf("AcceptedInvalid() = %v, want none: unknown requests are listed by Unknown", got)
			}
			strict := &fakeTB{}
			c.RequireSimulatorStrict(strict)
			strict.end()
			if failed := len(strict.errs) > 0; failed != tc.strictFail {
				t.Errorf("RequireSimulatorStrict failed = %v (%q), want %v", failed, strict.errs, tc.strictFail)
			}
			valid := &fakeTB{}
			c.RequireValid(valid)
			valid.end()
			if len(valid.errs) != 1 || !strings.Contains(valid.errs[0], tc.path) {
				t.Errorf("RequireValid reported %q, want the unknown request", valid.errs)
			}
		})
	}
}

func TestRequireValidPasses(t *testing.T) {
	spec := connectortest.LoadSpec(t, connectortest.TogglTrack)
	c := spec.Check(answer200)
	ftb := &fakeTB{}
	c.RequireValid(ftb)
	c.RequireSimulatorStrict(ftb)
	send(t, serve(t, c), call{method: "GET", path: "/api/v9/me/time_entries?since=1700000000"})
	ftb.end()
	if len(ftb.errs) != 0 || c.Count() != 1 {
		t.Errorf("reported %q after %d requests, want nothing after 1 valid request", ftb.errs, c.Count())
	}
}

func TestStatusWithoutWrite(t *testing.T) {
	spec := connectortest.LoadSpec(t, connectortest.TogglTrack)
	c := spec.Check(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	if got := send(t, serve(t, c), call{method: "GET", path: "/api/v9/me/time_entries?since=abc"}); got != http.StatusOK {
		t.Fatalf("client got %d", got)
	}
	if got := c.AcceptedInvalid(); len(got) != 1 || got[0].Status != http.StatusOK {
		t.Errorf("AcceptedInvalid() = %v, want the request with status 200", got)
	}
}

// TestConcurrent sends requests to Toggl Track, Reports and Jira in parallel through one checker; run it with
// -race.
func TestConcurrent(t *testing.T) {
	spec := connectortest.LoadSpec(t, connectortest.TogglTrack, connectortest.TogglReports, connectortest.Jira)
	c := spec.Check(answer200)
	srv := serve(t, c)
	const n = 24
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := call{method: "GET", path: fmt.Sprintf("/api/v9/me/time_entries?since=%d", 1700000000+i)}
			switch i % 3 {
			case 1:
				c = call{method: "POST", path: "/rest/api/3/issue/ABC-1/worklog", body: fmt.Sprintf(`{"started":"2021-01-17T12:34:00.000+0000","timeSpentSeconds":%d}`, 60+i)}
			case 2:
				c = call{method: "POST", path: "/reports/api/v3/workspace/1/search/time_entries", body: `{"page_size":"x"}`}
			}
			if _, err := trySend(t.Context(), srv, c); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if c.Count() != n || len(c.Invalid()) != n/3 || len(c.Unknown()) != 0 {
		t.Errorf("Count %d, invalid %d, unknown %d; want %d, %d, 0", c.Count(), len(c.Invalid()), len(c.Unknown()), n, n/3)
	}
}

// fakeTB stands in for a test, to see what the Require* methods and the helpers report.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatal(args ...any) {
	f.Errorf("%s", fmt.Sprint(args...))
	runtime.Goexit()
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

// end runs the cleanups, last registered first, as a test's end does.
func (f *fakeTB) end() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// fatal runs fn with f on its own goroutine, which a Fatal ends, and returns what f reported.
func (f *fakeTB) fatal(fn func()) []string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.errs
}

// BenchmarkCheck measures what the checker adds to one request (no network).
func BenchmarkCheck(b *testing.B) {
	for _, bc := range []struct {
		name, doc, method, path, body string
	}{
		{"toggl query", connectortest.TogglTrack, "GET", "/api/v9/me/time_entries?since=1700000000", ""},
		{"jira worklog", connectortest.Jira, "POST", "/rest/api/3/issue/ABC-1/worklog?notifyUsers=false",
			`{"started":"2021-01-17T12:34:00.000+0000","timeSpentSeconds":5400,"comment":{"type":"doc","version":1,"content":[]}}`},
		{"jira unknown path", connectortest.Jira, "GET", "/rest/api/3/nowhere", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := connectortest.LoadSpec(b, bc.doc).Check(answer200)
			for b.Loop() {
				req := httptest.NewRequest(bc.method, bc.path, strings.NewReader(bc.body))
				req.Header.Set("Authorization", basicAuth)
				req.Header.Set("Content-Type", "application/json")
				c.ServeHTTP(httptest.NewRecorder(), req)
			}
			if len(c.Invalid()) != 0 {
				b.Fatalf("invalid: %v", c.Invalid()[0])
			}
		})
	}
}
