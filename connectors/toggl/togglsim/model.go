package togglsim

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// First ids of each kind. They are realistic in size; entry ids exceed int32 like real ones.
const (
	firstOrgID       = 9_000_001
	firstWorkspaceID = 5_000_001
	firstUserID      = 10_000_001
	firstClientID    = 60_000_001
	firstProjectID   = 190_000_001
	firstTaskID      = 80_000_001
	firstTagID       = 15_000_001
	firstEntryID     = 4_000_000_001
)

// Entry is a time entry as the simulator stores it. Times are UTC with whole seconds.
type Entry struct {
	ID          int64
	WorkspaceID int64
	UserID      int64
	// ProjectID and TaskID are 0 when unset.
	ProjectID   int64
	TaskID      int64
	Description string
	Start       time.Time
	// Stop is zero while the entry runs.
	Stop     time.Time
	Billable bool
	// Tags are tag names; each exists as a tag of the entry's workspace.
	Tags        []string
	CreatedWith string
	// At is the last change, bumped by every edit (API or Go-side).
	At time.Time
	// DeletedAt is zero unless the entry was deleted; it is sent as server_deleted_at.
	DeletedAt time.Time
}

// Running reports whether the entry has no stop time yet.
func (e Entry) Running() bool { return e.Stop.IsZero() }

// Deleted reports whether the entry was deleted.
func (e Entry) Deleted() bool { return !e.DeletedAt.IsZero() }

// Duration is the stopped entry's length, or the time run so far at now.
func (e Entry) Duration(now time.Time) time.Duration {
	if e.Running() {
		return now.Sub(e.Start)
	}
	return e.Stop.Sub(e.Start)
}

func (e Entry) clone() Entry {
	e.Tags = slices.Clone(e.Tags)
	return e
}

// NewEntry describes a time entry to seed with AddEntry.
type NewEntry struct {
	UserID      int64
	WorkspaceID int64
	ProjectID   int64 // 0 = none
	TaskID      int64 // 0 = none; the project is taken from the task when ProjectID is 0
	Description string
	Start       time.Time     // zero = Clock.Now()
	Duration    time.Duration // 0 = running
	Billable    bool
	Tags        []string
	// CreatedWith defaults to "togglsim".
	CreatedWith string
	// At defaults to Clock.Now(); set it to seed history.
	At time.Time
}

type organization struct {
	id   int64
	name string
	plan Plan
	at   time.Time
}

type workspace struct {
	id      int64
	orgID   int64
	name    string
	at      time.Time
	members []int64 // user ids in joining order
}

func (w *workspace) hasMember(uid int64) bool { return slices.Contains(w.members, uid) }

type user struct {
	id         int64
	fullname   string
	email      string
	token      string
	at         time.Time
	workspaces []int64 // workspace ids in joining order; the first is the default
}

type client struct {
	id, wid, creatorID int64
	name               string
	at                 time.Time
}

type project struct {
	id, wid, clientID int64
	name, color       string
	billable, active  bool
	at                time.Time
}

type task struct {
	id, pid, wid int64
	name         string
	active       bool
	at           time.Time
}

type tag struct {
	id, wid, creatorID int64
	name               string
	at                 time.Time
}

// projectColors cycles through Toggl's palette for seeded projects.
var projectColors = []string{"#0b83d9", "#9e5bd9", "#d94182", "#e36a00", "#bf7000", "#2da608", "#06a893", "#c9806b", "#465bb3", "#990099"}

// mustf panics with a togglsim-prefixed message. Seeding methods use it: a bad id there is a
// bug in the test or demo set-up, found at once.
func mustf(format string, args ...any) {
	panic(fmt.Sprintf("togglsim: "+format, args...))
}

// AddOrganization creates an organization on plan and returns its id. Its quota per user is
// the plan's (free 30, starter 240, premium 600, enterprise 2000 unless Options.PlanQuota
// says otherwise). It panics on an unknown plan.
func (s *Server) AddOrganization(name string, plan Plan) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.opts.PlanQuota[plan]; !ok {
		mustf("add organization %q: unknown plan %q", name, plan)
	}
	id := s.nextID(&s.lastOrg, firstOrgID)
	s.orgs[id] = &organization{id: id, name: name, plan: plan, at: s.now()}
	return id
}

