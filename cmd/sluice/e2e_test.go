package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/connectortest"
	"github.com/sluicehq/sluice/connectors/jira"
	"github.com/sluicehq/sluice/connectors/jira/jirasim"
	"github.com/sluicehq/sluice/connectors/toggl/togglsim"
	"github.com/sluicehq/sluice/demo"
	"github.com/sluicehq/sluice/engine/store"
	"github.com/sluicehq/sluice/engine/workflow"
)

// world is the demo's data in both simulators, served over loopback behind the OpenAPI
// checkers, with the example workflows configured against them.
type world struct {
	t      *testing.T
	toggl  *togglsim.Server
	jira   *jirasim.Server
	facts  demo.Facts
	dir    string
	config string
}

type worldOptions struct {
	toggl togglsim.Options
	jira  jirasim.Options
}

func newWorld(t *testing.T, opt worldOptions) *world {
	t.Helper()
	// Rate limits are tested on their own with a fake clock; here they would only make the
	// test wait on the real one.
	if opt.toggl.ThrottleRate == 0 {
		opt.toggl.ThrottleRate = -1
	}
	if opt.jira.BurstRate == 0 {
		opt.jira.BurstRate, opt.jira.IssueWriteRate = -1, -1
	}
	w := &world{t: t, toggl: togglsim.New(opt.toggl), jira: jirasim.New(opt.jira), dir: t.TempDir()}
	w.facts = demo.SeedToggl(w.toggl, time.Now())
	demo.SeedJira(w.jira)

	tc := connectortest.LoadSpec(t, connectortest.TogglTrack, connectortest.TogglReports).Check(w.toggl)
	tc.RequireValid(t)
	tc.RequireSimulatorStrict(t)
	jc := connectortest.LoadSpec(t, connectortest.Jira).Check(w.jira)
	jc.RequireValid(t)
	jc.RequireSimulatorStrict(t)
	ts, js := httptest.NewServer(tc), httptest.NewServer(jc)
	t.Cleanup(ts.Close)
	t.Cleanup(js.Close)

	site := &demo.Site{TogglURL: ts.URL, JiraURL: js.URL}
	var err error
	if w.config, _, err = site.WriteConfig(w.dir); err != nil {
		t.Fatal(err)
	}
	return w
}

// sluice runs the command in this process and returns its exit code and output.
func (w *world) sluice(app appOptions, args ...string) (int, string) {
	w.t.Helper()
	var out, errOut bytes.Buffer
	code := runMain(context.Background(), args, cmdIO{stdout: &out, stderr: &errOut, env: noEnv, app: app})
	return code, out.String() + errOut.String()
}

func noEnv(string) (string, bool) { return "", false }

// runOnce runs every workflow once and wants exit code 1 (WEB-404 is refused on the first
// run and each retry) with no run failing as a whole.
func (w *world) runOnce(args ...string) string {
	w.t.Helper()
	code, out := w.sluice(appOptions{}, append([]string{"run", "--once", "--config", w.config}, args...)...)
	if code != exitFailed || strings.Contains(out, " failed    ") || !strings.Contains(out, "WEB-404") {
		w.t.Fatalf("run --once exited %d:\n%s", code, out)
	}
	return out
}

// expected computes, from the Toggl simulator's entries and independently of sluice, which
// entry each example workflow must have in Jira.
func (w *world) expected() map[string]map[string]bool {
	f := w.facts
	ada, grace, linus := f.Users["Ada"], f.Users["Grace"], f.Users["Linus"]
	want := map[string]map[string]bool{}
	add := func(wf string, id int64) {
		if want[wf] == nil {
			want[wf] = map[string]bool{}
		}
		want[wf][strconv.FormatInt(id, 10)] = true
	}
	for _, e := range w.toggl.Entries() {
		if e.Running() || e.Deleted() {
			continue
		}
		key := workflowKey(e.Description)
		switch {
		case e.UserID == ada && e.ProjectID == f.Projects["Website"] && key != "" && key != f.Missing:
			add("website-worklogs", e.ID)
		case e.UserID == ada && e.ProjectID == f.Projects["Mobile App"] && e.Billable && key != "":
			add("billable-mobile", e.ID)
		case e.UserID == ada && e.ProjectID == f.Projects["Support"] && key != "":
			add("support-rounded", e.ID)
		case e.UserID == ada && (e.ProjectID == f.Projects["Internal"] || e.ProjectID == f.Projects["Training"]):
			add("internal-by-project", e.ID)
		case (e.UserID == grace || e.UserID == linus) && e.ProjectID == f.Projects["Support"] && key != "":
			add("team-support", e.ID)
		}
	}
	return want
}

