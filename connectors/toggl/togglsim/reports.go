package togglsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Reports paging limits. Toggl documents the default page size (50) but not a maximum; the
// simulator refuses more than MaxReportPageSize rows per page with 400 (simulator choice).
const (
	DefaultReportPageSize = 50
	MaxReportPageSize     = 1000
)

const (
	msgNoParams = "At least one parameter must be set"           // spec
	msgFeature  = "Workspace needs to have this feature enabled" // spec
)

// reportsPost is detailed.Post. Filter arrays take nulls ("[null]" selects rows without a
// project, client, task or tag), as the spec's descriptions say.
type reportsPost struct {
	Billable           *bool    `json:"billable"`
	ClientIDs          []*int64 `json:"client_ids"`
	Description        *string  `json:"description"`
	EndTime            *string  `json:"endTime"`
	EndDate            *string  `json:"end_date"`
	EnrichResponse     *bool    `json:"enrich_response"`
	FirstID            *int64   `json:"first_id"`
	FirstRowNumber     *int64   `json:"first_row_number"`
	FirstTimestamp     *int64   `json:"first_timestamp"`
	GroupIDs           []*int64 `json:"group_ids"`
	Grouped            *bool    `json:"grouped"`
	HideAmounts        *bool    `json:"hide_amounts"`
	MaxDurationSeconds *int64   `json:"max_duration_seconds"`
	MinDurationSeconds *int64   `json:"min_duration_seconds"`
	OrderBy            *string  `json:"order_by"`
	OrderDir           *string  `json:"order_dir"`
	PageSize           *int     `json:"page_size"`
	ProjectIDs         []*int64 `json:"project_ids"`
	Rounding           *int     `json:"rounding"`
	RoundingMinutes    *int     `json:"rounding_minutes"`
	StartTime          *string  `json:"startTime"`
	StartDate          *string  `json:"start_date"`
	TagIDs             []*int64 `json:"tag_ids"`
	TaskIDs            []*int64 `json:"task_ids"`
	TimeEntryIDs       []int64  `json:"time_entry_ids"`
	UserIDs            []int64  `json:"user_ids"`
}

// singleJSON is detailed.SingleTimeEntry.
type singleJSON struct {
	ID      int64  `json:"id"`
	Seconds int64  `json:"seconds"`
	Start   string `json:"start"`
	Stop    string `json:"stop"`
	At      string `json:"at"`
	AtTZ    string `json:"at_tz"`
}

// rowJSON is detailed.GroupedTimeEntry. The name fields (project_name, project_color,
// project_hex, client_name, task_name, tag_names) come only with enrich_response: captured
// real rows lack them otherwise (simulator choice).
type rowJSON struct {
	UserID                int64        `json:"user_id"`
	Username              string       `json:"username"`
	Email                 string       `json:"email"`
	ProjectID             *int64       `json:"project_id"`
	ProjectName           *string      `json:"project_name,omitempty"`
	ProjectColor          *string      `json:"project_color,omitempty"`
	ProjectHex            *string      `json:"project_hex,omitempty"`
	ClientName            *string      `json:"client_name,omitempty"`
	TaskID                *int64       `json:"task_id"`
	TaskName              *string      `json:"task_name,omitempty"`
	Description           string       `json:"description"`
	Billable              bool         `json:"billable"`
	TagIDs                []int64      `json:"tag_ids"`
	TagNames              []string     `json:"tag_names,omitempty"`
	HourlyRateInCents     *int64       `json:"hourly_rate_in_cents"`
	BillableAmountInCents *int64       `json:"billable_amount_in_cents"`
	Currency              string       `json:"currency"`
	TimeEntries           []singleJSON `json:"time_entries"`
	RowNumber             int          `json:"row_number"`
}

// decodeReportsPost parses the body strictly: unknown fields and trailing data are refused.
func decodeReportsPost(body []byte) (reportsPost, string) {
	var q reportsPost
	body = bytes.TrimSpace(body)
	var keys map[string]json.RawMessage
	if len(body) == 0 || json.Unmarshal(body, &keys) == nil && len(keys) == 0 {
		return q, msgNoParams
	}
	if keys == nil {
		return q, msgBadJSON
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return q, badParam(te.Field)
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return q, "Unknown parameter " + strings.ReplaceAll(name, `"`, "'")
		}
		return q, msgBadJSON
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return q, msgBadJSON
	}
	return q, ""
}

var (
	orderBys       = []string{"date", "user", "duration", "description", "last_update"}
	roundingValues = []int{0, 1, 5, 6, 10, 12, 15, 30, 60, 240}
)

func allowed(name string, values []string) string {
	return fmt.Sprintf("Invalid '%s' value, allowed values are: '%s'", name, strings.Join(values, "', '"))
}

