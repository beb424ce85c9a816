package jirasim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const worklogsURL = "/rest/api/3/issue/SLU-1/worklog"

func TestCreateWorklogShape(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.must(http.StatusCreated, "POST", worklogsURL+"?notifyUsers=false", validBody())
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	w := decode[map[string]any](t, r.body)

	id, ok := w["id"].(string)
	if !ok {
		t.Fatalf("id %#v is not a JSON string", w["id"])
	}
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		t.Errorf("id %q is not numeric", id)
	}
	if w["issueId"] != e.issueID {
		t.Errorf("issueId %#v, want string %q", w["issueId"], e.issueID)
	}
	if want := e.srv.URL + "/rest/api/3/issue/" + e.issueID + "/worklog/" + id; w["self"] != want {
		t.Errorf("self %v, want %s", w["self"], want)
	}
	now := formatTime(e.clock.Now())
	for field, want := range map[string]any{
		"created": now, "updated": now, "started": "2026-05-04T09:00:00.000+0000",
		"timeSpent": "1h 30m", "timeSpentSeconds": float64(5400),
	} {
		if w[field] != want {
			t.Errorf("%s = %#v, want %#v", field, w[field], want)
		}
	}
	if now != "2026-05-04T10:00:00.000+0000" {
		t.Errorf("created format %q", now)
	}
	for _, field := range []string{"author", "updateAuthor"} {
		u, _ := w[field].(map[string]any)
		if u["accountId"] != e.accountID || u["displayName"] != testName || u["emailAddress"] != testEmail || u["active"] != true {
			t.Errorf("%s = %v", field, u)
		}
	}
	if !reflect.DeepEqual(w["comment"], decode[any](t, mustJSON(t, adfDoc("Toggl #123: writing docs")))) {
		t.Errorf("comment %v, want the ADF sent", w["comment"])
	}
	if _, ok := w["properties"]; ok {
		t.Error("properties present without expand=properties")
	}

	stored := e.sim.Worklogs("SLU-1")
	if len(stored) != 1 {
		t.Fatalf("%d worklogs stored, want 1", len(stored))
	}
	s := stored[0]
	if s.ID != id || s.IssueKey != "SLU-1" || s.IssueID != e.issueID || s.AuthorID != e.accountID ||
		s.TimeSpentSeconds != 5400 || s.CommentText() != "Toggl #123: writing docs" ||
		!s.Started.Equal(time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("stored %+v", s)
	}
	if all := e.sim.AllWorklogs(); len(all) != 1 || all[0].ID != id {
		t.Errorf("AllWorklogs %+v", all)
	}
	if e.sim.Worklogs("NOPE-1") != nil {
		t.Error("Worklogs of an unknown issue is not nil")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCreateByIssueIDAndOffsets(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.must(http.StatusCreated, "POST", "/rest/api/3/issue/"+e.issue2ID+"/worklog",
		with(validBody(), "started", "2026-05-04T11:30:00.250+0530"))
	w := decode[map[string]any](t, r.body)
	if w["started"] != "2026-05-04T11:30:00.250+0530" {
		t.Errorf("started %v: want the offset echoed", w["started"])
	}
	stored := e.sim.Worklogs("SLU-2")
	if len(stored) != 1 || !stored[0].Started.Equal(time.Date(2026, 5, 4, 6, 0, 0, 250e6, time.UTC)) {
		t.Errorf("stored %+v", stored)
	}
	if len(e.sim.Worklogs("SLU-1")) != 0 {
		t.Error("worklog landed on the wrong issue")
	}
}

func TestGetUpdateDeleteWorklog(t *testing.T) {
	e := newEnv(t, Options{})
	other := e.sim.AddAccount(otherEmail, otherToken, "Grace Hopper")
	w := e.create(validBody())
	id := w["id"].(string)
	one := worklogsURL + "/" + id

	got := decode[map[string]any](t, e.must(http.StatusOK, "GET", one, nil).body)
	if got["id"] != id || got["timeSpentSeconds"] != float64(5400) {
		t.Errorf("GET = %v", got)
	}
	e.must(http.StatusNotFound, "GET", "/rest/api/3/issue/SLU-2/worklog/"+id, nil)
	e.must(http.StatusNotFound, "GET", worklogsURL+"/99999", nil)
	e.must(http.StatusNotFound, "GET", worklogsURL+"/abc", nil)

	e.clock.Advance(90 * time.Second)
	e.email, e.token = otherEmail, otherToken
	up := decode[map[string]any](t, e.must(http.StatusOK, "PUT", one, map[string]any{
		"timeSpent": "2h", "comment": adfDoc("edited"), "started": "2026-05-04T08:00:00.000+0000",
	}).body)
	e.email, e.token = testEmail, testToken
	if up["timeSpentSeconds"] != float64(7200) || up["timeSpent"] != "2h" || up["started"] != "2026-05-04T08:00:00.000+0000" {
		t.Errorf("PUT = %v", up)
	}
	if up["updated"] != "2026-05-04T10:01:30.000+0000" || up["created"] != "2026-05-04T10:00:00.000+0000" {
		t.Errorf("created/updated = %v/%v", up["created"], up["updated"])
	}
	if up["updateAuthor"].(map[string]any)["accountId"] != other || up["author"].(map[string]any)["accountId"] != e.accountID {
		t.Errorf("author/updateAuthor = %v / %v", up["author"], up["updateAuthor"])
	}
	s := e.sim.Worklogs("SLU-1")[0]
	if s.CommentText() != "edited" || s.UpdateAuthorID != other || s.TimeSpentSeconds != 7200 {
		t.Errorf("stored after PUT %+v", s)
	}

	t.Run("empty update keeps the fields", func(t *testing.T) {
		e.must(http.StatusOK, "PUT", one, map[string]any{})
		if s := e.sim.Worklogs("SLU-1")[0]; s.TimeSpentSeconds != 7200 || s.CommentText() != "edited" {
			t.Errorf("stored %+v", s)
		}
	})

	e.must(http.StatusNotFound, "PUT", "/rest/api/3/issue/SLU-2/worklog/"+id, map[string]any{"timeSpent": "1h"})
	e.must(http.StatusNotFound, "DELETE", "/rest/api/3/issue/SLU-2/worklog/"+id, nil)
	r := e.must(http.StatusNoContent, "DELETE", one, nil)
	if len(r.body) != 0 {
		t.Errorf("204 with body %s", r.body)
	}
	e.must(http.StatusNotFound, "GET", one, nil)
	e.must(http.StatusNotFound, "DELETE", one, nil)
	if n := len(e.sim.AllWorklogs()); n != 0 {
		t.Errorf("%d worklogs after delete", n)
	}
}

func TestCreateValidation(t *testing.T) {
	long := strings.Repeat("k", 256)
	bigValue := `"` + strings.Repeat("v", maxPropertyValueBytes-1) + `"` // 32769 bytes
	tests := []struct {
		name     string
		query    string
		body     any
		want     int
		wantKey  string // key expected in errors, "" for an errorMessages-only 400
		wantText string // expected message under wantKey (or in errorMessages), when checked
		wantSecs int64  // stored seconds when created
	}{
		{name: "valid", body: validBody(), want: 201, wantSecs: 5400},
		{name: "unknown fields accepted", body: with(validBody(), "sluiceHint", "x", "id", "999"), want: 201, wantSecs: 5400},
		{name: "no comment", body: with(validBody(), "comment", nil), want: 201, wantSecs: 5400},
		{name: "null comment is absent", body: `{"started":"2026-05-04T09:00:00.000+0000","timeSpentSeconds":60,"comment":null}`, want: 201, wantSecs: 60},
		{name: "timeSpent hours and minutes", body: with(validBody(), "timeSpentSeconds", nil, "timeSpent", "1h 30m"), want: 201, wantSecs: 5400},
		{name: "timeSpent days", body: with(validBody(), "timeSpentSeconds", nil, "timeSpent", "2d"), want: 201, wantSecs: 2 * 8 * 3600},
		{name: "timeSpent week", body: with(validBody(), "timeSpentSeconds", nil, "timeSpent", "1w"), want: 201, wantSecs: 5 * 8 * 3600},
		{name: "timeSpent bare minutes", body: with(validBody(), "timeSpentSeconds", nil, "timeSpent", "90"), want: 201, wantSecs: 5400},
		{name: "timeSpent decimal", body: with(validBody(), "timeSpentSeconds", nil, "timeSpent", "1.5h"), want: 201, wantSecs: 5400},
		{name: "visibility group", body: with(validBody(), "visibility", map[string]any{"type": "group", "identifier": "g1"}), want: 201, wantSecs: 5400},
		{name: "notifyUsers false", query: "notifyUsers=false", body: validBody(), want: 201, wantSecs: 5400},
		{name: "adjustEstimate leave", query: "adjustEstimate=leave", body: validBody(), want: 201, wantSecs: 5400},
		{name: "adjustEstimate upper case", query: "adjustEstimate=AUTO", body: validBody(), want: 201, wantSecs: 5400},
		{name: "adjustEstimate new", query: "adjustEstimate=new&newEstimate=2d", body: validBody(), want: 201, wantSecs: 5400},
		{name: "adjustEstimate manual", query: "adjustEstimate=manual&reduceBy=30m", body: validBody(), want: 201, wantSecs: 5400},

		{name: "started missing", body: with(validBody(), "started", nil), want: 400, wantKey: "started", wantText: startedMessage},
		{name: "started without millis", body: with(validBody(), "started", "2026-05-04T09:00:00+0000"), want: 400, wantKey: "started", wantText: startedMessage},
		{name: "started with colon offset", body: with(validBody(), "started", "2026-05-04T09:00:00.000+00:00"), want: 400, wantKey: "started", wantText: startedMessage},
		{name: "started with Z", body: with(validBody(), "started", "2026-05-04T09:00:00.000Z"), want: 400, wantKey: "started", wantText: startedMessage},
		{name: "started without offset", body: with(validBody(), "started", "2026-05-04T09:00:00.000"), want: 400, wantKey: "started", wantText: startedMessage},
		{name: "started date only", body: with(validBody(), "started", "2026-05-04"), want: 400, wantKey: "started", wantText: startedMessage},
		{name: "started month 13", body: with(validBody(), "started", "2026-13-04T09:00:00.000+0000"), want: 400, wantKey: "started", wantText: startedMessage},
		{name: "started a number", body: with(validBody(), "started", 1777885200000), want: 400, wantKey: "started", wantText: startedMessage},
		{name: "both time fields", body: with(validBody(), "timeSpent", "1h"), want: 400, wantKey: "timeLogged", wantText: msgTimeBoth},
		{name: "no time field", body: with(validBody(), "timeSpentSeconds", nil), want: 400, wantKey: "timeLogged", wantText: msgTimeRequired},
		{name: "seconds zero", body: with(validBody(), "timeSpentSeconds", 0), want: 400, wantKey: "timeLogged", wantText: msgTimeRequired},
		{name: "seconds negative", body: with(validBody(), "timeSpentSeconds", -60), want: 400, wantKey: "timeLogged", wantText: msgTimeRequired},
		{name: "seconds fractional", body: with(validBody(), "timeSpentSeconds", 90.5), want: 400, wantKey: "timeLogged", wantText: msgTimeInvalid},
		{name: "seconds as string", body: with(validBody(), "timeSpentSeconds", "5400"), want: 400, wantKey: "timeLogged", wantText: msgTimeInvalid},
		{name: "timeSpent garbage", body: with(validBody(), "timeSpentSeconds", nil, "timeSpent", "lots"), want: 400, wantKey: "timeLogged", wantText: msgTimeInvalid},
		{name: "timeSpent repeated unit", body: with(validBody(), "timeSpentSeconds", nil, "timeSpent", "1h 2h"), want: 400, wantKey: "timeLogged", wantText: msgTimeInvalid},
		{name: "timeSpent zero", body: with(validBody(), "timeSpentSeconds", nil, "timeSpent", "0m"), want: 400, wantKey: "timeLogged", wantText: msgTimeRequired},
		{name: "timeSpent a number", body: with(validBody(), "timeSpentSeconds", nil, "timeSpent", 60), want: 400, wantKey: "timeLogged", wantText: msgTimeInvalid},
		{name: "comment plain string", body: with(validBody(), "comment", "writing docs"), want: 400, wantKey: "comment", wantText: msgADF},
		{name: "comment not a doc", body: with(validBody(), "comment", map[string]any{"type": "paragraph", "version": 1, "content": []any{}}), want: 400, wantKey: "comment", wantText: msgADF},
		{name: "comment version 2", body: with(validBody(), "comment", map[string]any{"type": "doc", "version": 2, "content": []any{}}), want: 400, wantKey: "comment", wantText: msgADF},
		{name: "comment without content", body: with(validBody(), "comment", map[string]any{"type": "doc", "version": 1}), want: 400, wantKey: "comment", wantText: msgADF},
		{name: "comment content not array", body: with(validBody(), "comment", map[string]any{"type": "doc", "version": 1, "content": "x"}), want: 400, wantKey: "comment", wantText: msgADF},
		{name: "comment empty text node", body: with(validBody(), "comment", adfDoc("")), want: 400, wantKey: "comment", wantText: msgADF},
		{name: "comment node without type", body: with(validBody(), "comment", map[string]any{"type": "doc", "version": 1, "content": []any{map[string]any{"text": "x"}}}), want: 400, wantKey: "comment", wantText: msgADF},
		{name: "visibility bad type", body: with(validBody(), "visibility", map[string]any{"type": "everyone"}), want: 400, wantKey: "visibility"},
		{name: "visibility a string", body: with(validBody(), "visibility", "group"), want: 400, wantKey: "visibility"},
		{name: "properties not an array", body: with(validBody(), "properties", map[string]any{"key": "a", "value": 1}), want: 400, wantKey: "properties", wantText: msgPropertyList},
		{name: "property without key", body: with(validBody(), "properties", []any{map[string]any{"value": 1}}), want: 400, wantKey: "properties", wantText: msgPropKeyEmpty},
		{name: "property empty key", body: with(validBody(), "properties", []any{map[string]any{"key": "", "value": 1}}), want: 400, wantKey: "properties", wantText: msgPropKeyEmpty},
		{name: "property key too long", body: with(validBody(), "properties", []any{map[string]any{"key": long, "value": 1}}), want: 400, wantKey: "properties", wantText: msgPropKeyLong},
		{name: "property without value", body: with(validBody(), "properties", []any{map[string]any{"key": "a"}}), want: 400, wantKey: "properties", wantText: msgPropValue},
		{name: "property null value", body: with(validBody(), "properties", []any{map[string]any{"key": "a", "value": nil}}), want: 400, wantKey: "properties", wantText: msgPropValue},
		{name: "property value too big", body: with(validBody(), "properties", []any{map[string]any{"key": "a", "value": json.RawMessage(bigValue)}}), want: 400, wantKey: "properties", wantText: msgPropValueBig},
		{name: "property extra field", body: with(validBody(), "properties", []any{map[string]any{"key": "a", "value": 1, "x": 2}}), want: 400, wantKey: "properties"},
		{name: "notifyUsers not boolean", query: "notifyUsers=maybe", body: validBody(), want: 400, wantKey: "notifyUsers"},
		{name: "overrideEditableFlag not boolean", query: "overrideEditableFlag=1", body: validBody(), want: 400, wantKey: "overrideEditableFlag"},
		{name: "adjustEstimate unknown", query: "adjustEstimate=bogus", body: validBody(), want: 400, wantKey: "adjustEstimate"},
		{name: "new without newEstimate", query: "adjustEstimate=new", body: validBody(), want: 400, wantKey: "newEstimate", wantText: msgNewEstimate},
		{name: "new with bad newEstimate", query: "adjustEstimate=new&newEstimate=soon", body: validBody(), want: 400, wantKey: "newEstimate", wantText: msgNewEstimate},
		{name: "manual without reduceBy", query: "adjustEstimate=manual", body: validBody(), want: 400, wantKey: "reduceBy", wantText: msgReduceBy},
		{name: "manual with increaseBy only", query: "adjustEstimate=manual&increaseBy=1h", body: validBody(), want: 400, wantKey: "reduceBy", wantText: msgReduceBy},
		{name: "malformed JSON", body: `{"started": `, want: 400},
		{name: "trailing garbage", body: `{"started":"2026-05-04T09:00:00.000+0000","timeSpentSeconds":60} x`, want: 400},
		{name: "array body", body: `[]`, want: 400},
		{name: "empty body", body: ``, want: 400, wantText: msgNullWorklog},
		{name: "null body", body: `null`, want: 400, wantText: msgNullWorklog},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			path := worklogsURL
			if tc.query != "" {
				path += "?" + tc.query
			}
			r := e.do("POST", path, tc.body)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.want, r.body)
			}
			stored := e.sim.Worklogs("SLU-1")
			if tc.want == http.StatusCreated {
				if len(stored) != 1 || stored[0].TimeSpentSeconds != tc.wantSecs {
					t.Errorf("stored %+v, want one worklog of %d s", stored, tc.wantSecs)
				}
				return
			}
			if len(stored) != 0 {
				t.Errorf("%d worklogs stored after a %d", len(stored), r.status)
			}
			ec := errorsOf(t, r)
			if ec.Status != tc.want {
				t.Errorf("body status %d, want %d", ec.Status, tc.want)
			}
			if tc.wantKey == "" {
				if len(ec.ErrorMessages) == 0 || (tc.wantText != "" && ec.ErrorMessages[0] != tc.wantText) {
					t.Errorf("errorMessages %q, want one (%q)", ec.ErrorMessages, tc.wantText)
				}
				return
			}
			msg, ok := ec.Errors[tc.wantKey]
			if !ok {
				t.Fatalf("errors has no %q: %s", tc.wantKey, r.body)
			}
			if tc.wantText != "" && msg != tc.wantText {
				t.Errorf("errors.%s = %q, want %q", tc.wantKey, msg, tc.wantText)
			}
		})
	}
}

