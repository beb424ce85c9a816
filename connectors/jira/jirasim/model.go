package jirasim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Worklog is a stored worklog as the Go side sees it.
type Worklog struct {
	ID       string
	IssueID  string
	IssueKey string
	// AuthorID and UpdateAuthorID are account ids.
	AuthorID       string
	UpdateAuthorID string
	// Comment is the ADF document as sent, compacted; nil when the worklog has none.
	Comment json.RawMessage
	// Visibility is the visibility object as sent, compacted; nil when unrestricted.
	Visibility json.RawMessage
	// Started keeps the offset it was sent with.
	Started          time.Time
	TimeSpentSeconds int64
	Created          time.Time
	Updated          time.Time
	// Properties in the order they were first set.
	Properties []Property
}

// CommentText returns the text of the worklog's ADF comment, one line per top-level block.
func (w Worklog) CommentText() string {
	if w.Comment == nil {
		return ""
	}
	return adfText(w.Comment)
}

// Property returns the value of the property with the given key.
func (w Worklog) Property(key string) (json.RawMessage, bool) {
	for _, p := range w.Properties {
		if p.Key == key {
			return p.Value, true
		}
	}
	return nil, false
}

// Property is a worklog entity property.
type Property struct {
	Key string
	// Value is the JSON value, compacted.
	Value json.RawMessage
}

type account struct {
	id          string
	email       string
	token       string
	displayName string
}

type project struct {
	id   int64
	key  string
	name string
}

type issue struct {
	id      int64
	key     string
	summary string
	project *project
	// worklogs in creation order.
	worklogs []*worklog
	// remaining is the remaining estimate in seconds; nil when none is set.
	remaining *int64
}

func (iss *issue) timeSpent() int64 {
	var sum int64
	for _, w := range iss.worklogs {
		sum += w.seconds
	}
	return sum
}

// adjustRemaining lowers the remaining estimate by d seconds (raises it when d < 0), never
// below zero. An issue without an estimate keeps none.
func (iss *issue) adjustRemaining(d int64) {
	if iss.remaining == nil {
		return
	}
	v := max(*iss.remaining-d, 0)
	iss.remaining = &v
}

func (iss *issue) setRemaining(v int64) { iss.remaining = &v }

func (iss *issue) removeWorklog(w *worklog) {
	for i, x := range iss.worklogs {
		if x == w {
			iss.worklogs = append(iss.worklogs[:i], iss.worklogs[i+1:]...)
			return
		}
	}
}

type worklog struct {
	id           int64
	issue        *issue
	author       *account
	updateAuthor *account
	comment      json.RawMessage
	visibility   json.RawMessage
	started      time.Time
	seconds      int64
	created      time.Time
	updated      time.Time
	props        []Property
}

func (w *worklog) setProperty(key string, value json.RawMessage) (created bool) {
	for i := range w.props {
		if w.props[i].Key == key {
			w.props[i].Value = value
			return false
		}
	}
	w.props = append(w.props, Property{Key: key, Value: value})
	return true
}

func (w *worklog) deleteProperty(key string) bool {
	for i := range w.props {
		if w.props[i].Key == key {
			w.props = append(w.props[:i], w.props[i+1:]...)
			return true
		}
	}
	return false
}

func (w *worklog) export() Worklog {
	props := make([]Property, len(w.props))
	for i, p := range w.props {
		props[i] = Property{Key: p.Key, Value: clone(p.Value)}
	}
	return Worklog{
		ID:               strconv.FormatInt(w.id, 10),
		IssueID:          strconv.FormatInt(w.issue.id, 10),
		IssueKey:         w.issue.key,
		AuthorID:         w.author.id,
		UpdateAuthorID:   w.updateAuthor.id,
		Comment:          clone(w.comment),
		Visibility:       clone(w.visibility),
		Started:          w.started,
		TimeSpentSeconds: w.seconds,
		Created:          w.created,
		Updated:          w.updated,
		Properties:       props,
	}
}

// tombstone records a deleted worklog for GET /worklog/deleted.
type tombstone struct {
	id   int64
	when time.Time
}

