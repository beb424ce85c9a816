package workflow

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Project is a loaded configuration with its workflows.
type Project struct {
	Config    *Config
	Workflows []*Workflow
}

// Workflow returns the workflow named name, or nil.
func (p *Project) Workflow(name string) *Workflow {
	for _, w := range p.Workflows {
		if w.Name == name {
			return w
		}
	}
	return nil
}

// Load reads the config at path and every workflow it points to. It returns every problem
// found as Diagnostics; the Project is nil then.
func Load(path string, env LookupEnv) (*Project, error) {
	cfg, files, err := LoadConfig(path, env)
	if cfg == nil {
		return nil, err
	}
	var diags Diagnostics
	errors.As(err, &diags)
	p := &Project{Config: cfg}
	seen := map[string]string{}
	for _, wf := range files {
		w := LoadWorkflow(wf, cfg, &diags)
		if w == nil {
			continue
		}
		if first, dup := seen[w.Name]; dup && w.Name != "" {
			diags = append(diags, duplicateName(wf, w.Name, first))
			continue
		}
		seen[w.Name] = wf
		p.Workflows = append(p.Workflows, w)
	}
	if len(diags) > 0 {
		return nil, diags.err()
	}
	return p, nil
}

// LoadConfig reads the config at path alone and lists the workflow files it points to. The
// error, when not an I/O error, is the config's Diagnostics; the Config is still returned
// when the file could be parsed, so that callers can judge workflows against what is valid.
func LoadConfig(path string, env LookupEnv) (*Config, []string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read config: %w", err)
	}
	var diags Diagnostics
	f, root := parseFile(path, src, &diags)
	if root == nil {
		return nil, nil, diags.err()
	}
	cfg := decodeConfig(f, root, path, env)
	files, err := workflowFiles(cfg.Workflows)
	if err != nil {
		d := cfg.workflowsAt
		d.Msg = err.Error()
		diags = append(diags, d)
	}
	return cfg, files, diags.err()
}

// duplicateName is the diagnostic of a workflow file whose name another file already uses.
func duplicateName(file, name, first string) Diagnostic {
	return Diagnostic{File: file, Line: 1, Col: 1,
		Msg: fmt.Sprintf("workflow name %q is already used by %s; names must be unique", name, first)}
}

// LoadWorkflow reads one workflow file against a loaded config, adding its problems to diags.
// It returns nil when the file cannot be read or parsed.
func LoadWorkflow(path string, cfg *Config, diags *Diagnostics) *Workflow {
	src, err := os.ReadFile(path)
	if err != nil {
		*diags = append(*diags, Diagnostic{File: path, Msg: fmt.Sprintf("read workflow: %v", err)})
		return nil
	}
	before := len(*diags)
	f, root := parseFile(path, src, diags)
	if root == nil {
		return nil
	}
	w := decodeWorkflow(f, root, cfg)
	w.YAML = src
	if len(*diags) > before {
		(*diags)[before:].sort()
		return nil
	}
	return w
}

// workflowFiles expands the configured paths: a folder means every .yaml and .yml file in it
// (not below it), anything else is a glob.
func workflowFiles(paths []string) ([]string, error) {
	var files []string
	var problems []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err == nil && info.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				problems = append(problems, fmt.Sprintf("workflows: %v", err))
				continue
			}
			for _, e := range entries {
				if !e.Type().IsRegular() && e.Type()&fs.ModeSymlink == 0 {
					continue
				}
				if ext := filepath.Ext(e.Name()); ext == ".yaml" || ext == ".yml" {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
			continue
		}
		matches, err := filepath.Glob(p)
		if err != nil {
			problems = append(problems, fmt.Sprintf("workflows: bad pattern %q: %v", p, err))
			continue
		}
		if len(matches) == 0 {
			problems = append(problems, fmt.Sprintf("workflows: %q matches no file", p))
		}
		files = append(files, matches...)
	}
	slices.Sort(files)
	files = slices.Compact(files)
	if len(problems) > 0 {
		return files, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return files, nil
}