func TestCreateCollectsAllFieldErrors(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.must(http.StatusBadRequest, "POST", worklogsURL+"?adjustEstimate=new",
		map[string]any{"started": "yesterday", "comment": "plain"})
	ec := errorsOf(t, r)
	for _, k := range []string{"started", "timeLogged", "comment", "newEstimate"} {
		if _, ok := ec.Errors[k]; !ok {
			t.Errorf("errors lacks %q: %s", k, r.body)
		}
	}
}

func TestMinSeconds(t *testing.T) {
	tests := []struct {
		mode     string
		body     map[string]any
		want     int
		wantSecs int64
	}{
		{"", with(validBody(), "timeSpentSeconds", 59), 400, 0},
		{MinReject, with(validBody(), "timeSpentSeconds", 59), 400, 0},
		{MinReject, with(validBody(), "timeSpentSeconds", 60), 201, 60},
		{MinReject, with(validBody(), "timeSpentSeconds", 61), 201, 61},
		{MinReject, with(validBody(), "timeSpentSeconds", nil, "timeSpent", "0.5m"), 400, 0},
		{MinAccept, with(validBody(), "timeSpentSeconds", 30), 201, 30},
		{MinAccept, with(validBody(), "timeSpentSeconds", 1), 201, 1},
		{MinAccept, with(validBody(), "timeSpentSeconds", 0), 400, 0},
		{MinRound, with(validBody(), "timeSpentSeconds", 30), 201, 60},
		{MinRound, with(validBody(), "timeSpentSeconds", nil, "timeSpent", "0.5m"), 201, 60},
		{MinRound, with(validBody(), "timeSpentSeconds", 90), 201, 90},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%v/%v", tc.mode, tc.body["timeSpentSeconds"], tc.body["timeSpent"]), func(t *testing.T) {
			e := newEnv(t, Options{MinSeconds: tc.mode})
			r := e.do("POST", worklogsURL, tc.body)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.want, r.body)
			}
			if tc.want == http.StatusBadRequest {
				if _, ok := errorsOf(t, r).Errors["timeLogged"]; !ok {
					t.Errorf("no errors.timeLogged in %s", r.body)
				}
				return
			}
			w := decode[map[string]any](t, r.body)
			if w["timeSpentSeconds"] != float64(tc.wantSecs) {
				t.Errorf("timeSpentSeconds %v, want %d", w["timeSpentSeconds"], tc.wantSecs)
			}
		})
	}

	t.Run("update follows the rule too", func(t *testing.T) {
		e := newEnv(t, Options{})
		id := e.create(validBody())["id"].(string)
		e.must(http.StatusBadRequest, "PUT", worklogsURL+"/"+id, map[string]any{"timeSpentSeconds": 59})
		if s := e.sim.Worklogs("SLU-1")[0].TimeSpentSeconds; s != 5400 {
			t.Errorf("seconds %d after a refused update, want 5400", s)
		}
	})
}

