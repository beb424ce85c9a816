package togglsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Error bodies of the Track API. Those marked (spec) or (seen) are Toggl's words; the others
// are the simulator's (UNCONFIRMED).
const (
	msgNoAccess          = "User does not have access to this resource."         // spec
	msgNotFound          = "Resource can not be found"                           // spec
	msgEntryNotFound     = "Time entry not found"                                // spec
	msgAlreadyStopped    = "Time entry already stopped"                          // spec
	msgBadEntryID        = "Invalid or missing time_entry_id"                    // spec
	msgBadJSON           = "Invalid JSON input"                                  // spec (tags endpoint)
	msgCreatedWith       = "created_with needs to be provided an a valid string" // seen
	msgBadProject        = "User cannot access the selected project"             // seen
	msgBadTask           = "User cannot access selected task"                    // seen
	msgWorkspaceRequired = "workspace_id is required"
	msgWorkspaceMismatch = "workspace_id in the body does not match the workspace in the path"
	msgStartRequired     = "start is required"
	msgStopBeforeStart   = "stop must not be earlier than start"
	msgInconsistent      = "stop and duration are not consistent: start + duration must equal stop"
	msgDatesTogether     = "start_date and end_date must be used together"
	msgEndAfterStart     = "end_date must be after start_date"
)

func badParam(name string) string { return "Invalid '" + name + "' value" }

// ---- /me ----

func (s *Server) getMe(c *call) reply {
	u := c.user
	m := meJSON{
		ID:                     u.id,
		APIToken:               u.token,
		Email:                  u.email,
		Fullname:               u.fullname,
		Timezone:               "UTC",
		BeginningOfWeek:        1,
		ImageURL:               "https://assets.track.toggl.com/images/profile.png",
		CreatedAt:              fmtTime(u.at),
		UpdatedAt:              fmtTime(u.at),
		HasPassword:            true,
		At:                     fmtTime(u.at),
		AuthorizationUpdatedAt: fmtTime(u.at),
	}
	if len(u.workspaces) > 0 {
		m.DefaultWorkspaceID = u.workspaces[0]
	}
	if c.boolQuery("with_related_data") {
		for _, wid := range u.workspaces {
			w := s.workspaces[wid]
			m.Workspaces = append(m.Workspaces, s.renderWorkspace(w, u, false))
			for _, cl := range sortedByID(s.clients, func(x *client) (int64, bool) { return x.id, x.wid == wid }) {
				m.Clients = append(m.Clients, renderClient(cl))
			}
			for _, p := range sortedByID(s.projects, func(x *project) (int64, bool) { return x.id, x.wid == wid }) {
				m.Projects = append(m.Projects, s.renderProject(p))
			}
			for _, t := range sortedByID(s.tags, func(x *tag) (int64, bool) { return x.id, x.wid == wid }) {
				m.Tags = append(m.Tags, renderTag(t))
			}
			for _, t := range sortedByID(s.tasks, func(x *task) (int64, bool) { return x.id, x.wid == wid }) {
				m.Tasks = append(m.Tasks, s.renderTask(t))
			}
		}
		if es := s.listMeEntries(u, entryFilter{}, c.now); len(es) > 0 {
			m.TimeEntries = s.renderEntries(es, renderOpts{})
		}
	}
	return jsonReply(http.StatusOK, m)
}

// sortedByID returns the map values keep accepts, in id order.
func sortedByID[T any](m map[int64]*T, keep func(*T) (int64, bool)) []*T {
	var ids []int64
	for id, v := range m {
		if _, ok := keep(v); ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]*T, len(ids))
	for i, id := range ids {
		out[i] = m[id]
	}
	return out
}

// quotaJSON is me.GetQuotaResult.
type quotaJSON struct {
	OrganizationID *int64 `json:"organization_id"`
	Remaining      int    `json:"remaining"`
	ResetsInSecs   int    `json:"resets_in_secs"`
	Total          int    `json:"total"`
}

