package toggl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
)

// maxBody bounds what is read of a response.
const maxBody = 64 << 20

// Client calls the Toggl Track and Reports APIs with one API token.
type Client struct {
	base  string
	token connectors.Secret
	http  *http.Client
}

// NewClient returns a client for the API at base (such as https://api.track.toggl.com).
func NewClient(base string, token connectors.Secret, hc *http.Client) *Client {
	return &Client{base: strings.TrimRight(base, "/"), token: token, http: hc}
}

// APIError is a non-2xx answer from Toggl.
type APIError struct {
	Method, Route string
	Status        int
	// Msg is Toggl's message: its error bodies are JSON strings.
	Msg string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("toggl: %s %s: HTTP %d: %s", e.Method, e.Route, e.Status, e.Msg)
}

// TimeEntry is a Track v9 time entry, with the meta fields that meta=true adds.
type TimeEntry struct {
	ID              int64      `json:"id"`
	WorkspaceID     int64      `json:"workspace_id"`
	ProjectID       *int64     `json:"project_id"`
	TaskID          *int64     `json:"task_id"`
	UserID          int64      `json:"user_id"`
	Description     *string    `json:"description"`
	Start           time.Time  `json:"start"`
	Stop            *time.Time `json:"stop"`
	Duration        int64      `json:"duration"`
	Billable        bool       `json:"billable"`
	Tags            []string   `json:"tags"`
	At              time.Time  `json:"at"`
	ServerDeletedAt *time.Time `json:"server_deleted_at"`
	ProjectName     string     `json:"project_name"`
	ClientName      string     `json:"client_name"`
	TaskName        string     `json:"task_name"`
	UserName        string     `json:"user_name"`
}

// MyTimeEntries lists the token owner's time entries: GET /api/v9/me/time_entries. It
// returns the server's time from the Date header (zero when absent).
func (c *Client) MyTimeEntries(ctx context.Context, q url.Values) ([]TimeEntry, time.Time, error) {
	var out []TimeEntry
	h, err := c.do(ctx, http.MethodGet, "/api/v9/me/time_entries", "/api/v9/me/time_entries", q, nil, &out)
	if err != nil {
		return nil, time.Time{}, err
	}
	date, _ := http.ParseTime(h.Get("Date"))
	return out, date, nil
}

// SearchRequest is the body of a Reports v3 detailed search.
type SearchRequest struct {
	StartDate      string  `json:"start_date"`
	EndDate        string  `json:"end_date"`
	UserIDs        []int64 `json:"user_ids,omitempty"`
	ProjectIDs     []int64 `json:"project_ids,omitempty"`
	PageSize       int     `json:"page_size,omitempty"`
	FirstID        int64   `json:"first_id,omitempty"`
	FirstRowNumber int64   `json:"first_row_number,omitempty"`
	OrderBy        string  `json:"order_by,omitempty"`
	OrderDir       string  `json:"order_dir,omitempty"`
	// EnrichResponse asks for names (project, client, task, tags) besides ids.
	EnrichResponse bool `json:"enrich_response,omitempty"`
}

// ReportRow is a detailed.GroupedTimeEntry.
type ReportRow struct {
	UserID      int64    `json:"user_id"`
	Username    string   `json:"username"`
	Email       string   `json:"email"`
	ProjectID   *int64   `json:"project_id"`
	ProjectName string   `json:"project_name"`
	ClientName  string   `json:"client_name"`
	TaskID      *int64   `json:"task_id"`
	TaskName    string   `json:"task_name"`
	Description string   `json:"description"`
	Billable    bool     `json:"billable"`
	TagNames    []string `json:"tag_names"`
	RowNumber   int64    `json:"row_number"`
	TimeEntries []struct {
		ID      int64      `json:"id"`
		Seconds int64      `json:"seconds"`
		Start   time.Time  `json:"start"`
		Stop    *time.Time `json:"stop"`
		At      time.Time  `json:"at"`
	} `json:"time_entries"`
}

// NextPage says where the following page of a search starts; nil on the last page.
type NextPage struct{ ID, RowNumber int64 }

// SearchTimeEntries runs one page of a detailed search:
// POST /reports/api/v3/workspace/{workspace_id}/search/time_entries.
func (c *Client) SearchTimeEntries(ctx context.Context, workspaceID int64, req SearchRequest) ([]ReportRow, *NextPage, error) {
	var rows []ReportRow
	path := fmt.Sprintf("/reports/api/v3/workspace/%d/search/time_entries", workspaceID)
	h, err := c.do(ctx, http.MethodPost, "/reports/api/v3/workspace/{workspace_id}/search/time_entries", path, nil, req, &rows)
	if err != nil {
		return nil, nil, err
	}
	idText, rowText := h.Get("X-Next-ID"), h.Get("X-Next-Row-Number")
	if idText == "" || rowText == "" {
		return rows, nil, nil
	}
	id, err1 := strconv.ParseInt(idText, 10, 64)
	row, err2 := strconv.ParseInt(rowText, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, fmt.Errorf("toggl: reports paging headers X-Next-ID=%q X-Next-Row-Number=%q: %w", idText, rowText, err)
	}
	return rows, &NextPage{ID: id, RowNumber: row}, nil
}

// do sends one request and decodes a JSON answer into out.
func (c *Client) do(ctx context.Context, method, route, path string, q url.Values, body, out any) (http.Header, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("toggl: encode %s %s: %w", method, route, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(connectors.WithRoute(ctx, route), method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("toggl: %s %s: %w", method, route, err)
	}
	req.SetBasicAuth(c.token.Reveal(), "api_token")
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("toggl: %s %s: %w", method, route, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("toggl: %s %s: read answer: %w", method, route, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.Header, &APIError{Method: method, Route: route, Status: resp.StatusCode, Msg: errorText(data)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("toggl: %s %s: decode answer (%d bytes): %w", method, route, len(data), err)
		}
	}
	return resp.Header, nil
}

// errorText reads Toggl's error body, a JSON string, falling back to the raw text.
func errorText(data []byte) string {
	var s string
	if json.Unmarshal(data, &s) == nil {
		return s
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