func TestUpdateValidation(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		body    any
		want    int
		wantKey string
	}{
		{name: "started bad", body: map[string]any{"started": "2026-05-04 09:00"}, want: 400, wantKey: "started"},
		{name: "both time fields", body: map[string]any{"timeSpent": "1h", "timeSpentSeconds": 3600}, want: 400, wantKey: "timeLogged"},
		{name: "comment plain", body: map[string]any{"comment": "x"}, want: 400, wantKey: "comment"},
		{name: "manual not allowed", query: "adjustEstimate=manual&reduceBy=1h", body: map[string]any{}, want: 400, wantKey: "adjustEstimate"},
		{name: "new without newEstimate", query: "adjustEstimate=new", body: map[string]any{}, want: 400, wantKey: "newEstimate"},
		{name: "notifyUsers bad", query: "notifyUsers=yes", body: map[string]any{}, want: 400, wantKey: "notifyUsers"},
		{name: "malformed", body: `{`, want: 400},
		{name: "only started", body: map[string]any{"started": "2026-05-01T09:00:00.000+0000"}, want: 200},
		{name: "only comment", body: map[string]any{"comment": adfDoc("new text")}, want: 200},
		{name: "new estimate", query: "adjustEstimate=new&newEstimate=1h", body: map[string]any{}, want: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			id := e.create(validBody())["id"].(string)
			before := e.sim.Worklogs("SLU-1")[0]
			e.clock.Advance(time.Minute)
			path := worklogsURL + "/" + id
			if tc.query != "" {
				path += "?" + tc.query
			}
			r := e.do("PUT", path, tc.body)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.want, r.body)
			}
			after := e.sim.Worklogs("SLU-1")[0]
			if tc.want == http.StatusOK {
				if !after.Updated.After(before.Updated) {
					t.Errorf("updated %v did not move past %v", after.Updated, before.Updated)
				}
				return
			}
			if !reflect.DeepEqual(before, after) {
				t.Errorf("worklog changed by a refused update:\nbefore %+v\nafter  %+v", before, after)
			}
			if tc.wantKey != "" {
				if _, ok := errorsOf(t, r).Errors[tc.wantKey]; !ok {
					t.Errorf("errors lacks %q: %s", tc.wantKey, r.body)
				}
			}
		})
	}
}