// AddWorkspace creates a workspace in organization orgID. It panics if the organization
// does not exist.
func (s *Server) AddWorkspace(orgID int64, name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.orgs[orgID] == nil {
		mustf("add workspace %q: no organization %d", name, orgID)
	}
	id := s.nextID(&s.lastWorkspace, firstWorkspaceID)
	s.workspaces[id] = &workspace{id: id, orgID: orgID, name: name, at: s.now()}
	return id
}

// AddUser creates a user who authenticates with apiToken. It panics on an empty or
// duplicate token.
func (s *Server) AddUser(fullname, email, apiToken string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if apiToken == "" {
		mustf("add user %q: empty API token", fullname)
	}
	if _, dup := s.tokens[apiToken]; dup {
		mustf("add user %q: API token already used", fullname)
	}
	id := s.nextID(&s.lastUser, firstUserID)
	s.users[id] = &user{id: id, fullname: fullname, email: email, token: apiToken, at: s.now()}
	s.tokens[apiToken] = id
	return id
}

// AddMember makes a user a member of a workspace, and so of its organization. A user's
// default workspace is the first one joined. Joining twice is a no-op. It panics on unknown
// ids.
func (s *Server) AddMember(workspaceID, userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, u := s.workspaces[workspaceID], s.users[userID]
	if w == nil || u == nil {
		mustf("add member: workspace %d or user %d does not exist", workspaceID, userID)
	}
	if w.hasMember(userID) {
		return
	}
	w.members = append(w.members, userID)
	u.workspaces = append(u.workspaces, workspaceID)
}

// RemoveMember takes a user out of a workspace. Their entries stay stored but leave the
// workspace's reports, and the user loses access to the workspace (403). It panics on unknown
// ids.
func (s *Server) RemoveMember(workspaceID, userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, u := s.workspaces[workspaceID], s.users[userID]
	if w == nil || u == nil {
		mustf("remove member: workspace %d or user %d does not exist", workspaceID, userID)
	}
	w.members = slices.DeleteFunc(w.members, func(id int64) bool { return id == userID })
	u.workspaces = slices.DeleteFunc(u.workspaces, func(id int64) bool { return id == workspaceID })
}

// AddClient creates a client in a workspace. It panics if the workspace does not exist.
func (s *Server) AddClient(workspaceID int64, name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.workspaces[workspaceID]
	if w == nil {
		mustf("add client %q: no workspace %d", name, workspaceID)
	}
	var creator int64
	if len(w.members) > 0 {
		creator = w.members[0]
	}
	id := s.nextID(&s.lastClient, firstClientID)
	s.clients[id] = &client{id: id, wid: workspaceID, creatorID: creator, name: name, at: s.now()}
	return id
}

// AddProject creates an active project; clientID 0 means no client. It panics if the
// workspace does not exist or the client belongs to another workspace.
func (s *Server) AddProject(workspaceID, clientID int64, name string, billable bool) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.workspaces[workspaceID] == nil {
		mustf("add project %q: no workspace %d", name, workspaceID)
	}
	if clientID != 0 && (s.clients[clientID] == nil || s.clients[clientID].wid != workspaceID) {
		mustf("add project %q: no client %d in workspace %d", name, clientID, workspaceID)
	}
	id := s.nextID(&s.lastProject, firstProjectID)
	color := projectColors[int(id-firstProjectID)%len(projectColors)]
	s.projects[id] = &project{id: id, wid: workspaceID, clientID: clientID, name: name, color: color,
		billable: billable, active: true, at: s.now()}
	return id
}

// AddTask creates an active task in a project. It panics if the project does not exist.
func (s *Server) AddTask(projectID int64, name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[projectID]
	if p == nil {
		mustf("add task %q: no project %d", name, projectID)
	}
	id := s.nextID(&s.lastTask, firstTaskID)
	s.tasks[id] = &task{id: id, pid: projectID, wid: p.wid, name: name, active: true, at: s.now()}
	return id
}

// AddTag creates a tag in a workspace, or returns the id of the tag with that name.
func (s *Server) AddTag(workspaceID int64, name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.workspaces[workspaceID] == nil {
		mustf("add tag %q: no workspace %d", name, workspaceID)
	}
	return s.ensureTag(workspaceID, 0, name).id
}