// getMeQuota lists one item per organization the user belongs to, then the user bucket
// (organization_id null). This call has already been charged to the user bucket.
func (s *Server) getMeQuota(c *call) reply {
	out := []quotaJSON{}
	for _, oid := range append(s.orgsOf(c.user), 0) {
		b := s.bucket(c.user.id, oid, c.now)
		limit := s.limit(oid)
		out = append(out, quotaJSON{
			OrganizationID: idPtr(oid),
			Remaining:      s.remaining(b, limit),
			ResetsInSecs:   ceilSeconds(b.resetsIn(c.now)),
			Total:          limit,
		})
	}
	return jsonReply(http.StatusOK, out)
}

func (s *Server) getMeWorkspaces(c *call) reply {
	out := []workspaceJSON{}
	for _, wid := range c.user.workspaces {
		out = append(out, s.renderWorkspace(s.workspaces[wid], c.user, true))
	}
	return jsonReply(http.StatusOK, out)
}

func (s *Server) getMeOrganizations(c *call) reply {
	out := []orgJSON{}
	for _, oid := range s.orgsOf(c.user) {
		out = append(out, s.renderOrg(s.orgs[oid], c.user))
	}
	return jsonReply(http.StatusOK, out)
}

func (s *Server) getOrganization(c *call) reply {
	oid, _ := c.idParam("organization_id") // bucketFor checked access
	return jsonReply(http.StatusOK, s.renderOrg(s.orgs[oid], c.user))
}

func (s *Server) getWorkspace(c *call) reply {
	return jsonReply(http.StatusOK, s.renderWorkspace(c.ws, c.user, false))
}

// ---- /me/time_entries ----

// entryFilter selects a user's entries for /me/time_entries.
type entryFilter struct {
	since    int64
	useSince bool
	before   time.Time
	from, to time.Time
}

// listMeEntries applies the filter, the age cap and the row cap; newest start first.
// Without since deleted entries are left out; with it they come back as tombstones.
// Callers hold s.mu.
func (s *Server) listMeEntries(u *user, f entryFilter, now time.Time) []*Entry {
	oldest := now.Add(-s.opts.MeEntriesMaxAge)
	var out []*Entry
	for _, e := range s.entries {
		switch {
		case e.UserID != u.id:
		case e.Start.Before(oldest):
		case f.useSince && e.At.Unix() < f.since:
		case !f.useSince && e.Deleted():
		case !f.before.IsZero() && !e.Start.Before(f.before):
		case !f.from.IsZero() && (e.Start.Before(f.from) || !e.Start.Before(f.to)):
		default:
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *Entry) int {
		if c := b.Start.Compare(a.Start); c != 0 {
			return c
		}
		return cmpInt(b.ID, a.ID)
	})
	if len(out) > s.opts.MeEntriesCap {
		out = out[:s.opts.MeEntriesCap]
	}
	return out
}

// parseWhen accepts YYYY-MM-DD (midnight UTC) or RFC 3339.
func parseWhen(v string) (time.Time, bool) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}

func (s *Server) getMeTimeEntries(c *call) reply {
	var f entryFilter
	if v, ok := c.query("since"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errorReply(http.StatusBadRequest, badParam("since"))
		}
		f.since, f.useSince = n, true
	}
	if v, ok := c.query("before"); ok {
		t, ok := parseWhen(v)
		if !ok {
			return errorReply(http.StatusBadRequest, badParam("before"))
		}
		f.before = t
	}
	sd, hasStart := c.query("start_date")
	ed, hasEnd := c.query("end_date")
	if hasStart != hasEnd {
		return errorReply(http.StatusBadRequest, msgDatesTogether)
	}
	if hasStart {
		from, ok := parseWhen(sd)
		if !ok {
			return errorReply(http.StatusBadRequest, badParam("start_date"))
		}
		to, ok := parseWhen(ed)
		if !ok {
			return errorReply(http.StatusBadRequest, badParam("end_date"))
		}
		if !to.After(from) {
			return errorReply(http.StatusBadRequest, msgEndAfterStart)
		}
		f.from, f.to = from, to
	}
	es := s.listMeEntries(c.user, f, c.now)
	return jsonReply(http.StatusOK, s.renderEntries(es, renderOpts{meta: c.boolQuery("meta"), sharing: c.boolQuery("include_sharing")}))
}