// AddAccount adds an Atlassian account that can sign in with HTTP Basic email:apiToken and
// returns its account id, which is derived from the email so that it is the same on every run.
// Adding an email again replaces its token and display name and keeps the id.
func (s *Server) AddAccount(email, apiToken, displayName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := strings.ToLower(email)
	if a, ok := s.accounts[k]; ok {
		a.token, a.displayName = apiToken, displayName
		return a.id
	}
	sum := sha256.Sum256([]byte("jirasim account " + k))
	a := &account{id: hex.EncodeToString(sum[:12]), email: email, token: apiToken, displayName: displayName}
	s.accounts[k] = a
	s.accountsByID[a.id] = a
	return a.id
}

// AddProject adds a project and returns its id. Adding a key again renames the project.
func (s *Server) AddProject(key, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strconv.FormatInt(s.addProject(key, name).id, 10)
}

func (s *Server) addProject(key, name string) *project {
	if p, ok := s.projects[key]; ok {
		p.name = name
		return p
	}
	p := &project{id: s.nextProjectID, key: key, name: name}
	s.nextProjectID++
	s.projects[key] = p
	return p
}

// SetTimeTracking switches time tracking for the whole site. While it is off every worklog
// and worklog-property operation answers 404.
func (s *Server) SetTimeTracking(enabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timeTracking = enabled
}

// AddIssue adds an issue and returns its numeric id as a string. The project is the part of
// the key before the last "-" (the whole key if there is none) and is created when missing.
// Adding a key again updates the summary and keeps the id.
func (s *Server) AddIssue(key, summary string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if iss, ok := s.issues[key]; ok {
		iss.summary = summary
		return strconv.FormatInt(iss.id, 10)
	}
	pkey := key
	if i := strings.LastIndex(key, "-"); i > 0 {
		pkey = key[:i]
	}
	p, ok := s.projects[pkey]
	if !ok {
		p = s.addProject(pkey, pkey)
	}
	iss := &issue{id: s.nextIssueID, key: key, summary: summary, project: p}
	s.nextIssueID++
	s.issues[key] = iss
	s.issuesByID[iss.id] = iss
	return strconv.FormatInt(iss.id, 10)
}

// SetRemainingEstimate sets an issue's remaining estimate, which adjustEstimate changes. It
// reports false when the issue does not exist.
func (s *Server) SetRemainingEstimate(issueIDOrKey string, d time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	iss := s.lookupIssue(issueIDOrKey)
	if iss == nil {
		return false
	}
	iss.setRemaining(int64(d / time.Second))
	return true
}

// RemainingEstimate returns an issue's remaining estimate and whether it has one.
func (s *Server) RemainingEstimate(issueIDOrKey string) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	iss := s.lookupIssue(issueIDOrKey)
	if iss == nil || iss.remaining == nil {
		return 0, false
	}
	return time.Duration(*iss.remaining) * time.Second, true
}

// Worklogs returns the worklogs of an issue, given by key or id, in creation order; nil when
// the issue does not exist.
func (s *Server) Worklogs(issueIDOrKey string) []Worklog {
	s.mu.Lock()
	defer s.mu.Unlock()
	iss := s.lookupIssue(issueIDOrKey)
	if iss == nil {
		return nil
	}
	out := make([]Worklog, len(iss.worklogs))
	for i, w := range iss.worklogs {
		out[i] = w.export()
	}
	return out
}

// AllWorklogs returns every stored worklog in creation order.
func (s *Server) AllWorklogs() []Worklog {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.sortedWorklogs()
	out := make([]Worklog, len(all))
	for i, w := range all {
		out[i] = w.export()
	}
	return out
}

func (s *Server) sortedWorklogs() []*worklog {
	all := make([]*worklog, 0, len(s.worklogs))
	for _, w := range s.worklogs {
		all = append(all, w)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })
	return all
}

// lookupIssue finds an issue by exact key, then numeric id, then key ignoring case (as the
// getIssue operation describes).
func (s *Server) lookupIssue(idOrKey string) *issue {
	if iss, ok := s.issues[idOrKey]; ok {
		return iss
	}
	if id, err := strconv.ParseInt(idOrKey, 10, 64); err == nil {
		return s.issuesByID[id]
	}
	for k, iss := range s.issues {
		if strings.EqualFold(k, idOrKey) {
			return iss
		}
	}
	return nil
}