// AddEntry stores a time entry and returns its id. Duration 0 makes it a running entry; like
// the API, starting one stops the user's other running entry. It panics when the user is not
// a member of the workspace or the project or task is not in it.
func (s *Server) AddEntry(ne NewEntry) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, u := s.workspaces[ne.WorkspaceID], s.users[ne.UserID]
	if w == nil || u == nil || !w.hasMember(ne.UserID) {
		mustf("add entry: user %d is not a member of workspace %d", ne.UserID, ne.WorkspaceID)
	}
	now := s.now()
	e := Entry{
		WorkspaceID: ne.WorkspaceID,
		UserID:      ne.UserID,
		ProjectID:   ne.ProjectID,
		TaskID:      ne.TaskID,
		Description: ne.Description,
		Start:       ne.Start,
		Billable:    ne.Billable,
		Tags:        slices.Clone(ne.Tags),
		CreatedWith: ne.CreatedWith,
		At:          ne.At,
	}
	if e.Start.IsZero() {
		e.Start = now
	}
	e.Start = second(e.Start)
	if ne.Duration < 0 {
		mustf("add entry: negative duration %s", ne.Duration)
	}
	if ne.Duration > 0 {
		e.Stop = e.Start.Add(ne.Duration.Round(time.Second))
	}
	if e.CreatedWith == "" {
		e.CreatedWith = "togglsim"
	}
	if e.At.IsZero() {
		e.At = now
	}
	if e.TaskID != 0 && e.ProjectID == 0 && s.tasks[e.TaskID] != nil {
		e.ProjectID = s.tasks[e.TaskID].pid
	}
	if err := s.checkEntry(&e); err != nil {
		mustf("add entry: %v", err)
	}
	return s.insertEntry(e, now)
}

// UpdateEntry edits a live entry in place, as if the user changed it in the Toggl app, and
// bumps its `at` to Clock.Now(). The edit runs under the simulator's lock and must not call
// other Server methods; it may not change the id. It returns ErrNotFound for an unknown or
// deleted entry and an error wrapping ErrInvalidEntry (discarding the edit) when the result is
// inconsistent.
func (s *Server) UpdateEntry(id int64, edit func(*Entry)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.entries[id]
	if !ok || cur.Deleted() {
		return fmt.Errorf("togglsim: update entry %d: %w", id, ErrNotFound)
	}
	e := cur.clone()
	edit(&e)
	e.ID = id
	e.Start = second(e.Start)
	if !e.Stop.IsZero() {
		e.Stop = second(e.Stop)
	}
	if err := s.checkEntry(&e); err != nil {
		return fmt.Errorf("togglsim: update entry %d: %w", id, err)
	}
	now := s.now()
	for _, name := range e.Tags {
		s.ensureTag(e.WorkspaceID, e.UserID, name)
	}
	e.At = now
	if e.Running() {
		s.stopRunning(e.UserID, e.ID, e.Start, now)
	}
	s.entries[id] = &e
	return nil
}

// DeleteEntry deletes an entry as the Toggl app would: server_deleted_at and `at` become
// Clock.Now(), the entry disappears from every listing except /me/time_entries?since=…, which
// returns it as a tombstone. It returns ErrNotFound for an unknown or already deleted entry.
func (s *Server) DeleteEntry(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok || e.Deleted() {
		return fmt.Errorf("togglsim: delete entry %d: %w", id, ErrNotFound)
	}
	now := s.now()
	e.DeletedAt, e.At = now, now
	return nil
}

// StopEntry stops a running entry at stop (clamped to its start) and bumps `at`. It returns
// ErrNotFound or ErrAlreadyStopped.
func (s *Server) StopEntry(id int64, stop time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok || e.Deleted() {
		return fmt.Errorf("togglsim: stop entry %d: %w", id, ErrNotFound)
	}
	if !e.Running() {
		return fmt.Errorf("togglsim: stop entry %d: %w", id, ErrAlreadyStopped)
	}
	s.stopEntry(e, stop, s.now())
	return nil
}

// Entry returns a copy of the stored entry, deleted ones included.
func (s *Server) Entry(id int64) (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok {
		return Entry{}, false
	}
	return e.clone(), true
}

// Entries returns copies of every stored entry, deleted ones included, in id order.
func (s *Server) Entries() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Entry, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e.clone())
	}
	slices.SortFunc(out, func(a, b Entry) int { return cmpInt(a.ID, b.ID) })
	return out
}