func (s *Server) getCurrentEntry(c *call) reply {
	var cur *Entry
	for _, e := range s.entries {
		if e.UserID == c.user.id && e.Running() && !e.Deleted() {
			cur = e
		}
	}
	if cur == nil {
		if s.opts.CurrentEntryNone == CurrentNoneNull {
			return jsonReply(http.StatusOK, nil)
		}
		return errorReply(http.StatusNotFound, msgNotFound)
	}
	return jsonReply(http.StatusOK, s.renderEntry(cur, renderOpts{meta: c.boolQuery("meta")}))
}

func (s *Server) getMeTimeEntry(c *call) reply {
	id, ok := c.idParam("time_entry_id")
	if !ok {
		return errorReply(http.StatusBadRequest, msgBadEntryID)
	}
	e := s.entries[id]
	if e == nil || e.UserID != c.user.id || e.Deleted() {
		return errorReply(http.StatusNotFound, msgNotFound)
	}
	return jsonReply(http.StatusOK, s.renderEntry(e, renderOpts{meta: c.boolQuery("meta"), sharing: c.boolQuery("include_sharing")}))
}

// ---- writes ----

// opt is a JSON field that remembers whether it was sent, and whether as null.
type opt[T any] struct {
	Set, Null bool
	V         T
}

func (o *opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// has reports whether the field was sent with a value.
func (o opt[T]) has() bool { return o.Set && !o.Null }

// entryPayload is timeentry.Payload. Unknown fields are ignored, as a lenient server would.
type entryPayload struct {
	Billable          opt[bool]     `json:"billable"`
	CreatedWith       opt[string]   `json:"created_with"`
	Description       opt[string]   `json:"description"`
	Duration          opt[int64]    `json:"duration"`
	Duronly           opt[bool]     `json:"duronly"`
	EventMetadata     any           `json:"event_metadata"`
	ExpenseIDs        opt[[]int64]  `json:"expense_ids"`
	PID               opt[int64]    `json:"pid"`
	ProjectID         opt[int64]    `json:"project_id"`
	SharedWithUserIDs opt[[]int64]  `json:"shared_with_user_ids"`
	Start             opt[string]   `json:"start"`
	StartDate         opt[string]   `json:"start_date"`
	Stop              opt[string]   `json:"stop"`
	TagAction         opt[string]   `json:"tag_action"`
	TagIDs            opt[[]int64]  `json:"tag_ids"`
	Tags              opt[[]string] `json:"tags"`
	TaskID            opt[int64]    `json:"task_id"`
	TID               opt[int64]    `json:"tid"`
	UID               opt[int64]    `json:"uid"`
	UserID            opt[int64]    `json:"user_id"`
	WID               opt[int64]    `json:"wid"`
	WorkspaceID       opt[int64]    `json:"workspace_id"`
}

func parsePayload(body []byte) (entryPayload, bool) {
	var p entryPayload
	if len(bytes.TrimSpace(body)) == 0 || bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		return p, false
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return p, false
	}
	return p, true
}

// first returns the first of the fields that was sent (modern name before legacy alias).
func first[T any](fs ...opt[T]) opt[T] {
	for _, f := range fs {
		if f.Set {
			return f
		}
	}
	return opt[T]{}
}