func TestDeleteValidation(t *testing.T) {
	tests := []struct {
		name, query string
		want        int
		wantKey     string
	}{
		{"manual without increaseBy", "adjustEstimate=manual", 400, "increaseBy"},
		{"manual with reduceBy only", "adjustEstimate=manual&reduceBy=1h", 400, "increaseBy"},
		{"new without newEstimate", "adjustEstimate=new", 400, "newEstimate"},
		{"unknown mode", "adjustEstimate=sideways", 400, "adjustEstimate"},
		{"notifyUsers bad", "notifyUsers=1", 400, "notifyUsers"},
		{"manual with increaseBy", "adjustEstimate=manual&increaseBy=1h", 204, ""},
		{"leave", "adjustEstimate=leave", 204, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			id := e.create(validBody())["id"].(string)
			r := e.do("DELETE", worklogsURL+"/"+id+"?"+tc.query, nil)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.want, r.body)
			}
			n := len(e.sim.Worklogs("SLU-1"))
			if tc.want == http.StatusNoContent {
				if n != 0 {
					t.Errorf("%d worklogs left after delete", n)
				}
				return
			}
			if n != 1 {
				t.Errorf("%d worklogs left after a refused delete, want 1", n)
			}
			if _, ok := errorsOf(t, r).Errors[tc.wantKey]; !ok {
				t.Errorf("errors lacks %q: %s", tc.wantKey, r.body)
			}
		})
	}
}

