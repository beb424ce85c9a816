package workflow

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors"
)

// A source and a sink with one map field of every type, for tests of this package only.
func init() {
	connectors.Register(connectors.Spec{
		Name:      "test_source",
		NewSource: func(connectors.Config, connectors.Deps) (connectors.Source, error) { return nil, nil },
	})
	connectors.Register(connectors.Spec{
		Name: "test_sink",
		Map: []connectors.Field{
			{Name: "text", Type: connectors.String, Required: true, Default: "entry.description"},
			{Name: "seconds", Type: connectors.Int, Default: "entry.duration"},
			{Name: "flag", Type: connectors.Bool},
			{Name: "when", Type: connectors.Time, Default: "entry.start"},
			{Name: "labels", Type: connectors.Strings},
		},
		NewSink: func(connectors.Config, connectors.Deps) (connectors.Sink, error) { return nil, nil },
	})
}

// loadOne loads a workflow body against a config with a test_source and a test_sink.
func loadOne(t *testing.T, body string) (*Workflow, error) {
	t.Helper()
	dir := t.TempDir()
	cfg := "store: sqlite:x.db\nworkflows: w.yaml\nconnections:\n  src: {type: test_source, base_url: 'http://127.0.0.1:9'}\n  dst: {type: test_sink, base_url: 'http://127.0.0.1:9'}\n"
	wf := "name: t\nsource: {connection: src}\nsink: {connection: dst}\n" + body
	if err := os.WriteFile(filepath.Join(dir, "sluice.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "w.yaml"), []byte(wf), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(filepath.Join(dir, "sluice.yaml"), func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, err
	}
	return p.Workflows[0], nil
}

func testEntry() *connectors.Entry {
	return &connectors.Entry{
		ID: "42", Project: "Website", Description: "WEB-7 fix the header", Duration: 1000,
		Start: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC), Billable: true, Tags: []string{"a", "b"}, User: "Ada",
	}
}

func TestEvaluatorDefaultsAndTypes(t *testing.T) {
	w, err := loadOne(t, `
filter: entry.billable && entry.project == "Website"
map:
  text: withoutJiraKeys(entry.description) + " by " + entry.user
  seconds: roundUp(entry.duration, "15m")
  flag: len(entry.tags) > 1
  labels: 'map(entry.tags, upper(#))'
`)
	if err != nil {
		t.Fatal(err)
	}
	ev := w.NewEvaluator()
	e := testEntry()
	ok, err := ev.Filter(e)
	if err != nil || !ok {
		t.Fatalf("filter = %v, %v; want true", ok, err)
	}
	vals, err := ev.Map(e)
	if err != nil {
		t.Fatal(err)
	}
	if got := vals.String("text"); got != "fix the header by Ada" {
		t.Errorf("text = %q", got)
	}
	if got := vals["seconds"]; got != 1800 {
		t.Errorf("seconds = %#v, want int 1800", got)
	}
	if got := vals.Bool("flag"); !got {
		t.Errorf("flag = false")
	}
	if got := vals.Time("when"); !got.Equal(e.Start) {
		t.Errorf("when (default entry.start) = %v", got)
	}
	if got := vals.Strings("labels"); strings.Join(got, ",") != "A,B" {
		t.Errorf("labels = %q", got)
	}
	e.Billable = false
	if ok, err := ev.Filter(e); err != nil || ok {
		t.Errorf("filter on a non-billable entry = %v, %v; want false", ok, err)
	}
}

func TestEvaluatorRuntimeErrors(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"nil lookup gives empty text", `map: {text: '{"Other": "X-1"}[entry.project]'}`, ""},
		{"wrong runtime type", `map: {text: '{"Website": 5}[entry.project]'}`, `map.text: the expression gave 5 (a whole number), but text is needed`},
		{"index out of range", `map: {text: 'entry.tags[5]'}`, "map.text: index out of range"},
		{"bad zone at run time", `map: {text: 'formatTime(entry.start, "15:04", entry.project)'}`, `map.text: unknown time zone "Website"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := loadOne(t, c.body)
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.NewEvaluator().Map(testEntry())
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestExpressionPositions(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"plain", "filter: entry.billable && entry.projet == \"x\"\n", "w.yaml:4:33:"},
		{"double quoted", "filter: \"entry.billable && entry.projet == 'x'\"\n", "w.yaml:4:34:"},
		{"literal block", "filter: |\n  entry.billable &&\n    entry.projet == \"x\"\n", "w.yaml:6:11:"},
		{"folded block", "map:\n  text: >\n    entry.description +\n    nosuch\n", "w.yaml:7:5:"},
		{"constant argument", "map:\n  seconds: roundDown(entry.duration, \"7q\")\n", "w.yaml:5:38:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadOne(t, c.body)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want position %s", err, c.want)
			}
		})
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	s := connectors.Secret("hunter2")
	for _, got := range []string{s.String(), strings.TrimSpace(fmtAll(s))} {
		if strings.Contains(got, "hunter2") {
			t.Errorf("secret printed: %q", got)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Errorf("Reveal lost the value")
	}
}