// parseStart reads start and applies start_date, whose date part wins.
func parseStart(p entryPayload) (time.Time, string) {
	t, err := time.Parse(time.RFC3339Nano, p.Start.V)
	if err != nil {
		return time.Time{}, badParam("start")
	}
	t = second(t)
	if p.StartDate.has() {
		d, err := time.Parse(time.DateOnly, p.StartDate.V)
		if err != nil {
			return time.Time{}, badParam("start_date")
		}
		t = time.Date(d.Year(), d.Month(), d.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
	}
	return t, ""
}

// applyTiming sets e.Stop from stop and/or duration, checking they agree. stopGiven and
// durGiven say what the payload carried; with neither, keepStop decides between leaving e
// as it is (update) and a zero-length entry (create: an absent duration reads as 0).
func applyTiming(e *Entry, p entryPayload, keepStop bool) string {
	if p.Stop.has() {
		stop, err := time.Parse(time.RFC3339Nano, p.Stop.V)
		if err != nil {
			return badParam("stop")
		}
		stop = second(stop)
		if stop.Before(e.Start) {
			return msgStopBeforeStart
		}
		if p.Duration.has() && p.Duration.V != int64(stop.Sub(e.Start)/time.Second) {
			return msgInconsistent
		}
		e.Stop = stop
		return ""
	}
	if p.Duration.has() {
		if p.Duration.V < 0 {
			e.Stop = time.Time{}
			return ""
		}
		e.Stop = e.Start.Add(time.Duration(p.Duration.V) * time.Second)
		return ""
	}
	if keepStop {
		if !e.Stop.IsZero() && e.Stop.Before(e.Start) {
			return msgStopBeforeStart
		}
		return ""
	}
	e.Stop = e.Start
	return ""
}

// applyRefs sets project, task and tags from the payload. Callers hold s.mu.
func (s *Server) applyRefs(e *Entry, p entryPayload, creating bool) (int, string) {
	if f := first(p.ProjectID, p.PID); f.Set {
		e.ProjectID = 0
		if f.has() && f.V != 0 {
			pr := s.projects[f.V]
			if pr == nil || pr.wid != e.WorkspaceID {
				return http.StatusBadRequest, msgBadProject
			}
			e.ProjectID = f.V
		}
		if e.TaskID != 0 && s.tasks[e.TaskID].pid != e.ProjectID {
			e.TaskID = 0
		}
	}
	if f := first(p.TaskID, p.TID); f.Set {
		e.TaskID = 0
		if f.has() && f.V != 0 {
			t := s.tasks[f.V]
			if t == nil || t.wid != e.WorkspaceID || (e.ProjectID != 0 && t.pid != e.ProjectID) {
				return http.StatusBadRequest, msgBadTask
			}
			e.TaskID, e.ProjectID = f.V, t.pid
		}
	}
	if !p.Tags.Set && !p.TagIDs.Set {
		return 0, ""
	}
	var names []string
	names = append(names, p.Tags.V...)
	for _, id := range p.TagIDs.V {
		t := s.tags[id]
		if t == nil || t.wid != e.WorkspaceID {
			return http.StatusBadRequest, badParam("tag_ids")
		}
		names = append(names, t.name)
	}
	action := p.TagAction.V
	if creating || !p.TagAction.has() {
		action = ""
	}
	switch action {
	case "":
		e.Tags = nil
		addTags(e, names)
	case "add":
		addTags(e, names)
	case "delete":
		e.Tags = slices.DeleteFunc(e.Tags, func(t string) bool {
			return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, t) })
		})
	default:
		return http.StatusBadRequest, badParam("tag_action")
	}
	return 0, ""
}

func addTags(e *Entry, names []string) {
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n != "" && !slices.ContainsFunc(e.Tags, func(t string) bool { return strings.EqualFold(t, n) }) {
			e.Tags = append(e.Tags, n)
		}
	}
}

// createEntry is POST /workspaces/{workspace_id}/time_entries. It answers 200 (not 201).
func (s *Server) createEntry(c *call) reply {
	p, ok := parsePayload(c.body)
	if !ok {
		return errorReply(http.StatusBadRequest, msgBadJSON)
	}
	if !p.CreatedWith.has() || strings.TrimSpace(p.CreatedWith.V) == "" {
		return errorReply(http.StatusBadRequest, msgCreatedWith)
	}
	ws := first(p.WorkspaceID, p.WID)
	if !ws.has() || ws.V == 0 {
		return errorReply(http.StatusBadRequest, msgWorkspaceRequired)
	}
	if ws.V != c.ws.id {
		return errorReply(http.StatusBadRequest, msgWorkspaceMismatch)
	}
	if uid := first(p.UserID, p.UID); uid.has() && uid.V != 0 && uid.V != c.user.id {
		return errorReply(http.StatusForbidden, msgNoAccess)
	}
	if !p.Start.has() || p.Start.V == "" {
		return errorReply(http.StatusBadRequest, msgStartRequired)
	}
	start, msg := parseStart(p)
	if msg != "" {
		return errorReply(http.StatusBadRequest, msg)
	}
	e := Entry{
		WorkspaceID: c.ws.id,
		UserID:      c.user.id,
		Description: p.Description.V,
		Start:       start,
		Billable:    p.Billable.V,
		CreatedWith: p.CreatedWith.V,
		At:          c.now,
	}
	if msg := applyTiming(&e, p, false); msg != "" {
		return errorReply(http.StatusBadRequest, msg)
	}
	if status, msg := s.applyRefs(&e, p, true); msg != "" {
		return errorReply(status, msg)
	}
	id := s.insertEntry(e, c.now)
	return jsonReply(http.StatusOK, s.renderEntry(s.entries[id], renderOpts{meta: c.boolQuery("meta")}))
}

