// Package demo is the data and set-up of `sluice demo` and `sluice sim`: a simulated Toggl
// Track and Jira Cloud seeded with one consistent story (an agency with three people, five
// projects, three weeks of time entries whose descriptions name Jira issues), and a
// configuration that points the example workflows at them.
package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sluicehq/sluice/connectors/jira/jirasim"
	"github.com/sluicehq/sluice/connectors/toggl/togglsim"
)

// Credentials of the demo accounts. They only open the simulators.
const (
	TogglToken = "demo-toggl-token-ada"
	JiraEmail  = "ada@acme.example"
	JiraToken  = "demo-jira-token"
)

// Facts describes what Seed created.
type Facts struct {
	WorkspaceID int64
	// Users by first name; Ada owns TogglToken.
	Users map[string]int64
	// Projects by name.
	Projects map[string]int64
	// Entries counts the stopped entries; Running is the id of Ada's running one.
	Entries int
	Running int64
	Issues  int
	// Missing is an issue key that entries name but Jira does not have.
	Missing string
}

type project struct {
	name, client, jiraKey, jiraName string
	billable                        bool
	weight                          int
	issues                          []string // Jira summaries; issue n is issues[n-1]
	// chores are descriptions without an issue key.
	chores []string
}

var projects = []project{
	{name: "Website", client: "Northwind", jiraKey: "WEB", jiraName: "Northwind website", billable: true, weight: 5,
		issues: []string{"Header redesign", "Checkout page layout", "Fix login redirect", "Product image zoom",
			"Cookie banner", "Search results paging", "Newsletter sign-up form", "Speed up the home page",
			"Accessibility audit fixes", "Footer links", "Order history page", "Password reset e-mail",
			"Shipping cost calculator", "Wishlist", "Store locator map", "Blog layout"},
		chores: []string{"Code review", "Deploy to staging"}},
	{name: "Mobile App", client: "Contoso", jiraKey: "APP", jiraName: "Contoso mobile app", billable: true, weight: 4,
		issues: []string{"Onboarding screens", "Push notification settings", "Offline mode for lists",
			"Crash on Android 14 rotate", "Dark mode colours", "In-app purchase receipts", "Photo upload retry",
			"Biometric login", "Release 2.4 checklist", "Widget for the home screen"},
		chores: []string{"Estimation call"}},
	{name: "Support", client: "", jiraKey: "SUP", jiraName: "Support desk", billable: true, weight: 2,
		issues: []string{"Customer cannot reset password", "Invoice shows wrong VAT", "Export to CSV times out",
			"Login loop on Safari", "Duplicate order e-mails", "Refund not visible", "Slow dashboard for large accounts"}},
	{name: "Internal", client: "", jiraKey: "OPS", jiraName: "Operations", weight: 2,
		chores: []string{"Team standup", "Sprint planning", "1:1", "Inbox and admin", "Retrospective"}},
	{name: "Training", client: "", weight: 1,
		chores: []string{"Go concurrency course", "Conference talk prep", "Reading: Designing Data-Intensive Applications"}},
}

var people = []struct{ first, full, email, token string }{
	{"Ada", "Ada Park", "ada@acme.example", TogglToken},
	{"Grace", "Grace Chen", "grace@acme.example", "demo-toggl-token-grace"},
	{"Linus", "Linus Berg", "linus@acme.example", "demo-toggl-token-linus"},
}

// missingIssue is named by one of Ada's entries but does not exist in Jira, so the demo
// shows how a refused entry is reported while the run goes on.
const missingIssue = "WEB-404"

// SeedJira creates the demo's Jira account, projects and issues (OPS-1 and OPS-2 are the
// catch-all issues of internal and training time).
func SeedJira(j *jirasim.Server) int {
	j.AddAccount(JiraEmail, JiraToken, "Ada Park")
	n := 0
	for _, p := range projects {
		if p.jiraKey == "" {
			continue
		}
		j.AddProject(p.jiraKey, p.jiraName)
		for i, summary := range p.issues {
			j.AddIssue(fmt.Sprintf("%s-%d", p.jiraKey, i+1), summary)
			n++
		}
	}
	j.AddIssue("OPS-1", "Internal time")
	j.AddIssue("OPS-2", "Training and conferences")
	return n + 2
}

