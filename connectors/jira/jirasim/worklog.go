package jirasim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// defaultMaxResults is the default and largest page of GET .../worklog.
const defaultMaxResults = 5000

type userJSON struct {
	Self         string `json:"self"`
	AccountID    string `json:"accountId"`
	AccountType  string `json:"accountType"`
	EmailAddress string `json:"emailAddress"`
	DisplayName  string `json:"displayName"`
	Active       bool   `json:"active"`
	TimeZone     string `json:"timeZone"`
}

type propertyJSON struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

type worklogJSON struct {
	Self             string          `json:"self"`
	Author           userJSON        `json:"author"`
	UpdateAuthor     userJSON        `json:"updateAuthor"`
	Comment          json.RawMessage `json:"comment,omitempty"`
	Created          string          `json:"created"`
	Updated          string          `json:"updated"`
	Visibility       json.RawMessage `json:"visibility,omitempty"`
	Started          string          `json:"started"`
	TimeSpent        string          `json:"timeSpent"`
	TimeSpentSeconds int64           `json:"timeSpentSeconds"`
	ID               string          `json:"id"`
	IssueID          string          `json:"issueId"`
	// Properties is nil unless expand=properties asked for it, and then an array, maybe empty.
	Properties *[]propertyJSON `json:"properties,omitempty"`
}

type pageOfWorklogsJSON struct {
	StartAt    int           `json:"startAt"`
	MaxResults int           `json:"maxResults"`
	Total      int           `json:"total"`
	Worklogs   []worklogJSON `json:"worklogs"`
}

func userView(base string, a *account) userJSON {
	return userJSON{
		Self:         base + "/rest/api/3/user?accountId=" + url.QueryEscape(a.id),
		AccountID:    a.id,
		AccountType:  "atlassian",
		EmailAddress: a.email,
		DisplayName:  a.displayName,
		Active:       true,
		TimeZone:     "UTC",
	}
}

func propertiesView(props []Property) []propertyJSON {
	out := make([]propertyJSON, len(props))
	for i, p := range props {
		out[i] = propertyJSON(p)
	}
	return out
}

func worklogView(base string, w *worklog, withProps bool) worklogJSON {
	id := strconv.FormatInt(w.id, 10)
	issueID := strconv.FormatInt(w.issue.id, 10)
	v := worklogJSON{
		Self:             base + "/rest/api/3/issue/" + issueID + "/worklog/" + id,
		Author:           userView(base, w.author),
		UpdateAuthor:     userView(base, w.updateAuthor),
		Comment:          w.comment,
		Created:          formatTime(w.created.UTC()),
		Updated:          formatTime(w.updated.UTC()),
		Visibility:       w.visibility,
		Started:          formatTime(w.started),
		TimeSpent:        formatDuration(w.seconds),
		TimeSpentSeconds: w.seconds,
		ID:               id,
		IssueID:          issueID,
	}
	if withProps {
		props := propertiesView(w.props)
		v.Properties = &props
	}
	return v
}

// issueFor resolves {issueIdOrKey} and, for writes, spends the issue's write limiter.
func (s *Server) issueFor(c *call) (*issue, *reply) {
	iss := s.lookupIssue(c.params["issueIdOrKey"])
	if iss == nil {
		return nil, errorf(http.StatusNotFound, msgNoIssue)
	}
	if c.route.write {
		if rep := s.limitIssueWrite(c, iss); rep != nil {
			return nil, rep
		}
	}
	return iss, nil
}

// worklogFor finds the call's issue and its worklog {id}, answering 404 for either missing.
func (s *Server) worklogFor(c *call) (*issue, *worklog, *reply) {
	iss, rep := s.issueFor(c)
	if rep != nil {
		return nil, nil, rep
	}
	w, rep := s.worklogOn(iss, c.params["id"])
	return iss, w, rep
}

