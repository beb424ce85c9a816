package jirasim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// compact strips the indentation the simulator's responses carry.
func compact(t *testing.T, raw []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatalf("compact %s: %v", raw, err)
	}
	return buf.String()
}

func TestInlineProperties(t *testing.T) {
	e := newEnv(t, Options{})
	body := with(validBody(), "properties", []any{
		map[string]any{"key": "sluice", "value": map[string]any{"toggl_id": 123456789, "hash": "ab12"}},
		map[string]any{"key": "other", "value": "x"},
	})
	created := e.create(body)
	if _, ok := created["properties"]; ok {
		t.Error("create answered properties without expand")
	}
	id := created["id"].(string)

	withExpand := decode[map[string]json.RawMessage](t,
		e.must(http.StatusCreated, "POST", worklogsURL+"?expand=properties", body).body)
	if string(withExpand["properties"]) == "" {
		t.Error("create with expand=properties answered no properties")
	}

	t.Run("stored", func(t *testing.T) {
		w := e.sim.Worklogs("SLU-1")[0]
		v, ok := w.Property("sluice")
		if !ok || string(v) != `{"hash":"ab12","toggl_id":123456789}` {
			t.Errorf("sluice property %s, %v", v, ok)
		}
		if len(w.Properties) != 2 || w.Properties[0].Key != "sluice" || w.Properties[1].Key != "other" {
			t.Errorf("properties %+v", w.Properties)
		}
	})

	tests := []struct {
		name, path string
		wantProps  bool
	}{
		{"get without expand", worklogsURL + "/" + id, false},
		{"get with expand", worklogsURL + "/" + id + "?expand=properties", true},
		{"get with several expands", worklogsURL + "/" + id + "?expand=renderedFields,properties", true},
		{"get with another expand", worklogsURL + "/" + id + "?expand=renderedFields", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := decode[struct {
				Properties *[]propertyJSON
			}](t, e.must(http.StatusOK, "GET", tc.path, nil).body)
			if (w.Properties != nil) != tc.wantProps {
				t.Fatalf("properties present %v, want %v", w.Properties != nil, tc.wantProps)
			}
			if tc.wantProps && (len(*w.Properties) != 2 || (*w.Properties)[0].Key != "sluice" ||
				compact(t, (*w.Properties)[0].Value) != `{"hash":"ab12","toggl_id":123456789}`) {
				t.Errorf("properties %+v", *w.Properties)
			}
		})
	}

	t.Run("list with expand", func(t *testing.T) {
		page := decode[struct {
			Worklogs []struct {
				ID         string
				Properties *[]propertyJSON
			}
		}](t, e.must(http.StatusOK, "GET", worklogsURL+"?expand=properties", nil).body)
		if len(page.Worklogs) != 2 || page.Worklogs[0].Properties == nil || len(*page.Worklogs[0].Properties) != 2 {
			t.Errorf("list %+v", page.Worklogs)
		}
	})

	t.Run("expand on a worklog without properties gives []", func(t *testing.T) {
		id := e.create(validBody())["id"].(string)
		raw := decode[map[string]json.RawMessage](t, e.must(http.StatusOK, "GET", worklogsURL+"/"+id+"?expand=properties", nil).body)
		if got := compact(t, raw["properties"]); got != "[]" {
			t.Errorf("properties %s, want []", raw["properties"])
		}
	})

	t.Run("update upserts properties", func(t *testing.T) {
		e.must(http.StatusOK, "PUT", worklogsURL+"/"+id, map[string]any{
			"properties": []any{map[string]any{"key": "other", "value": "y"}, map[string]any{"key": "third", "value": 3}},
		})
		w := e.sim.Worklogs("SLU-1")[0]
		if len(w.Properties) != 3 {
			t.Fatalf("properties %+v, want 3", w.Properties)
		}
		if v, _ := w.Property("other"); string(v) != `"y"` {
			t.Errorf("other = %s, want \"y\"", v)
		}
		if v, _ := w.Property("sluice"); v == nil {
			t.Error("update removed a property it did not name")
		}
	})
}