func TestAdjustEstimate(t *testing.T) {
	e := newEnv(t, Options{})
	if _, ok := e.sim.RemainingEstimate("SLU-1"); ok {
		t.Fatal("new issue has a remaining estimate")
	}
	e.create(validBody()) // auto without an estimate keeps none
	if _, ok := e.sim.RemainingEstimate("SLU-1"); ok {
		t.Fatal("auto gave an issue without an estimate one")
	}
	if !e.sim.SetRemainingEstimate("SLU-1", 8*time.Hour) || e.sim.SetRemainingEstimate("NOPE-1", time.Hour) {
		t.Fatal("SetRemainingEstimate reports the wrong issue existence")
	}
	hour := map[string]any{"started": "2026-05-04T09:00:00.000+0000", "timeSpent": "1h"}
	var id string
	steps := []struct {
		name         string
		method, path string
		body         any
		want         time.Duration
	}{
		{"add auto", "POST", worklogsURL, hour, 7 * time.Hour},
		{"add default is auto", "POST", worklogsURL + "?notifyUsers=false", hour, 6 * time.Hour},
		{"add leave", "POST", worklogsURL + "?adjustEstimate=leave", hour, 6 * time.Hour},
		{"add manual", "POST", worklogsURL + "?adjustEstimate=manual&reduceBy=30m", hour, 5*time.Hour + 30*time.Minute},
		{"add new", "POST", worklogsURL + "?adjustEstimate=new&newEstimate=3h", hour, 3 * time.Hour},
		{"update auto grows", "PUT", "{id}", map[string]any{"timeSpent": "2h"}, 2 * time.Hour},
		{"update auto shrinks", "PUT", "{id}", map[string]any{"timeSpent": "30m"}, 3*time.Hour + 30*time.Minute},
		{"update leave", "PUT", "{id}?adjustEstimate=leave", map[string]any{"timeSpent": "1h"}, 3*time.Hour + 30*time.Minute},
		{"update new", "PUT", "{id}?adjustEstimate=new&newEstimate=1d", map[string]any{}, 8 * time.Hour},
		{"add auto floors at zero", "POST", worklogsURL, map[string]any{"started": "2026-05-04T09:00:00.000+0000", "timeSpent": "2d"}, 0},
		{"delete auto gives time back", "DELETE", "{id}", nil, time.Hour},
		{"delete manual", "DELETE", "{last}?adjustEstimate=manual&increaseBy=2h", nil, 3 * time.Hour},
		{"delete new", "DELETE", "{last}?adjustEstimate=new&newEstimate=45m", nil, 45 * time.Minute},
		{"delete leave", "DELETE", "{last}?adjustEstimate=leave", nil, 45 * time.Minute},
	}
	for _, st := range steps {
		path := st.path
		if strings.HasPrefix(path, "{id}") {
			path = worklogsURL + "/" + id + strings.TrimPrefix(path, "{id}")
		}
		if strings.HasPrefix(path, "{last}") {
			ws := e.sim.Worklogs("SLU-1")
			path = worklogsURL + "/" + ws[len(ws)-1].ID + strings.TrimPrefix(path, "{last}")
		}
		r := e.do(st.method, path, st.body)
		if r.status/100 != 2 {
			t.Fatalf("%s: status %d; body %s", st.name, r.status, r.body)
		}
		if st.name == "add auto" {
			id = decode[map[string]any](t, r.body)["id"].(string)
		}
		got, ok := e.sim.RemainingEstimate("SLU-1")
		if !ok || got != st.want {
			t.Fatalf("%s: remaining %v (set %v), want %v", st.name, got, ok, st.want)
		}
	}

	v := decode[issueView](t, e.must(http.StatusOK, "GET", "/rest/api/3/issue/SLU-1", nil).body)
	tt := v.Fields.TimeTracking
	if tt.RemainingEstimate != "45m" || tt.RemainingEstimateSeconds == nil || *tt.RemainingEstimateSeconds != 2700 {
		t.Errorf("timetracking %+v, want 45m remaining", tt)
	}
	var spent int64
	for _, w := range e.sim.Worklogs("SLU-1") {
		spent += w.TimeSpentSeconds
	}
	if tt.TimeSpentSeconds == nil || *tt.TimeSpentSeconds != spent {
		t.Errorf("timetracking time spent %v, want %d", tt.TimeSpentSeconds, spent)
	}
}