// worklogOn finds worklog idStr on iss; it answers 404 when it is missing or elsewhere.
func (s *Server) worklogOn(iss *issue, idStr string) (*worklog, *reply) {
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err == nil {
		if w, ok := s.worklogs[id]; ok && w.issue == iss {
			return w, nil
		}
	}
	return nil, errorf(http.StatusNotFound, "Cannot find worklog with id: %s.", idStr)
}

func fieldErrors(errs map[string]string) *reply {
	if len(errs) == 0 {
		return nil
	}
	return errorReply(http.StatusBadRequest, nil, errs)
}

// readWrite reads what a worklog create or update asks: notifyUsers, the estimate
// adjustment and the body, answering 400 with every field's problem at once.
func (s *Server) readWrite(c *call, op estimateOp, create bool) (bool, estimate, worklogInput, *reply) {
	errs := map[string]string{}
	notify := boolParam(c.query, "notifyUsers", true, errs)
	boolParam(c.query, "overrideEditableFlag", false, errs)
	est := parseEstimate(c.query, op, errs)
	in, rep := s.decodeWorklog(c.body, create, errs)
	if rep == nil {
		rep = fieldErrors(errs)
	}
	return notify, est, in, rep
}

func (s *Server) addWorklog(c *call) *reply {
	iss, rep := s.issueFor(c)
	if rep != nil {
		return rep
	}
	notify, est, in, rep := s.readWrite(c, opAdd, true)
	if rep != nil {
		return rep
	}
	if len(iss.worklogs) >= s.opts.MaxWorklogsPerIssue {
		return errorf(http.StatusRequestEntityTooLarge,
			"Issue %s has reached the limit of %d worklogs.", iss.key, s.opts.MaxWorklogsPerIssue)
	}
	w := &worklog{
		id: s.nextWorklogID, issue: iss, author: c.acct, updateAuthor: c.acct,
		comment: in.comment, visibility: in.visibility, started: *in.started, seconds: *in.seconds,
		created: c.now, updated: c.now,
	}
	s.nextWorklogID++
	for _, p := range in.props {
		w.setProperty(p.Key, p.Value)
	}
	s.worklogs[w.id] = w
	iss.worklogs = append(iss.worklogs, w)
	switch est.mode {
	case "auto":
		iss.adjustRemaining(w.seconds)
	case "manual":
		iss.adjustRemaining(est.amount)
	case "new":
		iss.setRemaining(est.amount)
	}
	if notify {
		s.stats.Notifications++
	}
	return jsonReply(http.StatusCreated, worklogView(c.base, w, expandsProperties(c.query)))
}

func (s *Server) getIssueWorklog(c *call) *reply {
	iss, rep := s.issueFor(c)
	if rep != nil {
		return rep
	}
	// The spec answers 404, not 400, for non-numeric startAt or maxResults.
	startAt, maxResults := 0, defaultMaxResults
	if c.query.Has("startAt") {
		n, err := strconv.Atoi(c.query.Get("startAt"))
		if err != nil {
			return errorf(http.StatusNotFound, "startAt must be a number.")
		}
		startAt = max(n, 0)
	}
	if c.query.Has("maxResults") {
		n, err := strconv.Atoi(c.query.Get("maxResults"))
		if err != nil {
			return errorf(http.StatusNotFound, "maxResults must be a number.")
		}
		if n >= 0 {
			maxResults = min(n, defaultMaxResults)
		}
	}
	after, before := int64(0), int64(0)
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"startedAfter", &after}, {"startedBefore", &before}} {
		if !c.query.Has(p.name) {
			continue
		}
		n, err := strconv.ParseInt(c.query.Get(p.name), 10, 64)
		if err != nil {
			return errorReply(http.StatusBadRequest, nil,
				map[string]string{p.name: p.name + " must be a UNIX timestamp in milliseconds."})
		}
		*p.dst = n
	}
	var matched []*worklog
	for _, w := range iss.worklogs {
		ms := w.started.UnixMilli()
		if c.query.Has("startedAfter") && ms < after {
			continue
		}
		if c.query.Has("startedBefore") && ms >= before {
			continue
		}
		matched = append(matched, w)
	}
	page := pageOfWorklogsJSON{StartAt: startAt, MaxResults: maxResults, Total: len(matched), Worklogs: []worklogJSON{}}
	withProps := expandsProperties(c.query)
	for i := startAt; i < len(matched) && i < startAt+maxResults; i++ {
		page.Worklogs = append(page.Worklogs, worklogView(c.base, matched[i], withProps))
	}
	return jsonReply(http.StatusOK, page)
}

