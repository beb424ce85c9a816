package demo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/sluicehq/sluice/connectors/jira/jirasim"
	"github.com/sluicehq/sluice/connectors/toggl/togglsim"
	"github.com/sluicehq/sluice/workflows"
)

// Clock tells the time; nil means real time.
type Clock interface{ Now() time.Time }

// Site is a running pair of seeded simulators.
type Site struct {
	Toggl    *togglsim.Server
	Jira     *jirasim.Server
	TogglURL string
	JiraURL  string
	Facts    Facts
	servers  []*http.Server
}

// Start seeds a Toggl and a Jira simulator and serves them on loopback: on the given
// addresses, or on free ports when they are empty.
func Start(clock Clock, togglAddr, jiraAddr string) (*Site, error) {
	now := time.Now()
	if clock != nil {
		now = clock.Now()
	}
	s := &Site{
		Toggl: togglsim.New(togglsim.Options{Clock: clock}),
		Jira:  jirasim.New(jirasim.Options{Clock: clock}),
	}
	s.Facts = SeedToggl(s.Toggl, now)
	s.Facts.Issues = SeedJira(s.Jira)
	var err error
	if s.TogglURL, err = s.serve(togglAddr, s.Toggl); err != nil {
		return nil, err
	}
	if s.JiraURL, err = s.serve(jiraAddr, s.Jira); err != nil {
		s.Close(context.Background())
		return nil, err
	}
	return s, nil
}

// Serve listens on addr (a free loopback port when empty) and serves h until Close.
func (s *Site) serve(addr string, h http.Handler) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("demo: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops the simulators.
func (s *Site) Close(ctx context.Context) error {
	var errs []error
	for _, srv := range s.servers {
		errs = append(errs, srv.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// ServeOne serves h on addr until ctx ends; for `sluice sim`. It calls ready with the URL
// once listening.
func ServeOne(ctx context.Context, addr string, h http.Handler, ready func(url string)) error {
	var s Site
	url, err := s.serve(addr, h)
	if err != nil {
		return err
	}
	ready(url)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Close(sctx)
}

// configTemplate is the demo's sluice.yaml; the simulators' addresses change every run.
const configTemplate = `# Written by 'sluice demo' on every start: the example workflows against the simulators it
# runs on this machine. Edit the workflows in workflows/; this file is rewritten.
store: sqlite:sluice.db
workflows: workflows

connections:
  toggl:
    type: toggl
    base_url: %s
    api_token: %s
  jira:
    type: jira
    base_url: %s
    email: %s
    api_token: %s
`

// WriteConfig writes dir/sluice.yaml pointing at the site, and copies the example workflows
// into dir/workflows unless that folder exists (the user's edits are kept). It returns the
// config's path and whether the workflows were copied.
func (s *Site) WriteConfig(dir string) (string, bool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, fmt.Errorf("demo: %w", err)
	}
	path := filepath.Join(dir, "sluice.yaml")
	text := fmt.Sprintf(configTemplate, s.TogglURL, TogglToken, s.JiraURL, JiraEmail, JiraToken)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return "", false, fmt.Errorf("demo: %w", err)
	}
	wfDir := filepath.Join(dir, "workflows")
	if _, err := os.Stat(wfDir); err == nil {
		return path, false, nil
	}
	if err := os.MkdirAll(wfDir, 0o755); err != nil {
		return "", false, fmt.Errorf("demo: %w", err)
	}
	err := fs.WalkDir(workflows.Examples, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := workflows.Examples.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(wfDir, p), b, 0o644)
	})
	if err != nil {
		return "", false, fmt.Errorf("demo: copy the example workflows: %w", err)
	}
	return path, true, nil
}