func TestPropertyEndpoints(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.create(validBody())["id"].(string)
	base := worklogsURL + "/" + id + "/properties"

	keys := decode[propertyKeysJSON](t, e.must(http.StatusOK, "GET", base, nil).body)
	if keys.Keys == nil || len(keys.Keys) != 0 {
		t.Errorf("keys %+v, want an empty array", keys)
	}
	e.must(http.StatusNotFound, "GET", base+"/sluice", nil)

	r := e.must(http.StatusCreated, "PUT", base+"/sluice", `{"toggl_id": 1}`)
	if len(r.body) != 0 {
		t.Errorf("201 with body %s", r.body)
	}
	e.must(http.StatusOK, "PUT", base+"/sluice", `{"toggl_id": 2}`)

	got := decode[propertyJSON](t, e.must(http.StatusOK, "GET", base+"/sluice", nil).body)
	if got.Key != "sluice" || compact(t, got.Value) != `{"toggl_id":2}` {
		t.Errorf("property %s = %s", got.Key, got.Value)
	}
	keys = decode[propertyKeysJSON](t, e.must(http.StatusOK, "GET", base, nil).body)
	if len(keys.Keys) != 1 || keys.Keys[0].Key != "sluice" || keys.Keys[0].Self != e.srv.URL+"/rest/api/3/issue/"+e.issueID+"/worklog/"+id+"/properties/sluice" {
		t.Errorf("keys %+v", keys)
	}
	if w := e.sim.Worklogs("SLU-1")[0]; !w.Updated.Equal(w.Created) {
		t.Error("setting a property changed the worklog's updated time")
	}

	e.must(http.StatusNoContent, "DELETE", base+"/sluice", nil)
	e.must(http.StatusNotFound, "GET", base+"/sluice", nil)
	e.must(http.StatusNotFound, "DELETE", base+"/sluice", nil)
	if n := len(e.sim.Worklogs("SLU-1")[0].Properties); n != 0 {
		t.Errorf("%d properties after delete", n)
	}

	t.Run("worklog deleted with its properties", func(t *testing.T) {
		id := e.create(validBody())["id"].(string)
		e.must(http.StatusCreated, "PUT", worklogsURL+"/"+id+"/properties/k", `1`)
		e.must(http.StatusNoContent, "DELETE", worklogsURL+"/"+id, nil)
		e.must(http.StatusNotFound, "GET", worklogsURL+"/"+id+"/properties/k", nil)
	})
}

func TestPropertyLimits(t *testing.T) {
	maxValue := `"` + strings.Repeat("v", maxPropertyValueBytes-2) + `"`
	tests := []struct {
		name      string
		key       string
		worklogID string // "" for the created worklog
		body      string
		want      int
	}{
		{name: "object", key: "k", body: `{"a":[1,2]}`, want: 201},
		{name: "number", key: "k", body: `42`, want: 201},
		{name: "string", key: "k", body: `"x"`, want: 201},
		{name: "key of 255", key: strings.Repeat("k", 255), body: `1`, want: 201},
		{name: "key of 255 runes", key: strings.Repeat("é", 255), body: `1`, want: 201},
		{name: "key of 256", key: strings.Repeat("k", 256), body: `1`, want: 400},
		{name: "value of 32768 bytes", key: "k", body: maxValue, want: 201},
		{name: "value of 32769 bytes", key: "k", body: maxValue + " ", want: 400},
		{name: "empty value", key: "k", body: ``, want: 400},
		{name: "blank value", key: "k", body: "  \n", want: 400},
		{name: "null value", key: "k", body: `null`, want: 400},
		{name: "invalid JSON", key: "k", body: `{"a":`, want: 400},
		{name: "bare word", key: "k", body: `hello`, want: 400},
		{name: "worklog id not a number", key: "k", worklogID: "abc", body: `1`, want: 400},
		{name: "unknown worklog", key: "k", worklogID: "99999", body: `1`, want: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			id := e.create(validBody())["id"].(string)
			if tc.worklogID != "" {
				id = tc.worklogID
			}
			r := e.do("PUT", worklogsURL+"/"+id+"/properties/"+tc.key, tc.body)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.want, r.body)
			}
			props := e.sim.Worklogs("SLU-1")[0].Properties
			if tc.want == http.StatusCreated {
				if len(props) != 1 || props[0].Key != tc.key {
					t.Errorf("properties %d stored, want the one", len(props))
				}
				return
			}
			if len(props) != 0 {
				t.Errorf("%d properties stored after a %d", len(props), r.status)
			}
			if len(errorsOf(t, r).ErrorMessages) == 0 {
				t.Errorf("no errorMessages in %s", r.body)
			}
		})
	}
}