func (s *Server) getWorklog(c *call) *reply {
	_, w, rep := s.worklogFor(c)
	if rep != nil {
		return rep
	}
	return jsonReply(http.StatusOK, worklogView(c.base, w, expandsProperties(c.query)))
}

func (s *Server) updateWorklog(c *call) *reply {
	iss, w, rep := s.worklogFor(c)
	if rep != nil {
		return rep
	}
	notify, est, in, rep := s.readWrite(c, opUpdate, false)
	if rep != nil {
		return rep
	}
	before := w.seconds
	if in.started != nil {
		w.started = *in.started
	}
	if in.seconds != nil {
		w.seconds = *in.seconds
	}
	if in.comment != nil {
		w.comment = in.comment
	}
	if in.visibility != nil {
		w.visibility = in.visibility
	}
	for _, p := range in.props {
		w.setProperty(p.Key, p.Value)
	}
	w.updated = c.now
	w.updateAuthor = c.acct
	switch est.mode {
	case "auto":
		iss.adjustRemaining(w.seconds - before)
	case "new":
		iss.setRemaining(est.amount)
	}
	if notify {
		s.stats.Notifications++
	}
	return jsonReply(http.StatusOK, worklogView(c.base, w, expandsProperties(c.query)))
}

func (s *Server) deleteWorklog(c *call) *reply {
	iss, w, rep := s.worklogFor(c)
	if rep != nil {
		return rep
	}
	errs := map[string]string{}
	notify := boolParam(c.query, "notifyUsers", true, errs)
	boolParam(c.query, "overrideEditableFlag", false, errs)
	est := parseEstimate(c.query, opDelete, errs)
	if rep := fieldErrors(errs); rep != nil {
		return rep
	}
	s.removeWorklog(w, c.now)
	switch est.mode {
	case "auto":
		iss.adjustRemaining(-w.seconds)
	case "manual":
		iss.adjustRemaining(-est.amount)
	case "new":
		iss.setRemaining(est.amount)
	}
	if notify {
		s.stats.Notifications++
	}
	return emptyReply(http.StatusNoContent)
}

func (s *Server) removeWorklog(w *worklog, now time.Time) {
	delete(s.worklogs, w.id)
	w.issue.removeWorklog(w)
	s.deleted = append(s.deleted, tombstone{id: w.id, when: now})
}

// maxBulkDelete is the most worklogs one bulk delete may name.
const maxBulkDelete = 5000

type bulkDeleteJSON struct {
	Message  string  `json:"message"`
	Deleted  []int64 `json:"deleted"`
	NotFound []int64 `json:"notFound"`
}