// workflowKey is the issue key the demo writes at the start of descriptions.
func workflowKey(desc string) string {
	first, _, _ := strings.Cut(desc, " ")
	prefix, num, ok := strings.Cut(first, "-")
	if !ok || prefix == "" || strings.ToUpper(prefix) != prefix {
		return ""
	}
	if _, err := strconv.Atoi(num); err != nil {
		return ""
	}
	return first
}

// inJira returns, per workflow, the entries that have a worklog, failing on any duplicate or
// on a worklog without sluice's marker.
func (w *world) inJira() (map[string]map[string]bool, map[string]jirasim.Worklog) {
	w.t.Helper()
	got := map[string]map[string]bool{}
	byEntry := map[string]jirasim.Worklog{}
	for _, l := range w.jira.AllWorklogs() {
		raw, ok := l.Property(jira.PropertyKey)
		if !ok {
			w.t.Fatalf("worklog %s on %s has no %q property", l.ID, l.IssueKey, jira.PropertyKey)
		}
		var m jira.Marker
		if err := json.Unmarshal(raw, &m); err != nil {
			w.t.Fatal(err)
		}
		if got[m.Workflow] == nil {
			got[m.Workflow] = map[string]bool{}
		}
		if got[m.Workflow][m.Entry] {
			w.t.Fatalf("entry %s is in Jira twice for %s", m.Entry, m.Workflow)
		}
		got[m.Workflow][m.Entry] = true
		byEntry[m.Workflow+"/"+m.Entry] = l
	}
	return got, byEntry
}

// checkJira compares Jira with the expected worklogs, workflow by workflow.
func (w *world) checkJira() map[string]jirasim.Worklog {
	w.t.Helper()
	want := w.expected()
	got, byEntry := w.inJira()
	for _, wf := range []string{"website-worklogs", "billable-mobile", "support-rounded", "internal-by-project", "team-support"} {
		if len(want[wf]) == 0 {
			w.t.Fatalf("the demo data gives %s nothing to do", wf)
		}
		for id := range want[wf] {
			if !got[wf][id] {
				w.t.Errorf("%s: entry %s is missing from Jira", wf, id)
			}
		}
		for id := range got[wf] {
			if !want[wf][id] {
				w.t.Errorf("%s: entry %s is in Jira but should not be", wf, id)
			}
		}
	}
	return byEntry
}