func TestNotifications(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.create(validBody())["id"].(string)
	e.must(http.StatusCreated, "POST", worklogsURL+"?notifyUsers=false", validBody())
	e.must(http.StatusOK, "PUT", worklogsURL+"/"+id+"?notifyUsers=false", map[string]any{})
	e.must(http.StatusOK, "PUT", worklogsURL+"/"+id+"?notifyUsers=true", map[string]any{})
	e.must(http.StatusNoContent, "DELETE", worklogsURL+"/"+id+"?notifyUsers=false", nil)
	if n := e.sim.Stats().Notifications; n != 2 {
		t.Errorf("Notifications = %d, want 2 (default create, notifyUsers=true update)", n)
	}
}

// seed creates n worklogs on SLU-1, started an hour apart from 2026-05-04T00:00Z, advancing
// the clock a second between them, and returns their ids.
func seed(e *env, n int) []string {
	e.t.Helper()
	ids := make([]string, n)
	start := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	for i := range ids {
		body := with(validBody(), "started", formatTime(start.Add(time.Duration(i)*time.Hour)))
		ids[i] = e.create(body)["id"].(string)
		e.clock.Advance(time.Second)
	}
	return ids
}

func TestListWorklogs(t *testing.T) {
	e := newEnv(t, Options{})
	ids := seed(e, 5)
	ms := func(h int) string {
		return strconv.FormatInt(time.Date(2026, 5, 4, h, 0, 0, 0, time.UTC).UnixMilli(), 10)
	}
	tests := []struct {
		name           string
		query          string
		wantIDs        []string
		wantTotal      int
		wantStartAt    int
		wantMaxResults int
	}{
		{"all", "", ids, 5, 0, 5000},
		{"page", "startAt=1&maxResults=2", ids[1:3], 5, 1, 2},
		{"last page", "startAt=4&maxResults=2", ids[4:], 5, 4, 2},
		{"past the end", "startAt=9", nil, 5, 9, 5000},
		{"negative startAt", "startAt=-3&maxResults=1", ids[:1], 5, 0, 1},
		{"maxResults zero", "maxResults=0", nil, 5, 0, 0},
		{"maxResults capped", "maxResults=9000", ids, 5, 0, 5000},
		{"startedAfter is inclusive", "startedAfter=" + ms(2), ids[2:], 3, 0, 5000},
		{"startedBefore is exclusive", "startedBefore=" + ms(2), ids[:2], 2, 0, 5000},
		{"both", "startedAfter=" + ms(1) + "&startedBefore=" + ms(4), ids[1:4], 3, 0, 5000},
		{"both and paged", "startedAfter=" + ms(1) + "&startedBefore=" + ms(4) + "&startAt=1&maxResults=1", ids[2:3], 3, 1, 1},
		{"nothing matches", "startedAfter=" + ms(10), nil, 0, 0, 5000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(http.StatusOK, "GET", worklogsURL+"?"+tc.query, nil)
			raw := decode[map[string]json.RawMessage](t, r.body)
			if string(raw["worklogs"]) == "null" {
				t.Fatal("worklogs is null, want an array")
			}
			page := decode[struct {
				StartAt, MaxResults, Total int
				Worklogs                   []struct{ ID string }
			}](t, r.body)
			var got []string
			for _, w := range page.Worklogs {
				got = append(got, w.ID)
			}
			if !reflect.DeepEqual(got, tc.wantIDs) {
				t.Errorf("ids %v, want %v", got, tc.wantIDs)
			}
			if page.Total != tc.wantTotal || page.StartAt != tc.wantStartAt || page.MaxResults != tc.wantMaxResults {
				t.Errorf("startAt/maxResults/total = %d/%d/%d, want %d/%d/%d", page.StartAt, page.MaxResults,
					page.Total, tc.wantStartAt, tc.wantMaxResults, tc.wantTotal)
			}
		})
	}

	for _, tc := range []struct{ query string }{{"startAt=x"}, {"maxResults=ten"}} {
		t.Run("non-numeric "+tc.query, func(t *testing.T) {
			e.must(http.StatusNotFound, "GET", worklogsURL+"?"+tc.query, nil)
		})
	}
	for _, tc := range []struct{ query, key string }{{"startedAfter=yesterday", "startedAfter"}, {"startedBefore=1.5", "startedBefore"}} {
		t.Run("bad "+tc.query, func(t *testing.T) {
			r := e.must(http.StatusBadRequest, "GET", worklogsURL+"?"+tc.query, nil)
			if _, ok := errorsOf(t, r).Errors[tc.key]; !ok {
				t.Errorf("errors lacks %q: %s", tc.key, r.body)
			}
		})
	}
	t.Run("creation order, not started order", func(t *testing.T) {
		e := newEnv(t, Options{})
		late := e.create(with(validBody(), "started", "2026-05-04T18:00:00.000+0000"))["id"].(string)
		early := e.create(with(validBody(), "started", "2026-05-04T06:00:00.000+0000"))["id"].(string)
		page := decode[struct{ Worklogs []struct{ ID string } }](t, e.must(http.StatusOK, "GET", worklogsURL, nil).body)
		if len(page.Worklogs) != 2 || page.Worklogs[0].ID != late || page.Worklogs[1].ID != early {
			t.Errorf("order %+v, want %s then %s", page.Worklogs, late, early)
		}
	})
}