// searchTimeEntries is POST /reports/api/v3/workspace/{workspace_id}/search/time_entries.
func (s *Server) searchTimeEntries(c *call) reply {
	q, msg := decodeReportsPost(c.body)
	if msg != "" {
		return errorReply(http.StatusBadRequest, msg)
	}
	today := c.now.UTC().Truncate(24 * time.Hour)
	var from, to time.Time
	if q.StartDate != nil {
		t, err := time.Parse(time.DateOnly, *q.StartDate)
		if err != nil {
			return errorReply(http.StatusBadRequest, badParam("start_date"))
		}
		from = t
	}
	if q.EndDate != nil {
		t, err := time.Parse(time.DateOnly, *q.EndDate)
		if err != nil {
			return errorReply(http.StatusBadRequest, badParam("end_date"))
		}
		to = t
	}
	if q.StartDate != nil && q.EndDate != nil && !to.After(from) {
		return errorReply(http.StatusBadRequest, msgEndAfterStart)
	}
	if to.IsZero() {
		to = today
		if !from.IsZero() && from.After(to) {
			to = from
		}
	}
	if from.IsZero() {
		from = to.AddDate(0, 0, -6)
	}
	pageSize := DefaultReportPageSize
	if q.PageSize != nil && *q.PageSize != 0 {
		if *q.PageSize < 0 || *q.PageSize > MaxReportPageSize {
			return errorReply(http.StatusBadRequest, badParam("page_size"))
		}
		pageSize = *q.PageSize
	}
	orderBy := "date"
	if q.OrderBy != nil && *q.OrderBy != "" {
		if !slices.Contains(orderBys, *q.OrderBy) {
			return errorReply(http.StatusBadRequest, allowed("order_by", orderBys))
		}
		orderBy = *q.OrderBy
	}
	desc := false
	if q.OrderDir != nil && *q.OrderDir != "" {
		switch strings.ToUpper(*q.OrderDir) {
		case "ASC":
		case "DESC":
			desc = true
		default:
			return errorReply(http.StatusBadRequest, allowed("order_dir", []string{"ASC", "DESC"}))
		}
	}
	if q.RoundingMinutes != nil && !slices.Contains(roundingValues, *q.RoundingMinutes) {
		return errorReply(http.StatusBadRequest, badParam("rounding_minutes"))
	}
	if q.MinDurationSeconds != nil && q.MaxDurationSeconds != nil && *q.MaxDurationSeconds <= *q.MinDurationSeconds {
		return errorReply(http.StatusBadRequest, badParam("max_duration_seconds"))
	}
	if q.FirstRowNumber != nil && *q.FirstRowNumber < 0 {
		return errorReply(http.StatusBadRequest, badParam("first_row_number"))
	}
	if q.Billable != nil && !business(s.orgs[c.ws.orgID].plan) {
		rep := errorReply(http.StatusPaymentRequired, msgFeature)
		rep.feature = true
		return rep
	}

	rows := s.reportRows(c.ws, q, from, to)
	s.sortRows(rows, orderBy, desc)

	start := 0
	if q.FirstRowNumber != nil && *q.FirstRowNumber > 0 {
		start = int(*q.FirstRowNumber) - 1
	}
	if q.FirstID != nil && (start >= len(rows) || rows[start][0].ID != *q.FirstID) {
		// The rows moved since the previous page: realign on the id when it is still there.
		if i := slices.IndexFunc(rows, func(r []*Entry) bool { return r[0].ID == *q.FirstID }); i >= 0 {
			start = i
		}
	}
	start = min(start, len(rows))
	end := min(start+pageSize, len(rows))

	enrich := q.EnrichResponse != nil && *q.EnrichResponse
	out := make([]rowJSON, 0, end-start)
	for i := start; i < end; i++ {
		out = append(out, s.renderRow(rows[i], i+1, enrich))
	}
	rep := jsonReply(http.StatusOK, out)
	rep.header = http.Header{}
	rep.header.Set("X-Range-Start", from.Format(time.DateOnly))
	rep.header.Set("X-Range-End", to.Format(time.DateOnly))
	if end < len(rows) {
		rep.header.Set("X-Next-ID", strconv.FormatInt(rows[end][0].ID, 10))
		rep.header.Set("X-Next-Row-Number", strconv.Itoa(end+1))
	}
	return rep
}

// matchNullable applies a filter list where a null item selects "none" (id 0).
func matchNullable(list []*int64, id int64) bool {
	if len(list) == 0 {
		return true
	}
	return slices.ContainsFunc(list, func(p *int64) bool {
		if p == nil {
			return id == 0
		}
		return *p == id
	})
}