func TestEndToEnd(t *testing.T) {
	w := newWorld(t, worldOptions{})
	w.runOnce()
	logs := w.checkJira()

	// Spot-check what a worklog holds against its entry.
	for key, l := range logs {
		wf, idText, _ := strings.Cut(key, "/")
		id, _ := strconv.ParseInt(idText, 10, 64)
		e, _ := w.toggl.Entry(id)
		secs := int64(e.Stop.Sub(e.Start).Seconds())
		switch wf {
		case "support-rounded":
			if l.TimeSpentSeconds%900 != 0 || l.TimeSpentSeconds < secs || l.TimeSpentSeconds-secs >= 900 {
				t.Errorf("support-rounded: %d s logged for %d s tracked; want rounded up to 15 minutes", l.TimeSpentSeconds, secs)
			}
		case "website-worklogs":
			if l.TimeSpentSeconds != max(secs, 60) || !l.Started.Equal(e.Start) || l.IssueKey != workflowKey(e.Description) {
				t.Errorf("website-worklogs: worklog %+v for entry %+v", l, e)
			}
			if text := l.CommentText(); strings.Contains(text, l.IssueKey) || text == "" {
				t.Errorf("comment %q should be the description without the key", text)
			}
		case "internal-by-project":
			want := map[int64]string{w.facts.Projects["Internal"]: "OPS-1", w.facts.Projects["Training"]: "OPS-2"}[e.ProjectID]
			if l.IssueKey != want {
				t.Errorf("internal entry on %s, want %s", l.IssueKey, want)
			}
		}
	}

	// A second run without changes sends one request per source (one page per Reports
	// read) and writes nothing.
	w.toggl.ResetStats()
	before := len(w.jira.AllWorklogs())
	out := w.runOnce()
	if n := len(w.jira.AllWorklogs()); n != before {
		t.Fatalf("a run without changes changed Jira: %d -> %d worklogs\n%s", before, n, out)
	}
	for _, r := range w.toggl.Requests() {
		if r.Status != 200 {
			t.Errorf("Toggl answered %d to %s %s", r.Status, r.Method, r.Path)
		}
	}
	w.toggl.ResetStats()
	code, out := w.sluice(appOptions{}, "run", "--once", "--config", w.config, "--workflow", "billable-mobile")
	if code != exitOK || w.toggl.Stats().Requests != 1 {
		t.Fatalf("an unchanged run of one workflow: exit %d, %d Toggl requests; want 0 and exactly 1\n%s", code, w.toggl.Stats().Requests, out)
	}

	// Edit, move, un-bill and delete entries in Toggl: each change reaches Jira, once.
	var edited, moved, unbilled, deleted int64
	for _, e := range w.toggl.Entries() {
		if e.UserID != w.facts.Users["Ada"] || e.Running() || e.Deleted() {
			continue
		}
		switch {
		case edited == 0 && e.ProjectID == w.facts.Projects["Website"] && workflowKey(e.Description) == "WEB-3":
			edited = e.ID
		case moved == 0 && e.ProjectID == w.facts.Projects["Website"] && workflowKey(e.Description) == "WEB-5":
			moved = e.ID
		case unbilled == 0 && e.ProjectID == w.facts.Projects["Mobile App"] && e.Billable && workflowKey(e.Description) != "":
			unbilled = e.ID
		case deleted == 0 && e.ProjectID == w.facts.Projects["Support"] && workflowKey(e.Description) != "":
			deleted = e.ID
		}
	}
	if edited == 0 || moved == 0 || unbilled == 0 || deleted == 0 {
		t.Fatalf("demo data lacks entries to change: %d %d %d %d", edited, moved, unbilled, deleted)
	}
	mustUpdate(t, w.toggl, edited, func(e *togglsim.Entry) { e.Stop = e.Stop.Add(17 * time.Minute) })
	mustUpdate(t, w.toggl, moved, func(e *togglsim.Entry) { e.Description = "WEB-6 " + e.Description[len("WEB-5 "):] })
	mustUpdate(t, w.toggl, unbilled, func(e *togglsim.Entry) { e.Billable = false })
	if err := w.toggl.DeleteEntry(deleted); err != nil {
		t.Fatal(err)
	}
	out = w.runOnce()
	logs = w.checkJira()
	e, _ := w.toggl.Entry(edited)
	if l := logs["website-worklogs/"+strconv.FormatInt(edited, 10)]; l.TimeSpentSeconds != int64(e.Stop.Sub(e.Start).Seconds()) {
		t.Errorf("edited entry: Jira has %d s, Toggl %s\n%s", l.TimeSpentSeconds, e.Stop.Sub(e.Start), out)
	}
	if l := logs["website-worklogs/"+strconv.FormatInt(moved, 10)]; l.IssueKey != "WEB-6" || len(w.jira.Worklogs("WEB-5")) != countKey(w, "WEB-5") {
		t.Errorf("moved entry: worklog on %s; WEB-5 keeps %d worklogs", l.IssueKey, len(w.jira.Worklogs("WEB-5")))
	}
	for wf, want := range map[string]string{
		"website-worklogs": "updated 2, deleted 0", // the longer entry and the moved one
		"billable-mobile":  "updated 0, deleted 1", // no longer billable
		"support-rounded":  "updated 0, deleted 1", // deleted in Toggl
	} {
		if !regexp.MustCompile(wf + ` +\w+ +read \d+, created 0, ` + want).MatchString(out) {
			t.Errorf("%s: summary should say %q:\n%s", wf, want, out)
		}
	}
}

func mustUpdate(t *testing.T, s *togglsim.Server, id int64, f func(*togglsim.Entry)) {
	t.Helper()
	if err := s.UpdateEntry(id, f); err != nil {
		t.Fatal(err)
	}
}

// countKey counts Ada's live Website entries naming key.
func countKey(w *world, key string) int {
	n := 0
	for _, e := range w.toggl.Entries() {
		if e.UserID == w.facts.Users["Ada"] && !e.Deleted() && !e.Running() &&
			e.ProjectID == w.facts.Projects["Website"] && workflowKey(e.Description) == key {
			n++
		}
	}
	return n
}

func TestLostAnswersCreateNoDuplicate(t *testing.T) {
	w := newWorld(t, worldOptions{})
	// Jira applies the first worklog write, then the connection breaks before its answer.
	w.jira.LoseNextResponse(1)
	code, out := w.sluice(appOptions{}, "run", "--once", "--config", w.config, "--workflow", "website-worklogs")
	if code != exitFailed || !strings.Contains(out, "failed") {
		t.Fatalf("first run: exit %d\n%s", code, out)
	}
	code, out = w.sluice(appOptions{}, "run", "--once", "--config", w.config, "--workflow", "website-worklogs")
	if !strings.Contains(out, "website-worklogs         partial") {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}
	got, _ := w.inJira()
	if want := w.expected()["website-worklogs"]; len(got["website-worklogs"]) != len(want) {
		t.Fatalf("Jira has %d website worklogs, want %d", len(got["website-worklogs"]), len(want))
	}
}

