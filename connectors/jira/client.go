package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
)

const maxBody = 16 << 20

// startedLayout is the form Jira accepts for worklog times: milliseconds and an offset
// without a colon.
const startedLayout = "2006-01-02T15:04:05.000-0700"

// Client calls Jira Cloud's REST API v3 as one account.
type Client struct {
	base  string
	email string
	token connectors.Secret
	http  *http.Client
}

// NewClient returns a client for the site at base (such as https://acme.atlassian.net).
func NewClient(base, email string, token connectors.Secret, hc *http.Client) *Client {
	return &Client{base: strings.TrimRight(base, "/"), email: email, token: token, http: hc}
}

// APIError is a non-2xx answer from Jira.
type APIError struct {
	Method, Route string
	Status        int
	Msg           string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("jira: %s %s: HTTP %d: %s", e.Method, e.Route, e.Status, e.Msg)
}

// Worklog is the part of Jira's Worklog that sluice writes and reads.
type Worklog struct {
	ID               string     `json:"id,omitempty"`
	IssueID          string     `json:"issueId,omitempty"`
	Started          string     `json:"started,omitempty"`
	TimeSpentSeconds int64      `json:"timeSpentSeconds,omitempty"`
	Comment          *ADF       `json:"comment,omitempty"`
	Properties       []Property `json:"properties,omitempty"`
}

// Property is a worklog entity property.
type Property struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// ADF is an Atlassian Document Format node; v3 comments must be documents.
type ADF struct {
	Type    string `json:"type"`
	Version int    `json:"version,omitempty"`
	Text    string `json:"text,omitempty"`
	Content []ADF  `json:"content,omitempty"`
}

// textDoc wraps plain text in an ADF document, one paragraph per line.
func textDoc(text string) *ADF {
	doc := &ADF{Type: "doc", Version: 1}
	for _, line := range strings.Split(text, "\n") {
		p := ADF{Type: "paragraph"}
		if line != "" {
			p.Content = []ADF{{Type: "text", Text: line}}
		}
		doc.Content = append(doc.Content, p)
	}
	return doc
}

// WriteOptions are the query parameters of worklog writes.
type WriteOptions struct {
	NotifyUsers    bool
	AdjustEstimate string
}

func (o WriteOptions) query() url.Values {
	q := url.Values{"notifyUsers": {fmt.Sprint(o.NotifyUsers)}}
	if o.AdjustEstimate != "" {
		q.Set("adjustEstimate", o.AdjustEstimate)
	}
	return q
}

// AddWorklog creates a worklog: POST /rest/api/3/issue/{issueIdOrKey}/worklog.
func (c *Client) AddWorklog(ctx context.Context, issue string, w Worklog, opt WriteOptions) (Worklog, error) {
	var out Worklog
	err := c.do(ctx, http.MethodPost, "/rest/api/3/issue/{issueIdOrKey}/worklog",
		"/rest/api/3/issue/"+url.PathEscape(issue)+"/worklog", opt.query(), w, &out)
	return out, err
}

// UpdateWorklog replaces a worklog's fields: PUT /rest/api/3/issue/{issueIdOrKey}/worklog/{id}.
func (c *Client) UpdateWorklog(ctx context.Context, issue, id string, w Worklog, opt WriteOptions) (Worklog, error) {
	var out Worklog
	err := c.do(ctx, http.MethodPut, "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}",
		"/rest/api/3/issue/"+url.PathEscape(issue)+"/worklog/"+url.PathEscape(id), opt.query(), w, &out)
	return out, err
}

// DeleteWorklog removes a worklog: DELETE /rest/api/3/issue/{issueIdOrKey}/worklog/{id}.
func (c *Client) DeleteWorklog(ctx context.Context, issue, id string, opt WriteOptions) error {
	return c.do(ctx, http.MethodDelete, "/rest/api/3/issue/{issueIdOrKey}/worklog/{id}",
		"/rest/api/3/issue/"+url.PathEscape(issue)+"/worklog/"+url.PathEscape(id), opt.query(), nil, nil)
}

// worklogPage is a PageOfWorklogs.
type worklogPage struct {
	StartAt    int       `json:"startAt"`
	MaxResults int       `json:"maxResults"`
	Total      int       `json:"total"`
	Worklogs   []Worklog `json:"worklogs"`
}

// IssueWorklogs lists an issue's worklogs started in [after, before], with their properties:
// GET /rest/api/3/issue/{issueIdOrKey}/worklog, every page.
func (c *Client) IssueWorklogs(ctx context.Context, issue string, after, before time.Time) ([]Worklog, error) {
	var all []Worklog
	for start := 0; ; {
		q := url.Values{
			"startAt":       {fmt.Sprint(start)},
			"maxResults":    {"1000"},
			"startedAfter":  {fmt.Sprint(after.UnixMilli())},
			"startedBefore": {fmt.Sprint(before.UnixMilli())},
			"expand":        {"properties"},
		}
		var page worklogPage
		if err := c.do(ctx, http.MethodGet, "/rest/api/3/issue/{issueIdOrKey}/worklog",
			"/rest/api/3/issue/"+url.PathEscape(issue)+"/worklog", q, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Worklogs...)
		start += len(page.Worklogs)
		if len(page.Worklogs) == 0 || start >= page.Total {
			return all, nil
		}
	}
}

func (c *Client) do(ctx context.Context, method, route, path string, q url.Values, body, out any) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("jira: encode %s %s: %w", method, route, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(connectors.WithRoute(ctx, route), method, u, rd)
	if err != nil {
		return fmt.Errorf("jira: %s %s: %w", method, route, err)
	}
	req.SetBasicAuth(c.email, c.token.Reveal())
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("jira: %s %s: %w", method, route, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("jira: %s %s: read answer: %w", method, route, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &APIError{Method: method, Route: route, Status: resp.StatusCode, Msg: errorText(data)}
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("jira: %s %s: decode answer (%d bytes): %w", method, route, len(data), err)
		}
	}
	return nil
}

// errorText reads an ErrorCollection into one line, falling back to the raw body.
func errorText(data []byte) string {
	var ec struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
	}
	if json.Unmarshal(data, &ec) == nil && (len(ec.ErrorMessages) > 0 || len(ec.Errors) > 0) {
		parts := append([]string(nil), ec.ErrorMessages...)
		keys := make([]string, 0, len(ec.Errors))
		for k := range ec.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			parts = append(parts, k+": "+ec.Errors[k])
		}
		return strings.Join(parts, "; ")
	}
	text := strings.TrimSpace(string(data))
	if len(text) > 300 {
		text = text[:300] + "…"
	}
	if text == "" {
		return "(empty answer)"
	}
	return text
}