func TestWorklogCap(t *testing.T) {
	e := newEnv(t, Options{MaxWorklogsPerIssue: 2})
	ids := seed(e, 2)
	r := e.must(http.StatusRequestEntityTooLarge, "POST", worklogsURL, validBody())
	if len(errorsOf(t, r).ErrorMessages) == 0 {
		t.Errorf("413 without a message: %s", r.body)
	}
	if n := len(e.sim.Worklogs("SLU-1")); n != 2 {
		t.Errorf("%d worklogs, want 2", n)
	}
	e.must(http.StatusCreated, "POST", "/rest/api/3/issue/SLU-2/worklog", validBody())
	e.must(http.StatusBadRequest, "POST", worklogsURL, with(validBody(), "started", nil))
	e.must(http.StatusNoContent, "DELETE", worklogsURL+"/"+ids[0], nil)
	e.must(http.StatusCreated, "POST", worklogsURL, validBody())

	d := newEnv(t, Options{})
	if d.sim.opts.MaxWorklogsPerIssue != DefaultMaxWorklogsPerIssue || DefaultMaxWorklogsPerIssue != 5000 {
		t.Errorf("default cap %d", d.sim.opts.MaxWorklogsPerIssue)
	}
}

func TestBulkDelete(t *testing.T) {
	tests := []struct {
		name        string
		query       string
		body        func(ids []string, other string) any
		want        int
		wantLeft    int // worklogs left on SLU-1 of 3
		wantMissing int
	}{
		{"all", "", func(ids []string, _ string) any { return fmt.Sprintf(`{"ids":[%s,%s]}`, ids[0], ids[1]) }, 204, 1, 0},
		{"some missing", "", func(ids []string, _ string) any { return fmt.Sprintf(`{"ids":[%s,99999]}`, ids[0]) }, 200, 2, 1},
		{"one on another issue", "", func(ids []string, other string) any { return fmt.Sprintf(`{"ids":[%s,%s]}`, ids[0], other) }, 404, 3, 0},
		{"empty ids", "", func([]string, string) any { return `{"ids":[]}` }, 400, 3, 0},
		{"no ids", "", func([]string, string) any { return `{}` }, 400, 3, 0},
		{"no body", "", func([]string, string) any { return `` }, 400, 3, 0},
		{"string ids", "", func(ids []string, _ string) any { return fmt.Sprintf(`{"ids":["%s"]}`, ids[0]) }, 400, 3, 0},
		{"duplicate ids", "", func(ids []string, _ string) any { return fmt.Sprintf(`{"ids":[%s,%s]}`, ids[0], ids[0]) }, 400, 3, 0},
		{"unknown field", "", func(ids []string, _ string) any { return fmt.Sprintf(`{"ids":[%s],"force":true}`, ids[0]) }, 400, 3, 0},
		{"too many ids", "", func([]string, string) any {
			var b bytes.Buffer
			b.WriteString(`{"ids":[`)
			for i := range maxBulkDelete + 1 {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprint(&b, 1000000+i)
			}
			b.WriteString(`]}`)
			return b.String()
		}, 400, 3, 0},
		{"adjustEstimate new refused", "adjustEstimate=new&newEstimate=1h", func(ids []string, _ string) any { return fmt.Sprintf(`{"ids":[%s]}`, ids[0]) }, 400, 3, 0},
		{"adjustEstimate leave", "adjustEstimate=leave", func(ids []string, _ string) any { return fmt.Sprintf(`{"ids":[%s]}`, ids[0]) }, 204, 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			ids := seed(e, 3)
			other := decode[map[string]any](t, e.must(http.StatusCreated, "POST", "/rest/api/3/issue/SLU-2/worklog", validBody()).body)["id"].(string)
			path := worklogsURL
			if tc.query != "" {
				path += "?" + tc.query
			}
			r := e.do("DELETE", path, tc.body(ids, other))
			if r.status != tc.want {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.want, r.body)
			}
			if n := len(e.sim.Worklogs("SLU-1")); n != tc.wantLeft {
				t.Errorf("%d worklogs left, want %d", n, tc.wantLeft)
			}
			if n := len(e.sim.Worklogs("SLU-2")); n != 1 {
				t.Errorf("SLU-2 has %d worklogs, want 1", n)
			}
			if tc.want == http.StatusOK {
				got := decode[bulkDeleteJSON](t, r.body)
				if len(got.NotFound) != tc.wantMissing || got.Message == "" {
					t.Errorf("partial body %s", r.body)
				}
			}
		})
	}

	t.Run("auto gives the time back", func(t *testing.T) {
		e := newEnv(t, Options{})
		ids := seed(e, 2)
		e.sim.SetRemainingEstimate("SLU-1", time.Hour)
		e.must(http.StatusNoContent, "DELETE", worklogsURL, fmt.Sprintf(`{"ids":[%s,%s]}`, ids[0], ids[1]))
		if got, _ := e.sim.RemainingEstimate("SLU-1"); got != 4*time.Hour {
			t.Errorf("remaining %v, want 4h (1h + 2 × 1h30m)", got)
		}
	})
}