// bulkDeleteWorklogs deletes the named worklogs: 204 when all were deleted, 200 with a message
// when some did not exist, 404 (and nothing deleted) when one belongs to another issue.
func (s *Server) bulkDeleteWorklogs(c *call) *reply {
	iss, rep := s.issueFor(c)
	if rep != nil {
		return rep
	}
	errs := map[string]string{}
	boolParam(c.query, "overrideEditableFlag", false, errs)
	est := parseEstimate(c.query, opBulkDelete, errs)
	if rep := fieldErrors(errs); rep != nil {
		return rep
	}
	ids, rep := decodeIDs(c.body, maxBulkDelete)
	if rep != nil {
		return rep
	}
	var found []*worklog
	notFound := []int64{}
	for _, id := range ids {
		w, ok := s.worklogs[id]
		switch {
		case !ok:
			notFound = append(notFound, id)
		case w.issue != iss:
			return errorf(http.StatusNotFound, "Worklog %d is not on issue %s.", id, iss.key)
		default:
			found = append(found, w)
		}
	}
	deleted := make([]int64, 0, len(found))
	var spent int64
	for _, w := range found {
		s.removeWorklog(w, c.now)
		deleted = append(deleted, w.id)
		spent += w.seconds
	}
	if est.mode == "auto" {
		iss.adjustRemaining(-spent)
	}
	if len(notFound) == 0 {
		return emptyReply(http.StatusNoContent)
	}
	return jsonReply(http.StatusOK, bulkDeleteJSON{
		Message:  fmt.Sprintf("Deleted %d of %d worklogs; the others were not found.", len(deleted), len(ids)),
		Deleted:  deleted,
		NotFound: notFound,
	})
}

// maxWorklogsForIDs is the most ids POST /worklog/list takes.
const maxWorklogsForIDs = 1000

func (s *Server) getWorklogsForIds(c *call) *reply {
	ids, rep := decodeIDs(c.body, maxWorklogsForIDs)
	if rep != nil {
		return rep
	}
	var found []*worklog
	for _, id := range ids {
		if w, ok := s.worklogs[id]; ok {
			found = append(found, w)
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].id < found[j].id })
	withProps := expandsProperties(c.query)
	out := make([]worklogJSON, 0, len(found))
	for _, w := range found {
		out = append(out, worklogView(c.base, w, withProps))
	}
	return jsonReply(http.StatusOK, out)
}

type changedWorklogJSON struct {
	WorklogID   int64          `json:"worklogId"`
	UpdatedTime int64          `json:"updatedTime"`
	Properties  []propertyJSON `json:"properties"`
}

type changedWorklogsJSON struct {
	Values   []changedWorklogJSON `json:"values"`
	Since    int64                `json:"since"`
	Until    int64                `json:"until"`
	Self     string               `json:"self"`
	NextPage string               `json:"nextPage"`
	LastPage bool                 `json:"lastPage"`
}

// change is one entry of /worklog/updated or /worklog/deleted.
type change struct {
	id    int64
	ms    int64
	props []Property
}

func (s *Server) getWorklogsUpdated(c *call) *reply {
	withProps := expandsProperties(c.query)
	changes := make([]change, 0, len(s.worklogs))
	for _, w := range s.worklogs {
		ch := change{id: w.id, ms: w.updated.UnixMilli()}
		if withProps {
			ch.props = w.props
		}
		changes = append(changes, ch)
	}
	return s.changes(c, changes)
}

func (s *Server) getWorklogsDeleted(c *call) *reply {
	changes := make([]change, 0, len(s.deleted))
	for _, t := range s.deleted {
		changes = append(changes, change{id: t.id, ms: t.when.UnixMilli()})
	}
	return s.changes(c, changes)
}