// TestCrashBetweenAcceptAndLedger kills a real sluice process right after Jira accepted a
// worklog and before the ledger recorded it; the next run must not create a duplicate.
func TestCrashBetweenAcceptAndLedger(t *testing.T) {
	if os.Getenv("SLUICE_CRASH_CONFIG") != "" {
		t.Skip("this is the child's test binary")
	}
	w := newWorld(t, worldOptions{})
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), "SLUICE_CRASH_CONFIG="+w.config, "SLUICE_CRASH_AFTER=7")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != crashCode {
		t.Fatalf("child: %v\n%s", err, out)
	}
	before := len(w.jira.AllWorklogs())
	if before != 7 {
		t.Fatalf("Jira has %d worklogs after the crash, want the 7 accepted", before)
	}
	w.runOnce()
	w.checkJira()
	db := filepath.Join(w.dir, "sluice.db")
	if _, err := os.Stat(db); err != nil {
		t.Fatal(err)
	}
}

const crashCode = 75

// TestCrashChild is the process TestCrashBetweenAcceptAndLedger kills: it runs every
// workflow and exits at once after the n-th write Jira accepted.
func TestCrashChild(t *testing.T) {
	config := os.Getenv("SLUICE_CRASH_CONFIG")
	if config == "" {
		t.Skip("run by TestCrashBetweenAcceptAndLedger")
	}
	n, _ := strconv.Atoi(os.Getenv("SLUICE_CRASH_AFTER"))
	writes := 0
	hook := func(string, store.Op) {
		writes++
		if writes == n {
			os.Exit(crashCode)
		}
	}
	var out bytes.Buffer
	runMain(context.Background(), []string{"run", "--once", "--config", config},
		cmdIO{stdout: &out, stderr: &out, env: noEnv, app: appOptions{afterWrite: hook}})
	fmt.Print(out.String())
	t.Fatalf("the run finished without reaching write %d", n)
}