// SeedToggl creates the demo's organization, people, projects and three weeks of entries
// ending at now. The same now gives the same data.
func SeedToggl(t *togglsim.Server, now time.Time) Facts {
	rng := rand.New(rand.NewPCG(2026, 12))
	f := Facts{Users: map[string]int64{}, Projects: map[string]int64{}, Missing: missingIssue}
	org := t.AddOrganization("Acme Agency", togglsim.PlanStarter)
	f.WorkspaceID = t.AddWorkspace(org, "Acme Agency")
	for _, p := range people {
		id := t.AddUser(p.full, p.email, p.token)
		t.AddMember(f.WorkspaceID, id)
		f.Users[p.first] = id
	}
	clients := map[string]int64{}
	projectIDs := make([]int64, len(projects))
	total := 0
	for i, p := range projects {
		if p.client != "" && clients[p.client] == 0 {
			clients[p.client] = t.AddClient(f.WorkspaceID, p.client)
		}
		projectIDs[i] = t.AddProject(f.WorkspaceID, clients[p.client], p.name, p.billable)
		f.Projects[p.name] = projectIDs[i]
		total += p.weight
	}

	today := now.UTC().Truncate(24 * time.Hour)
	for back := 21; back >= 1; back-- {
		day := today.AddDate(0, 0, -back)
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		for _, person := range people {
			start := day.Add(8*time.Hour + time.Duration(rng.IntN(60))*time.Minute)
			for range 3 + rng.IntN(3) {
				pi := pick(rng, total)
				p := projects[pi]
				desc, billable := describe(rng, p)
				minutes := 15 + rng.IntN(135)
				d := time.Duration(minutes)*time.Minute + time.Duration(rng.IntN(60))*time.Second
				t.AddEntry(togglsim.NewEntry{
					UserID: f.Users[person.first], WorkspaceID: f.WorkspaceID, ProjectID: projectIDs[pi],
					Description: desc, Start: start, Duration: d, Billable: billable, CreatedWith: "sluice demo",
				})
				f.Entries++
				start = start.Add(d + time.Duration(5+rng.IntN(40))*time.Minute)
			}
		}
	}
	// An entry whose issue Jira does not have, and one that is still running.
	t.AddEntry(togglsim.NewEntry{
		UserID: f.Users["Ada"], WorkspaceID: f.WorkspaceID, ProjectID: projectIDs[0],
		Description: missingIssue + " Fix the 404 page", Start: today.AddDate(0, 0, -1).Add(17 * time.Hour),
		Duration: 40 * time.Minute, Billable: true, CreatedWith: "sluice demo",
	})
	f.Entries++
	f.Running = t.AddEntry(togglsim.NewEntry{
		UserID: f.Users["Ada"], WorkspaceID: f.WorkspaceID, ProjectID: projectIDs[0],
		Description: "WEB-1 Header redesign", Start: now.Add(-25 * time.Minute), Billable: true, CreatedWith: "sluice demo",
	})
	return f
}

// pick chooses a project index by weight.
func pick(rng *rand.Rand, total int) int {
	n := rng.IntN(total)
	for i, p := range projects {
		if n < p.weight {
			return i
		}
		n -= p.weight
	}
	return 0
}

// describe writes an entry's description: mostly an issue key and its summary, sometimes a
// chore without a key. Some Mobile App work is not billable.
func describe(rng *rand.Rand, p project) (string, bool) {
	billable := p.billable
	if p.name == "Mobile App" && rng.IntN(5) == 0 {
		billable = false
	}
	if len(p.issues) == 0 || (len(p.chores) > 0 && rng.IntN(6) == 0) {
		return p.chores[rng.IntN(len(p.chores))], billable
	}
	n := 1 + rng.IntN(len(p.issues))
	return fmt.Sprintf("%s-%d %s", p.jiraKey, n, p.issues[n-1]), billable
}
