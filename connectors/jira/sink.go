package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
)

// PropertyKey is the worklog property that marks what sluice wrote.
const PropertyKey = "sluice"

// Marker is the value of the PropertyKey property: which workflow wrote the worklog for which
// source entry.
type Marker struct {
	Workflow string `json:"workflow"`
	Entry    string `json:"entry"`
}

// minSeconds is the shortest worklog: Jira counts time in whole minutes.
const minSeconds = 60

// Sink writes worklogs. Remote ids have the form "<issue key>/<worklog id>".
type Sink struct {
	client *Client
	opt    WriteOptions
	loc    *time.Location
}

var (
	_ connectors.Sink   = (*Sink)(nil)
	_ connectors.Finder = (*Sink)(nil)
)

func newSink(cfg connectors.Config, deps connectors.Deps) (connectors.Sink, error) {
	loc, err := time.LoadLocation(cfg.Values.String("timezone"))
	if err != nil {
		return nil, fmt.Errorf("jira: timezone: %w", err)
	}
	return &Sink{
		client: NewClient(cfg.BaseURL, cfg.Conn.String("email"), cfg.Conn.Secret("api_token"), deps.HTTP),
		opt: WriteOptions{
			NotifyUsers:    cfg.Values.Bool("notify_users"),
			AdjustEstimate: cfg.Values.String("adjust_estimate"),
		},
		loc: loc,
	}, nil
}

// worklog builds the worklog a record describes.
func (s *Sink) worklog(rec connectors.Record) (string, Worklog, error) {
	issue := strings.TrimSpace(rec.Fields.String("issue"))
	if issue == "" {
		return "", Worklog{}, connectors.Rejected(0, "no issue key (map.issue is empty)")
	}
	started := rec.Fields.Time("started")
	if started.IsZero() {
		return "", Worklog{}, connectors.Rejected(0, "no start time (map.started is empty)")
	}
	marker, err := json.Marshal(Marker{Workflow: rec.Workflow, Entry: rec.Key})
	if err != nil {
		return "", Worklog{}, fmt.Errorf("jira: encode marker: %w", err)
	}
	w := Worklog{
		Started:          started.In(s.loc).Format(startedLayout),
		TimeSpentSeconds: max(rec.Fields.Int("time_spent_seconds"), minSeconds),
		Properties:       []Property{{Key: PropertyKey, Value: marker}},
	}
	if c := strings.TrimSpace(rec.Fields.String("comment")); c != "" {
		w.Comment = textDoc(c)
	}
	return issue, w, nil
}

// emptyDoc is an ADF document without content: an update sends it to clear a comment,
// since leaving the comment out keeps the old one.
func emptyDoc() *ADF { return &ADF{Type: "doc", Version: 1, Content: []ADF{{Type: "paragraph"}}} }

// Create implements connectors.Sink.
func (s *Sink) Create(ctx context.Context, rec connectors.Record) (string, error) {
	issue, w, err := s.worklog(rec)
	if err != nil {
		return "", err
	}
	got, err := s.client.AddWorklog(ctx, issue, w, s.opt)
	if err != nil {
		return "", recordError(issue, err)
	}
	if got.ID == "" {
		return "", fmt.Errorf("jira: add worklog to %s: the answer has no worklog id", issue)
	}
	return issue + "/" + got.ID, nil
}

// Update implements connectors.Sink. A worklog cannot move between issues: for a changed
// issue key the old worklog is deleted first, then the new one made (unless an earlier
// attempt made it already), so a failure halfway leaves time missing until the retry rather
// than logged twice. A worklog deleted in Jira meanwhile is created again.
func (s *Sink) Update(ctx context.Context, remoteID string, rec connectors.Record) (string, error) {
	oldIssue, id, err := splitRemoteID(remoteID)
	if err != nil {
		return "", err
	}
	issue, w, err := s.worklog(rec)
	if err != nil {
		return "", err
	}
	if !strings.EqualFold(issue, oldIssue) {
		if err := s.Delete(ctx, remoteID); err != nil {
			return "", fmt.Errorf("jira: move worklog from %s to %s: %w", oldIssue, issue, err)
		}
		if found, ok, err := s.Find(ctx, rec); err != nil || ok {
			return found, err
		}
		return s.Create(ctx, rec)
	}
	if w.Comment == nil {
		w.Comment = emptyDoc()
	}
	if _, err := s.client.UpdateWorklog(ctx, issue, id, w, s.opt); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			return s.Create(ctx, rec)
		}
		return "", recordError(issue, err)
	}
	return remoteID, nil
}

// Delete implements connectors.Sink.
func (s *Sink) Delete(ctx context.Context, remoteID string) error {
	issue, id, err := splitRemoteID(remoteID)
	if err != nil {
		return err
	}
	err = s.client.DeleteWorklog(ctx, issue, id, s.opt)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return recordError(issue, err)
	}
	return nil
}

// Find implements connectors.Finder: it looks for a worklog on the record's issue, started
// at the record's time, that carries the record's marker.
func (s *Sink) Find(ctx context.Context, rec connectors.Record) (string, bool, error) {
	issue, w, err := s.worklog(rec)
	if err != nil {
		return "", false, nil
	}
	started := rec.Fields.Time("started")
	logs, err := s.client.IssueWorklogs(ctx, issue, started.Add(-time.Minute), started.Add(time.Minute))
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("jira: look for %s's worklog on %s: %w", rec.Key, issue, err)
	}
	want := string(w.Properties[0].Value)
	for _, l := range logs {
		for _, p := range l.Properties {
			if p.Key == PropertyKey && sameMarker(p.Value, want) {
				return issue + "/" + l.ID, true, nil
			}
		}
	}
	return "", false, nil
}

func sameMarker(raw json.RawMessage, want string) bool {
	var a, b Marker
	return json.Unmarshal(raw, &a) == nil && json.Unmarshal([]byte(want), &b) == nil && a == b
}

func splitRemoteID(remoteID string) (issue, id string, err error) {
	issue, id, ok := strings.Cut(remoteID, "/")
	if !ok || issue == "" || id == "" {
		return "", "", fmt.Errorf("jira: remote id %q is not <issue>/<worklog id>", remoteID)
	}
	return issue, id, nil
}

// recordError turns the answers that concern one record into *connectors.RejectedError.
func recordError(issue string, err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.Status {
	case http.StatusNotFound:
		return connectors.Rejected(ae.Status, "issue %s does not exist, the account cannot see it, or time tracking is off", issue)
	case http.StatusBadRequest:
		return connectors.Rejected(ae.Status, "Jira refused the worklog for %s: %s", issue, ae.Msg)
	case http.StatusForbidden:
		return connectors.Rejected(ae.Status, "no permission to log work on %s: %s", issue, ae.Msg)
	case http.StatusRequestEntityTooLarge:
		return connectors.Rejected(ae.Status, "issue %s has reached Jira's worklog limit", issue)
	}
	return err
}