// reportRows selects the live, stopped entries of current workspace members that start on
// a day in [from, to], applies the filters and groups them into rows (one entry per row unless
// grouped). Callers hold s.mu.
func (s *Server) reportRows(w *workspace, q reportsPost, from, to time.Time) [][]*Entry {
	until := to.AddDate(0, 0, 1)
	var picked []*Entry
	for _, e := range s.entries {
		if e.WorkspaceID != w.id || e.Deleted() || e.Running() || !w.hasMember(e.UserID) ||
			e.Start.Before(from) || !e.Start.Before(until) {
			continue
		}
		var clientID int64
		if p := s.projects[e.ProjectID]; p != nil {
			clientID = p.clientID
		}
		secs := int64(e.Stop.Sub(e.Start) / time.Second)
		tagIDs := s.tagIDs(e.WorkspaceID, e.Tags)
		switch {
		case len(q.UserIDs) > 0 && !slices.Contains(q.UserIDs, e.UserID):
		case len(q.TimeEntryIDs) > 0 && !slices.Contains(q.TimeEntryIDs, e.ID):
		case !matchNullable(q.ProjectIDs, e.ProjectID):
		case !matchNullable(q.ClientIDs, clientID):
		case !matchNullable(q.TaskIDs, e.TaskID):
		case len(q.TagIDs) > 0 && !slices.ContainsFunc(q.TagIDs, func(p *int64) bool {
			return (p == nil && len(tagIDs) == 0) || (p != nil && slices.Contains(tagIDs, *p))
		}):
		case q.Description != nil && !containsFold(e.Description, *q.Description):
		case q.Billable != nil && e.Billable != *q.Billable:
		case q.MinDurationSeconds != nil && secs < *q.MinDurationSeconds:
		case q.MaxDurationSeconds != nil && secs > *q.MaxDurationSeconds:
		default:
			picked = append(picked, e)
		}
	}
	slices.SortFunc(picked, func(a, b *Entry) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmpInt(a.ID, b.ID)
	})
	if q.Grouped == nil || !*q.Grouped {
		rows := make([][]*Entry, len(picked))
		for i, e := range picked {
			rows[i] = []*Entry{e}
		}
		return rows
	}
	index := map[string]int{}
	var rows [][]*Entry
	for _, e := range picked {
		tags := s.tagIDs(e.WorkspaceID, e.Tags)
		slices.Sort(tags)
		key := fmt.Sprint(e.UserID, e.ProjectID, e.TaskID, e.Billable, tags, e.Description)
		if i, ok := index[key]; ok {
			rows[i] = append(rows[i], e)
			continue
		}
		index[key] = len(rows)
		rows = append(rows, []*Entry{e})
	}
	return rows
}

func rowSeconds(r []*Entry) int64 {
	var n int64
	for _, e := range r {
		n += int64(e.Stop.Sub(e.Start) / time.Second)
	}
	return n
}

// sortRows orders rows by their first entry (or total seconds), ties broken by start and id so
// that paging is stable. Callers hold s.mu.
func (s *Server) sortRows(rows [][]*Entry, orderBy string, desc bool) {
	slices.SortStableFunc(rows, func(x, y []*Entry) int {
		a, b := x[0], y[0]
		c := 0
		switch orderBy {
		case "user":
			c = strings.Compare(strings.ToLower(s.users[a.UserID].fullname), strings.ToLower(s.users[b.UserID].fullname))
			if c == 0 {
				c = cmpInt(a.UserID, b.UserID)
			}
		case "duration":
			c = cmpInt(rowSeconds(x), rowSeconds(y))
		case "description":
			c = strings.Compare(strings.ToLower(a.Description), strings.ToLower(b.Description))
		case "last_update":
			c = a.At.Compare(b.At)
		}
		if c == 0 {
			c = a.Start.Compare(b.Start)
		}
		if c == 0 {
			c = cmpInt(a.ID, b.ID)
		}
		if desc {
			return -c
		}
		return c
	})
}

// renderRow builds one detailed.GroupedTimeEntry. Callers hold s.mu.
func (s *Server) renderRow(r []*Entry, rowNumber int, enrich bool) rowJSON {
	e := r[0]
	u := s.users[e.UserID]
	j := rowJSON{
		UserID:      e.UserID,
		Username:    u.fullname,
		Email:       u.email,
		ProjectID:   idPtr(e.ProjectID),
		TaskID:      idPtr(e.TaskID),
		Description: e.Description,
		Billable:    e.Billable,
		TagIDs:      s.tagIDs(e.WorkspaceID, e.Tags),
		Currency:    "USD",
		RowNumber:   rowNumber,
	}
	for _, x := range r {
		j.TimeEntries = append(j.TimeEntries, singleJSON{
			ID:      x.ID,
			Seconds: int64(x.Stop.Sub(x.Start) / time.Second),
			Start:   fmtTime(x.Start),
			Stop:    fmtTime(x.Stop),
			At:      fmtTime(x.At),
			AtTZ:    fmtTime(x.At), // users are simulated in UTC
		})
	}
	if enrich {
		if p := s.projects[e.ProjectID]; p != nil {
			j.ProjectName, j.ProjectColor, j.ProjectHex = ptr(p.name), ptr(p.color), ptr(p.color)
			if cl := s.clients[p.clientID]; cl != nil {
				j.ClientName = ptr(cl.name)
			}
		}
		if t := s.tasks[e.TaskID]; t != nil {
			j.TaskName = ptr(t.name)
		}
		j.TagNames = append([]string{}, e.Tags...)
	}
	return j
}