// changes pages worklog changes made strictly after `since` (unix ms) and at least a minute
// before now, oldest first. A page never splits the changes of one millisecond (unless they
// alone overflow it), so following nextPage (since=until) loses nothing.
func (s *Server) changes(c *call, all []change) *reply {
	var since int64
	if c.query.Has("since") {
		n, err := strconv.ParseInt(c.query.Get("since"), 10, 64)
		if err != nil {
			return errorReply(http.StatusBadRequest, nil,
				map[string]string{"since": "since must be a UNIX timestamp in milliseconds."})
		}
		since = n
	}
	cutoff := c.now.Add(-time.Minute).UnixMilli()
	var picked []change
	for _, ch := range all {
		if ch.ms > since && ch.ms <= cutoff {
			picked = append(picked, ch)
		}
	}
	sort.Slice(picked, func(i, j int) bool {
		if picked[i].ms != picked[j].ms {
			return picked[i].ms < picked[j].ms
		}
		return picked[i].id < picked[j].id
	})
	last := len(picked) <= s.changesPageSize
	if !last {
		n := s.changesPageSize
		// Back off to the end of the previous millisecond, or forward past this one if it
		// alone fills the page.
		cut := n
		for cut > 0 && picked[cut-1].ms == picked[n].ms {
			cut--
		}
		if cut == 0 {
			for cut = n; cut < len(picked) && picked[cut].ms == picked[n-1].ms; cut++ {
			}
		}
		last = cut == len(picked)
		picked = picked[:cut]
	}
	out := changedWorklogsJSON{Values: []changedWorklogJSON{}, Since: since, Until: since, LastPage: last}
	for _, ch := range picked {
		out.Values = append(out.Values, changedWorklogJSON{WorklogID: ch.id, UpdatedTime: ch.ms, Properties: propertiesView(ch.props)})
	}
	if len(picked) > 0 {
		out.Until = picked[len(picked)-1].ms
	}
	out.Self = changesURL(c, since)
	out.NextPage = changesURL(c, out.Until)
	return jsonReply(http.StatusOK, out)
}

func changesURL(c *call, since int64) string {
	q := url.Values{}
	for k, v := range c.query {
		q[k] = v
	}
	q.Set("since", strconv.FormatInt(since, 10))
	return c.base + c.r.URL.Path + "?" + q.Encode()
}

type projectJSON struct {
	Self           string `json:"self"`
	ID             string `json:"id"`
	Key            string `json:"key"`
	Name           string `json:"name"`
	ProjectTypeKey string `json:"projectTypeKey"`
}

type timeTrackingJSON struct {
	RemainingEstimate        string `json:"remainingEstimate,omitempty"`
	TimeSpent                string `json:"timeSpent,omitempty"`
	RemainingEstimateSeconds *int64 `json:"remainingEstimateSeconds,omitempty"`
	TimeSpentSeconds         *int64 `json:"timeSpentSeconds,omitempty"`
}

type issueFieldsJSON struct {
	Summary      string           `json:"summary"`
	Project      projectJSON      `json:"project"`
	TimeTracking timeTrackingJSON `json:"timetracking"`
	// TimeSpent is the sum of the worklogs in seconds, null when there are none.
	TimeSpent *int64 `json:"timespent"`
}

type issueJSON struct {
	ID     string          `json:"id"`
	Key    string          `json:"key"`
	Self   string          `json:"self"`
	Fields issueFieldsJSON `json:"fields"`
}

// getIssue answers a minimal issue: id, key, self, summary, project and time tracking.
func (s *Server) getIssue(c *call) *reply {
	iss := s.lookupIssue(c.params["issueIdOrKey"])
	if iss == nil {
		return errorf(http.StatusNotFound, msgNoIssue)
	}
	id := strconv.FormatInt(iss.id, 10)
	pid := strconv.FormatInt(iss.project.id, 10)
	v := issueJSON{
		ID: id, Key: iss.key, Self: c.base + "/rest/api/3/issue/" + id,
		Fields: issueFieldsJSON{
			Summary: iss.summary,
			Project: projectJSON{
				Self: c.base + "/rest/api/3/project/" + pid, ID: pid, Key: iss.project.key,
				Name: iss.project.name, ProjectTypeKey: "software",
			},
		},
	}
	if iss.remaining != nil {
		r := *iss.remaining
		v.Fields.TimeTracking.RemainingEstimate = formatDuration(r)
		v.Fields.TimeTracking.RemainingEstimateSeconds = &r
	}
	if len(iss.worklogs) > 0 {
		spent := iss.timeSpent()
		v.Fields.TimeTracking.TimeSpent = formatDuration(spent)
		v.Fields.TimeTracking.TimeSpentSeconds = &spent
		v.Fields.TimeSpent = &spent
	}
	return jsonReply(http.StatusOK, v)
}

func (s *Server) getMyself(c *call) *reply {
	return jsonReply(http.StatusOK, userView(c.base, c.acct))
}
