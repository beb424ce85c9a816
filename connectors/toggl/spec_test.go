package toggl_test

import (
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/toggl"
)

// TestSpecRegistered: the connector registers itself under its name as a source.
func TestSpecRegistered(t *testing.T) {
	spec, ok := connectors.Lookup("toggl")
	if !ok {
		t.Fatal(`no connector "toggl" registered`)
	}
	if spec.Name != toggl.Spec.Name || spec.NewSource == nil || spec.NewSink != nil || spec.Quota == nil || spec.CheckSource == nil {
		t.Errorf("registered spec %q: source %v, sink %v, quota %v", spec.Name, spec.NewSource != nil, spec.NewSink != nil, spec.Quota != nil)
	}
	token := slices.IndexFunc(spec.Connection, func(f connectors.Field) bool { return f.Name == "api_token" })
	if token < 0 || !spec.Connection[token].Secret || !spec.Connection[token].Required {
		t.Errorf("api_token must be a required secret: %+v", spec.Connection)
	}
}

// TestSpecDefaults: every default parses as its field's type, and the defaults alone make a
// valid source.
func TestSpecDefaults(t *testing.T) {
	vals := sourceValues(t, nil)
	want := connectors.Values{"entries": "mine", "read": "auto", "backfill": 30 * 24 * time.Hour, "lookback": 14 * 24 * time.Hour, "page_size": int64(50)}
	for name, v := range want {
		if vals[name] != v {
			t.Errorf("default %s = %v (%T), want %v", name, vals[name], vals[name], v)
		}
	}
	if len(vals) != len(want) {
		t.Errorf("defaults %v, want exactly %v", vals, want)
	}
	if errs := toggl.Spec.CheckSource(vals); len(errs) != 0 {
		t.Errorf("CheckSource(defaults) = %v", errs)
	}
	withDefaults(t, toggl.Spec.Connection, nil) // fails the test on a default that does not parse
}

// TestCheckSource: rules across fields, each reported on the field to fix.
func TestCheckSource(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  connectors.Values
		want []string // fields with an error
	}{
		{name: "defaults", set: nil},
		{name: "workspace", set: connectors.Values{"entries": "workspace", "workspace_id": int64(5)}},
		{name: "workspace with every filter", set: connectors.Values{"entries": "workspace", "workspace_id": int64(5),
			"user_ids": []int64{1}, "project_ids": []int64{2}}},
		{name: "workspace without workspace_id", set: connectors.Values{"entries": "workspace"}, want: []string{"entries"}},
		{name: "workspace with workspace_id 0", set: connectors.Values{"entries": "workspace", "workspace_id": int64(0)}, want: []string{"entries"}},
		{name: "workspace_id in mine mode", set: connectors.Values{"workspace_id": int64(5)}, want: []string{"workspace_id"}},
		{name: "user_ids in mine mode", set: connectors.Values{"user_ids": []int64{1}}, want: []string{"user_ids"}},
		{name: "project_ids in mine mode", set: connectors.Values{"project_ids": []int64{1}}, want: []string{"project_ids"}},
		{name: "all workspace fields in mine mode", set: connectors.Values{"workspace_id": int64(5), "user_ids": []int64{1}, "project_ids": []int64{1}},
			want: []string{"workspace_id", "user_ids", "project_ids"}},
		{name: "dates in order", set: connectors.Values{"start_date": day(1), "end_date": day(2)}},
		{name: "one-day range", set: connectors.Values{"start_date": day(1), "end_date": day(1)}},
		{name: "reversed dates", set: connectors.Values{"start_date": day(2), "end_date": day(1)}, want: []string{"end_date"}},
		{name: "end_date alone", set: connectors.Values{"end_date": day(1)}},
		{name: "page_size 0", set: connectors.Values{"page_size": int64(0)}, want: []string{"page_size"}},
		{name: "page_size 1", set: connectors.Values{"page_size": int64(1)}},
		{name: "page_size 1000", set: connectors.Values{"page_size": int64(1000)}},
		{name: "page_size 1001", set: connectors.Values{"page_size": int64(1001)}, want: []string{"page_size"}},
		{name: "page_size negative", set: connectors.Values{"page_size": int64(-5)}, want: []string{"page_size"}},
		{name: "lookback 1d", set: connectors.Values{"lookback": 24 * time.Hour}},
		{name: "lookback under 1d", set: connectors.Values{"lookback": 23*time.Hour + 59*time.Minute}, want: []string{"lookback"}},
		{name: "backfill 0", set: connectors.Values{"backfill": time.Duration(0)}, want: []string{"backfill"}},
		{name: "backfill 1m", set: connectors.Values{"backfill": time.Minute}},
		{name: "everything wrong", set: connectors.Values{"entries": "workspace", "start_date": day(3), "end_date": day(2),
			"page_size": int64(2000), "lookback": time.Hour, "backfill": time.Duration(0)},
			want: []string{"entries", "end_date", "page_size", "backfill", "lookback"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := toggl.Spec.CheckSource(sourceValues(t, tc.set))
			var got []string
			for _, e := range errs {
				got = append(got, e.Field)
				if e.Msg == "" {
					t.Errorf("error on %s has no message", e.Field)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("errors on %v (%v), want on %v", got, errs, tc.want)
			}
		})
	}
}