// ownEntry finds a live entry of the caller in the path's workspace. Callers hold s.mu.
func (s *Server) ownEntry(c *call) (*Entry, reply, bool) {
	id, ok := c.idParam("time_entry_id")
	if !ok {
		return nil, errorReply(http.StatusBadRequest, msgBadEntryID), false
	}
	e := s.entries[id]
	if e == nil || e.Deleted() || e.WorkspaceID != c.ws.id || e.UserID != c.user.id {
		return nil, errorReply(http.StatusNotFound, msgEntryNotFound), false
	}
	return e, reply{}, true
}

// updateEntry is PUT /workspaces/{workspace_id}/time_entries/{time_entry_id}: the fields
// sent replace the stored ones; `at` is bumped.
func (s *Server) updateEntry(c *call) reply {
	cur, rep, ok := s.ownEntry(c)
	if !ok {
		return rep
	}
	p, ok := parsePayload(c.body)
	if !ok {
		return errorReply(http.StatusBadRequest, msgBadJSON)
	}
	if ws := first(p.WorkspaceID, p.WID); ws.has() && ws.V != c.ws.id {
		return errorReply(http.StatusBadRequest, msgWorkspaceMismatch)
	}
	if uid := first(p.UserID, p.UID); uid.has() && uid.V != 0 && uid.V != c.user.id {
		return errorReply(http.StatusForbidden, msgNoAccess)
	}
	e := cur.clone()
	if p.Start.has() {
		start, msg := parseStart(p)
		if msg != "" {
			return errorReply(http.StatusBadRequest, msg)
		}
		e.Start = start
	}
	if msg := applyTiming(&e, p, true); msg != "" {
		return errorReply(http.StatusBadRequest, msg)
	}
	if p.Description.Set {
		e.Description = p.Description.V
	}
	if p.Billable.Set {
		e.Billable = p.Billable.V
	}
	if status, msg := s.applyRefs(&e, p, false); msg != "" {
		return errorReply(status, msg)
	}
	for _, name := range e.Tags {
		s.ensureTag(e.WorkspaceID, e.UserID, name)
	}
	e.At = c.now
	if e.Running() {
		s.stopRunning(e.UserID, e.ID, e.Start, c.now)
	}
	*cur = e
	return jsonReply(http.StatusOK, s.renderEntry(cur, renderOpts{meta: c.boolQuery("meta"), sharing: c.boolQuery("include_sharing")}))
}

// deleteEntry is DELETE …/time_entries/{id}: 200 with an empty body; the entry becomes a
// tombstone with server_deleted_at set.
func (s *Server) deleteEntry(c *call) reply {
	e, rep, ok := s.ownEntry(c)
	if !ok {
		return rep
	}
	e.DeletedAt, e.At = c.now, c.now
	return reply{status: http.StatusOK}
}

// stopEntryHTTP is PATCH …/time_entries/{id}/stop: 409 when not running.
func (s *Server) stopEntryHTTP(c *call) reply {
	e, rep, ok := s.ownEntry(c)
	if !ok {
		return rep
	}
	if !e.Running() {
		return errorReply(http.StatusConflict, msgAlreadyStopped)
	}
	s.stopEntry(e, c.now, c.now)
	return jsonReply(http.StatusOK, s.renderEntry(e, renderOpts{}))
}

// ---- workspace lookups ----

// page cuts items to one page; page numbers start at 1.
func page[T any](items []T, pageNo, perPage int) []T {
	from := (pageNo - 1) * perPage
	if from >= len(items) {
		return items[:0]
	}
	return items[from:min(from+perPage, len(items))]
}