func TestWorklogsForIDs(t *testing.T) {
	e := newEnv(t, Options{})
	ids := seed(e, 3)
	e.must(http.StatusCreated, "PUT", worklogsURL+"/"+ids[1]+"/properties/sluice", `{"k":1}`)
	r := e.must(http.StatusOK, "POST", "/rest/api/3/worklog/list?expand=properties",
		fmt.Sprintf(`{"ids":[%s,%s,424242]}`, ids[2], ids[1]))
	got := decode[[]struct {
		ID         string
		Properties []propertyJSON
	}](t, r.body)
	if len(got) != 2 || got[0].ID != ids[1] || got[1].ID != ids[2] {
		t.Fatalf("worklogs %+v, want %s and %s", got, ids[1], ids[2])
	}
	if len(got[0].Properties) != 1 || got[0].Properties[0].Key != "sluice" || got[1].Properties == nil {
		t.Errorf("properties %+v", got)
	}
	without := decode[[]map[string]any](t, e.must(http.StatusOK, "POST", "/rest/api/3/worklog/list",
		fmt.Sprintf(`{"ids":[%s]}`, ids[0])).body)
	if _, ok := without[0]["properties"]; ok {
		t.Error("properties without expand")
	}
	e.must(http.StatusBadRequest, "POST", "/rest/api/3/worklog/list", `{"ids":[]}`)
	var b strings.Builder
	b.WriteString(`{"ids":[1`)
	for i := 2; i <= maxWorklogsForIDs+1; i++ {
		fmt.Fprintf(&b, ",%d", i)
	}
	b.WriteString(`]}`)
	e.must(http.StatusBadRequest, "POST", "/rest/api/3/worklog/list", b.String())
}

func TestWorklogChanges(t *testing.T) {
	e := newEnv(t, Options{})
	setPageSize := func(n int) {
		e.sim.mu.Lock()
		defer e.sim.mu.Unlock()
		e.sim.changesPageSize = n
	}
	start := e.clock.Now()
	ids := seed(e, 5) // one a second, from start
	// Two more in one millisecond, to check that pages never split it.
	same := []string{e.create(validBody())["id"].(string), e.create(validBody())["id"].(string)}
	e.clock.Advance(time.Second)
	e.must(http.StatusNoContent, "DELETE", worklogsURL+"/"+ids[0], nil)
	e.must(http.StatusNoContent, "DELETE", worklogsURL+"/"+ids[1], nil)

	type changed struct {
		Values []struct {
			WorklogID   int64
			UpdatedTime int64
			Properties  []propertyJSON
		}
		Since, Until int64
		Self         string
		NextPage     string
		LastPage     bool
	}
	get := func(path string) changed {
		t.Helper()
		return decode[changed](t, e.must(http.StatusOK, "GET", path, nil).body)
	}

	t.Run("nothing in the last minute", func(t *testing.T) {
		c := get("/rest/api/3/worklog/updated?since=0")
		if len(c.Values) != 0 || !c.LastPage || c.Until != 0 {
			t.Errorf("got %+v, want an empty last page", c)
		}
	})

	e.clock.Advance(time.Minute)
	for _, size := range []int{1000, 2, 1} {
		t.Run(fmt.Sprintf("updated, pages of %d", size), func(t *testing.T) {
			setPageSize(size)
			var got []string
			pages := 0
			path := "/rest/api/3/worklog/updated?since=" + strconv.FormatInt(start.UnixMilli()-1, 10)
			for range 10 {
				c := get(strings.TrimPrefix(path, e.srv.URL))
				pages++
				if len(c.Values) > size && c.Values[0].UpdatedTime != c.Values[len(c.Values)-1].UpdatedTime {
					t.Errorf("page of %d values spans several milliseconds", len(c.Values))
				}
				for _, v := range c.Values {
					got = append(got, strconv.FormatInt(v.WorklogID, 10))
					if v.Properties == nil {
						t.Errorf("properties of %d is null, want []", v.WorklogID)
					}
				}
				if len(c.Values) > 0 && c.Until != c.Values[len(c.Values)-1].UpdatedTime {
					t.Errorf("until %d, want the last value's time", c.Until)
				}
				if !strings.HasPrefix(c.Self, e.srv.URL+"/rest/api/3/worklog/updated?") {
					t.Errorf("self %q", c.Self)
				}
				if c.LastPage {
					break
				}
				path = c.NextPage
			}
			want := append(append([]string{}, ids[2:]...), same...)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("updated ids %v, want %v", got, want)
			}
			// 3 single-second worklogs and one millisecond holding two.
			wantPages := map[int]int{1000: 1, 2: 3, 1: 4}[size]
			if pages != wantPages {
				t.Errorf("%d pages, want %d", pages, wantPages)
			}
		})
	}
	setPageSize(2)

	t.Run("since is exclusive", func(t *testing.T) {
		ws := e.sim.Worklogs("SLU-1")
		c := get("/rest/api/3/worklog/updated?since=" + strconv.FormatInt(ws[0].Updated.UnixMilli(), 10))
		for _, v := range c.Values {
			if strconv.FormatInt(v.WorklogID, 10) == ws[0].ID {
				t.Errorf("worklog updated exactly at since was returned")
			}
		}
	})

	t.Run("deleted", func(t *testing.T) {
		c := get("/rest/api/3/worklog/deleted?since=0")
		if len(c.Values) != 2 || strconv.FormatInt(c.Values[0].WorklogID, 10) != ids[0] ||
			strconv.FormatInt(c.Values[1].WorklogID, 10) != ids[1] || !c.LastPage {
			t.Errorf("deleted %+v, want %s and %s", c, ids[0], ids[1])
		}
	})

	t.Run("bad since", func(t *testing.T) {
		e.must(http.StatusBadRequest, "GET", "/rest/api/3/worklog/updated?since=soon", nil)
	})
}