// nextID advances one id counter. Callers hold s.mu.
func (s *Server) nextID(last *int64, first int64) int64 {
	if *last == 0 {
		*last = first
	} else {
		*last++
	}
	return *last
}

// checkEntry validates references and times of e. Callers hold s.mu.
func (s *Server) checkEntry(e *Entry) error {
	w := s.workspaces[e.WorkspaceID]
	if w == nil {
		return fmt.Errorf("%w: no workspace %d", ErrInvalidEntry, e.WorkspaceID)
	}
	if s.users[e.UserID] == nil {
		return fmt.Errorf("%w: no user %d", ErrInvalidEntry, e.UserID)
	}
	if e.ProjectID != 0 {
		if p := s.projects[e.ProjectID]; p == nil || p.wid != e.WorkspaceID {
			return fmt.Errorf("%w: no project %d in workspace %d", ErrInvalidEntry, e.ProjectID, e.WorkspaceID)
		}
	}
	if e.TaskID != 0 {
		if t := s.tasks[e.TaskID]; t == nil || t.pid != e.ProjectID {
			return fmt.Errorf("%w: no task %d in project %d", ErrInvalidEntry, e.TaskID, e.ProjectID)
		}
	}
	if e.Start.IsZero() {
		return fmt.Errorf("%w: no start", ErrInvalidEntry)
	}
	if !e.Stop.IsZero() && e.Stop.Before(e.Start) {
		return fmt.Errorf("%w: stop %s before start %s", ErrInvalidEntry, e.Stop.Format(time.RFC3339), e.Start.Format(time.RFC3339))
	}
	return nil
}

// insertEntry assigns an id, creates missing tags and stores e; a running e stops the user's
// other running entry. Callers hold s.mu and have checked e.
func (s *Server) insertEntry(e Entry, now time.Time) int64 {
	e.ID = s.nextID(&s.lastEntry, firstEntryID)
	e.Start = e.Start.UTC()
	if !e.Stop.IsZero() {
		e.Stop = e.Stop.UTC()
	}
	for _, name := range e.Tags {
		s.ensureTag(e.WorkspaceID, e.UserID, name)
	}
	if e.Running() {
		s.stopRunning(e.UserID, e.ID, e.Start, now)
	}
	s.entries[e.ID] = &e
	return e.ID
}

// stopRunning stops the user's running entries other than keep at stop: Toggl allows one
// running entry per user and starting a timer stops the previous one. Callers hold s.mu.
func (s *Server) stopRunning(userID, keep int64, stop, now time.Time) {
	for _, e := range s.entries {
		if e.UserID == userID && e.ID != keep && e.Running() && !e.Deleted() {
			s.stopEntry(e, stop, now)
		}
	}
}

// stopEntry sets e's stop (never before its start) and bumps at. Callers hold s.mu.
func (s *Server) stopEntry(e *Entry, stop, now time.Time) {
	stop = second(stop)
	if stop.Before(e.Start) {
		stop = e.Start
	}
	e.Stop = stop
	e.At = now
}

// ensureTag returns the workspace's tag called name, creating it if needed. Callers hold s.mu.
func (s *Server) ensureTag(wid, creator int64, name string) *tag {
	for _, t := range s.tags {
		if t.wid == wid && strings.EqualFold(t.name, name) {
			return t
		}
	}
	id := s.nextID(&s.lastTag, firstTagID)
	t := &tag{id: id, wid: wid, creatorID: creator, name: name, at: s.now()}
	s.tags[id] = t
	return t
}

// tagByName finds a workspace tag without creating it. Callers hold s.mu.
func (s *Server) tagByName(wid int64, name string) *tag {
	for _, t := range s.tags {
		if t.wid == wid && strings.EqualFold(t.name, name) {
			return t
		}
	}
	return nil
}

// orgsOf returns the ids of the organizations a user belongs to through a workspace, sorted.
// Callers hold s.mu.
func (s *Server) orgsOf(u *user) []int64 {
	var ids []int64
	for _, wid := range u.workspaces {
		if w := s.workspaces[wid]; w != nil && !slices.Contains(ids, w.orgID) {
			ids = append(ids, w.orgID)
		}
	}
	slices.Sort(ids)
	return ids
}

// second truncates t to whole seconds in UTC, the precision Toggl keeps.
func second(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