// intQuery parses an optional positive integer query parameter.
func (c *call) intQuery(name string, def, maxV int) (int, bool) {
	v, ok := c.query(name)
	if !ok || v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || (maxV > 0 && n > maxV) {
		return 0, false
	}
	return n, true
}

// activeFilter reads active=true|false|both (default true).
func (c *call) activeFilter() (func(bool) bool, bool) {
	v, _ := c.query("active")
	switch v {
	case "", "true":
		return func(a bool) bool { return a }, true
	case "false":
		return func(a bool) bool { return !a }, true
	case "both":
		return func(bool) bool { return true }, true
	}
	return nil, false
}

// getProjects lists the workspace's projects by name: per_page default 151, max 200.
func (s *Server) getProjects(c *call) reply {
	perPage, ok := c.intQuery("per_page", 151, 200)
	if !ok {
		return errorReply(http.StatusBadRequest, badParam("per_page"))
	}
	pageNo, ok := c.intQuery("page", 1, 0)
	if !ok {
		return errorReply(http.StatusBadRequest, badParam("page"))
	}
	active, ok := c.activeFilter()
	if !ok {
		return errorReply(http.StatusBadRequest, badParam("active"))
	}
	ps := sortedByID(s.projects, func(p *project) (int64, bool) { return p.id, p.wid == c.ws.id && active(p.active) })
	slices.SortStableFunc(ps, func(a, b *project) int { return strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name)) })
	out := []projectJSON{}
	for _, p := range page(ps, pageNo, perPage) {
		out = append(out, s.renderProject(p))
	}
	return jsonReply(http.StatusOK, out)
}

func (s *Server) getClients(c *call) reply {
	status, _ := c.query("status")
	switch status {
	case "", "active", "both":
	case "archived":
		return jsonReply(http.StatusOK, []clientJSON{})
	default:
		return errorReply(http.StatusBadRequest, "Client status is invalid") // spec
	}
	name, _ := c.query("name")
	out := []clientJSON{}
	for _, cl := range sortedByID(s.clients, func(x *client) (int64, bool) { return x.id, x.wid == c.ws.id }) {
		if name == "" || containsFold(cl.name, name) {
			out = append(out, renderClient(cl))
		}
	}
	return jsonReply(http.StatusOK, out)
}

func (s *Server) getTags(c *call) reply {
	search, _ := c.query("search")
	out := []tagJSON{}
	for _, t := range sortedByID(s.tags, func(x *tag) (int64, bool) { return x.id, x.wid == c.ws.id }) {
		if search == "" || containsFold(t.name, search) {
			out = append(out, renderTag(t))
		}
	}
	return jsonReply(http.StatusOK, out)
}

// taskPage is task.Response.
type taskPage struct {
	Data       []taskJSON `json:"data"`
	Page       int        `json:"page"`
	PerPage    int        `json:"per_page"`
	SortField  string     `json:"sort_field"`
	SortOrder  string     `json:"sort_order"`
	TotalCount int        `json:"total_count"`
}

func (s *Server) getTasks(c *call) reply {
	perPage, ok := c.intQuery("per_page", 50, 0)
	if !ok {
		return errorReply(http.StatusBadRequest, badParam("per_page"))
	}
	pageNo, ok := c.intQuery("page", 1, 0)
	if !ok {
		return errorReply(http.StatusBadRequest, badParam("page"))
	}
	active, ok := c.activeFilter()
	if !ok {
		return errorReply(http.StatusBadRequest, badParam("active"))
	}
	var pid int64
	if v, ok := c.query("pid"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errorReply(http.StatusBadRequest, badParam("pid"))
		}
		pid = n
	}
	ts := sortedByID(s.tasks, func(t *task) (int64, bool) {
		return t.id, t.wid == c.ws.id && active(t.active) && (pid == 0 || t.pid == pid)
	})
	slices.SortStableFunc(ts, func(a, b *task) int { return strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name)) })
	out := taskPage{Data: []taskJSON{}, Page: pageNo, PerPage: perPage, SortField: "name", SortOrder: "ASC", TotalCount: len(ts)}
	for _, t := range page(ts, pageNo, perPage) {
		out.Data = append(out.Data, s.renderTask(t))
	}
	return jsonReply(http.StatusOK, out)
}