func TestValidateCommand(t *testing.T) {
	w := newWorld(t, worldOptions{})
	code, out := w.sluice(appOptions{}, "validate", "--config", w.config)
	if code != exitOK || !strings.Contains(out, "5 workflow(s), all valid") {
		t.Fatalf("validate: exit %d\n%s", code, out)
	}
	bad := filepath.Join(w.dir, "workflows", "broken.yaml")
	if err := os.WriteFile(bad, []byte("name: broken\nsource: {connection: toggl}\nfilter: entry.projet == 1\nsink: {connection: jra}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out = w.sluice(appOptions{}, "validate", "--config", w.config)
	for _, want := range []string{
		"broken.yaml:3:15: filter: entry has no field \"projet\" (did you mean \"project\"?)",
		"broken.yaml:4:20: sink.connection: unknown connection \"jra\" (did you mean \"jira\"?)",
		"2 problem(s) found",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	if code != exitFailed {
		t.Errorf("exit %d, want %d", code, exitFailed)
	}
	// run refuses an invalid config and runs nothing.
	code, out = w.sluice(appOptions{}, "run", "--once", "--config", w.config)
	if code != exitFailed || !strings.Contains(out, "nothing was run") || w.toggl.Stats().Requests != 0 {
		t.Fatalf("run with a broken workflow: exit %d, %d Toggl requests\n%s", code, w.toggl.Stats().Requests, out)
	}
}

func TestUsageErrors(t *testing.T) {
	cases := [][]string{{}, {"frobnicate"}, {"run"}, {"run", "--once", "--bogus"}, {"sim"}, {"sim", "github"}, {"validate", "extra"}}
	for _, args := range cases {
		var out bytes.Buffer
		if code := runMain(context.Background(), args, cmdIO{stdout: &out, stderr: &out, env: noEnv}); code != exitUsage {
			t.Errorf("%q: exit %d, want %d\n%s", args, code, exitUsage, out.String())
		}
	}
	var out bytes.Buffer
	code := runMain(context.Background(), []string{"run", "--once", "--config", filepath.Join(t.TempDir(), "nope.yaml")},
		cmdIO{stdout: &out, stderr: &out, env: noEnv})
	if code != exitFailed || !strings.Contains(out.String(), "nope.yaml") {
		t.Errorf("missing config: exit %d\n%s", code, out.String())
	}
}

func TestDemoOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	var out bytes.Buffer
	code := runMain(context.Background(), []string{"demo", "--once", "--dir", dir}, cmdIO{stdout: &out, stderr: &out, env: noEnv})
	text := out.String()
	if code != exitOK {
		t.Fatalf("demo exited %d:\n%s", code, text)
	}
	for _, want := range []string{"Toggl Track  http://127.0.0.1:", "website-worklogs", "WEB-404", "Quota left", "curl -u ada@acme.example"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	p, err := workflow.Load(filepath.Join(dir, "sluice.yaml"), noEnv)
	if err != nil || len(p.Workflows) != 5 {
		t.Fatalf("the demo's config does not load: %v", err)
	}
	// A second demo starts over against fresh simulators and pushes the same again.
	out.Reset()
	if code := runMain(context.Background(), []string{"demo", "--once", "--dir", dir}, cmdIO{stdout: &out, stderr: &out, env: noEnv}); code != exitOK {
		t.Fatalf("second demo exited %d:\n%s", code, out.String())
	}
	if first, second := createdCounts(text), createdCounts(out.String()); len(first) != 5 || fmt.Sprint(first) != fmt.Sprint(second) {
		t.Fatalf("created per workflow: first demo %v, second %v", first, second)
	}
}

// createdCounts reads "name status read N, created N" summary lines.
func createdCounts(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && f[2] == "read" && f[4] == "created" {
			m[f[0]] = strings.TrimSuffix(f[5], ",")
		}
	}
	return m
}

// TestSecretsStayOut runs with debug logging, which logs every call and decision, and checks
// that no token reaches the output or the database.
func TestSecretsStayOut(t *testing.T) {
	w := newWorld(t, worldOptions{})
	text, err := os.ReadFile(w.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.config, append(text, []byte("log:\n  level: debug\n  format: json\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, out := w.sluice(appOptions{}, "run", "--once", "--config", w.config)
	if !strings.Contains(out, `"msg":"api call"`) {
		t.Fatalf("debug logging is off; the check would prove nothing:\n%s", out)
	}
	var db []byte
	for _, f := range []string{"sluice.db", "sluice.db-wal"} {
		b, err := os.ReadFile(filepath.Join(w.dir, f))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		db = append(db, b...)
	}
	if len(db) == 0 {
		t.Fatal("no database written")
	}
	for _, secret := range []string{demo.TogglToken, demo.JiraToken} {
		if strings.Contains(out, secret) {
			t.Errorf("token %q appears in the output", secret)
		}
		if bytes.Contains(db, []byte(secret)) {
			t.Errorf("token %q appears in the database", secret)
		}
	}
}

// TestResyncAppliesAChangedMapWithoutDuplicates: after the map of a workflow changes, a
// resync reads the window again, and every worklog is updated; none is created.
func TestResyncAppliesAChangedMapWithoutDuplicates(t *testing.T) {
	w := newWorld(t, worldOptions{})
	w.runOnce()
	before := len(w.jira.AllWorklogs())
	file := filepath.Join(w.dir, "workflows", "billable-mobile.yaml")
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(text), `"[billable] "`, `"[billed] "`, 1)
	if changed == string(text) || os.WriteFile(file, []byte(changed), 0o644) != nil {
		t.Fatal("could not change the example's map")
	}
	if code, out := w.sluice(appOptions{}, "resync", "billable-mobile", "--config", w.config); code != exitOK {
		t.Fatalf("resync: exit %d\n%s", code, out)
	}
	w.toggl.ResetStats()
	code, out := w.sluice(appOptions{}, "run", "--once", "--config", w.config, "--workflow", "billable-mobile")
	if code != exitOK || !strings.Contains(out, "created 0,") {
		t.Fatalf("run after resync: exit %d\n%s", code, out)
	}
	// The run read the whole backfill window again rather than the changes since its cursor.
	reqs := w.toggl.Requests()
	if len(reqs) != 1 || !strings.Contains(reqs[0].Query, "start_date=") || strings.Contains(reqs[0].Query, "since=") {
		t.Fatalf("Toggl requests after resync: %+v", reqs)
	}
	if n := len(w.jira.AllWorklogs()); n != before {
		t.Fatalf("Jira went from %d to %d worklogs", before, n)
	}
	for _, l := range w.jira.AllWorklogs() {
		if raw, _ := l.Property(jira.PropertyKey); strings.Contains(string(raw), "billable-mobile") && !strings.HasPrefix(l.CommentText(), "[billed] ") {
			t.Fatalf("worklog %s kept the old comment %q", l.ID, l.CommentText())
		}
	}
	if code, _ := w.sluice(appOptions{}, "resync", "nope", "--config", w.config); code != exitUsage {
		t.Fatalf("resync of an unknown workflow: exit %d", code)
	}
}
