package workflows_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/sluicehq/sluice/connectors/all"
	"github.com/sluicehq/sluice/engine/workflow"
	"github.com/sluicehq/sluice/workflows"
)

var update = flag.Bool("update", false, "rewrite the .golden files from the current output")

// noEnv is an environment with nothing set.
func noEnv(string) (string, bool) { return "", false }

// diagnose returns the diagnostics of err, one per line, or fails the test.
func diagnose(t *testing.T, err error) string {
	t.Helper()
	var diags workflow.Diagnostics
	if !errors.As(err, &diags) {
		t.Fatalf("want diagnostics, got %v", err)
	}
	return diags.Error() + "\n"
}

func compareGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./workflows -update to create it, then review it)", err)
	}
	if got != string(want) {
		t.Errorf("diagnostics differ from %s\n--- got\n%s--- want\n%s", golden, got, want)
	}
}

// TestBadWorkflows checks every testdata/bad workflow against testdata/sluice.yaml: each must
// fail with exactly the diagnostics in its .golden file.
func TestBadWorkflows(t *testing.T) {
	p, err := workflow.Load("testdata/sluice.yaml", noEnv)
	if err != nil {
		t.Fatalf("load the shared config: %v", err)
	}
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) < 30 {
		t.Fatalf("want at least 30 bad workflows, have %d", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			var diags workflow.Diagnostics
			if w := workflow.LoadWorkflow(f, p.Config, &diags); w != nil || len(diags) == 0 {
				t.Fatalf("the workflow loaded without problems")
			}
			compareGolden(t, strings.TrimSuffix(f, ".yaml")+".golden", diagnose(t, diags))
		})
	}
}

// TestBadConfigs checks every testdata/config file: each must fail to load with exactly the
// diagnostics in its .golden file.
func TestBadConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/config/*.yaml")
	if len(files) < 10 {
		t.Fatalf("want at least 10 bad configs, have %d", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			p, err := workflow.Load(f, noEnv)
			if err == nil {
				t.Fatalf("the config loaded without problems: %d workflows", len(p.Workflows))
			}
			compareGolden(t, strings.TrimSuffix(f, ".yaml")+".golden", diagnose(t, err))
		})
	}
}

// TestExamplesAreValid loads the shipped examples with the repository's sluice.yaml.
func TestExamplesAreValid(t *testing.T) {
	env := func(name string) (string, bool) {
		if strings.HasSuffix(name, "_TOKEN") {
			return "secret-" + name, true
		}
		return "", false
	}
	p, err := workflow.Load("../sluice.yaml", env)
	if err != nil {
		t.Fatalf("examples do not validate:\n%v", err)
	}
	entries, _ := workflows.Examples.ReadDir(".")
	if len(p.Workflows) != len(entries) || len(entries) < 4 {
		t.Fatalf("loaded %d workflows, embedded %d examples; want the same, at least 4", len(p.Workflows), len(entries))
	}
	for _, w := range p.Workflows {
		if w.Description == "" {
			t.Errorf("%s: examples should say what they do in description", w.Name)
		}
	}
}
