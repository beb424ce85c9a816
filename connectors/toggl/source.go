package toggl

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
)

// Source fields.
const (
	modeMine      = "mine"
	modeWorkspace = "workspace"

	readAuto    = "auto"
	readMe      = "me"
	readReports = "reports"
)

// meEntriesCap is the number of rows at which a /me/time_entries answer may have been cut
// short; a backfill window that returns this many is split in two and read again.
const meEntriesCap = 1000

// cursorOverlap is how far before the server's time of the last read the next since= starts,
// so that an entry changed in the same second is not missed. Entries read twice are
// recognised by the ledger and cost nothing downstream.
const cursorOverlap = 5 * time.Second

// Source pulls time entries.
type Source struct {
	client *Client
	clock  connectors.Clock
	mode   string

	workspaceID int64
	userIDs     []int64
	projectIDs  []int64
	pageSize    int
	lookback    time.Duration

	// feed answers since= reads shared with the connection's other workflows; nil when
	// nothing is shared. cacheTTL is how old its answer may be.
	feed     *feed
	cacheTTL time.Duration
	cacheHit func(ctx context.Context, method, route string)
	// read is how `entries: mine` reads changes: "me", "reports", or "auto" (me while the
	// user bucket can afford it, else Reports on the organization bucket); quotaLeft tells.
	read      string
	quotaLeft func(bucket string) (int, bool)
	log       *slog.Logger

	startDate, endDate time.Time
	backfill           time.Duration
}

var _ connectors.Source = (*Source)(nil)

func newSource(cfg connectors.Config, deps connectors.Deps) (connectors.Source, error) {
	v := cfg.Values
	return &Source{
		client:      NewClient(cfg.BaseURL, cfg.Conn.Secret("api_token"), deps.HTTP),
		clock:       deps.Clock,
		mode:        v.String("entries"),
		workspaceID: v.Int("workspace_id"),
		userIDs:     v.Ints("user_ids"),
		projectIDs:  v.Ints("project_ids"),
		pageSize:    int(v.Int("page_size")),
		lookback:    v.Duration("lookback"),
		startDate:   v.Time("start_date"),
		endDate:     v.Time("end_date"),
		backfill:    v.Duration("backfill"),
		feed:        sharedFeed(deps.Shared),
		cacheTTL:    cfg.Conn.Duration("cache_ttl"),
		cacheHit:    deps.CacheHit,
		read:        v.String("read"),
		quotaLeft:   deps.QuotaLeft,
		log:         logger(deps.Log),
	}, nil
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Pull implements connectors.Source.
func (s *Source) Pull(ctx context.Context, cursor connectors.Cursor) (connectors.Batch, error) {
	if s.mode == modeWorkspace {
		return s.pullWorkspace(ctx, cursor)
	}
	return s.pullMine(ctx, cursor)
}

// backfillWindow is the first pull's range of start dates.
func (s *Source) backfillWindow(now time.Time) (from, to time.Time) {
	from = s.startDate
	if from.IsZero() {
		from = now.Add(-s.backfill).UTC().Truncate(24 * time.Hour)
	}
	to = now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	if !s.endDate.IsZero() {
		to = s.endDate.Add(24 * time.Hour)
	}
	return from, to
}

// inDateRange reports whether an entry starting at t lies within start_date and end_date
// (inclusive), where they are set.
func (s *Source) inDateRange(t time.Time) bool {
	if !s.startDate.IsZero() && t.Before(s.startDate) {
		return false
	}
	return s.endDate.IsZero() || t.Before(s.endDate.Add(24*time.Hour))
}

// pullMine reads the token owner's entries: a backfill by start date on the first pull, then
// everything changed since the cursor (one request).
func (s *Source) pullMine(ctx context.Context, cursor connectors.Cursor) (connectors.Batch, error) {
	since, hasSince, err := parseSince(cursor)
	if err != nil {
		return connectors.Batch{}, err
	}
	if hasSince && s.viaReports() {
		return s.pullMineViaReports(ctx, cursor)
	}
	var entries []TimeEntry
	var serverNow time.Time
	switch {
	case hasSince && s.feed != nil:
		entries, serverNow, err = s.feed.changes(ctx, s, since)
		if err != nil {
			return connectors.Batch{}, err
		}
	case hasSince:
		q := url.Values{"since": {strconv.FormatInt(since, 10)}, "meta": {"true"}}
		entries, serverNow, err = s.client.MyTimeEntries(ctx, q)
		if err != nil {
			return connectors.Batch{}, fmt.Errorf("read entries changed since %s: %w", time.Unix(since, 0).UTC().Format(time.RFC3339), err)
		}
		warnIfCapped(s, len(entries), since)
	case s.feed != nil:
		from, to := s.backfillWindow(s.clock.Now())
		entries, serverNow, err = s.feed.window(ctx, s, from, to)
		if err != nil {
			return connectors.Batch{}, err
		}
	default:
		from, to := s.backfillWindow(s.clock.Now())
		entries, serverNow, err = s.backfillMine(ctx, from, to)
		if err != nil {
			return connectors.Batch{}, err
		}
	}
	next := nextSince(since, serverNow, s.clock.Now(), entries)
	out := make([]connectors.Entry, 0, len(entries))
	for i := range entries {
		te := &entries[i]
		if !hasSince && te.ServerDeletedAt != nil {
			continue
		}
		if te.ServerDeletedAt != nil || s.inDateRange(te.Start) {
			out = append(out, te.normalize())
		}
	}
	return connectors.Batch{Entries: out, Next: next}, nil
}

// backfillMine reads entries starting in [from, to), halving the range while an answer may
// have been cut at the row cap.
func (s *Source) backfillMine(ctx context.Context, from, to time.Time) ([]TimeEntry, time.Time, error) {
	q := url.Values{
		"start_date": {from.UTC().Format(time.RFC3339)},
		"end_date":   {to.UTC().Format(time.RFC3339)},
		"meta":       {"true"},
	}
	entries, serverNow, err := s.client.MyTimeEntries(ctx, q)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("backfill entries from %s to %s: %w", from.Format(time.DateOnly), to.Format(time.DateOnly), err)
	}
	if len(entries) < meEntriesCap || to.Sub(from) <= time.Hour {
		return entries, serverNow, nil
	}
	mid := from.Add(to.Sub(from) / 2).Truncate(time.Hour)
	if !mid.After(from) {
		mid = from.Add(time.Hour)
	}
	first, t1, err := s.backfillMine(ctx, from, mid)
	if err != nil {
		return nil, time.Time{}, err
	}
	second, _, err := s.backfillMine(ctx, mid, to)
	if err != nil {
		return nil, time.Time{}, err
	}
	return append(first, second...), t1, nil
}

// warnIfCapped says when a since= answer may have been cut at the row cap: Toggl answers
// /me/time_entries with one page only, so older changes could be missing.
func warnIfCapped(s *Source, n int, since int64) {
	if n >= meEntriesCap {
		s.log.Warn("Toggl returned as many changed entries as it answers at most; older changes may be missing: run sluice resync for this workflow, or use entries: workspace",
			"entries", n, "since", time.Unix(since, 0).UTC())
	}
}

// nextSince is the cursor after a read: the server's time (falling back to the newest change
// seen, then to our clock) less the overlap, never before the previous cursor.
func nextSince(prev int64, serverNow, localNow time.Time, entries []TimeEntry) connectors.Cursor {
	t := serverNow
	if t.IsZero() {
		for i := range entries {
			if entries[i].At.After(t) {
				t = entries[i].At
			}
		}
	}
	if t.IsZero() {
		t = localNow
	}
	next := t.Add(-cursorOverlap).Unix()
	if next < prev {
		next = prev
	}
	return connectors.Cursor("since:" + strconv.FormatInt(next, 10))
}

// parseSince reads a "since:<unix seconds>" cursor.
func parseSince(c connectors.Cursor) (int64, bool, error) {
	if c == "" {
		return 0, false, nil
	}
	v, ok := strings.CutPrefix(string(c), "since:")
	n, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil || n < 0 {
		return 0, false, fmt.Errorf("toggl: stored cursor %q is not since:<unix seconds>", c)
	}
	return n, true, nil
}

// pullWorkspace reads every entry of the workspace in the lookback window through Reports v3,
// page by page. The answer is a snapshot: an entry that was pushed and is no longer there was
// deleted. The request reaches a day beyond each end of the snapshot, because Reports reads
// dates in the user's time zone.
func (s *Source) pullWorkspace(ctx context.Context, cursor connectors.Cursor) (connectors.Batch, error) {
	now := s.clock.Now().UTC()
	from, to := s.backfillWindow(now)
	if cursor != "" {
		if lb := now.Add(-s.lookback).Truncate(24 * time.Hour); lb.After(from) {
			from = lb
		}
		if !from.Before(to) {
			// end_date lies before the lookback: nothing is left to re-read.
			return connectors.Batch{Next: cursor}, nil
		}
	}
	out, err := s.search(ctx, s.workspaceID, s.userIDs, from, to)
	if err != nil {
		return connectors.Batch{}, err
	}
	return connectors.Batch{
		Entries:  out,
		Next:     connectors.Cursor("workspace:" + from.Format(time.DateOnly)),
		Snapshot: &connectors.Window{From: from, To: to},
	}, nil
}

// viaReports says whether changes to the owner's entries are read through Reports: when told
// to, or in auto mode when the user bucket cannot afford /me but the organization bucket can
// afford a Reports read (and the workspaces to read are known).
func (s *Source) viaReports() bool {
	if s.read == readMe || s.feed == nil {
		return false
	}
	if _, ws := s.feed.owner(); len(ws) == 0 {
		return false
	}
	if s.read == readReports {
		return true
	}
	if s.quotaLeft == nil {
		return false
	}
	user, known := s.quotaLeft(BucketUser)
	org, orgKnown := s.quotaLeft(BucketOrg)
	return known && user < 1 && (!orgKnown || org >= 2)
}

// pullMineViaReports reads the owner's entries of the lookback window through Reports v3,
// in each workspace they were seen in: a snapshot, like entries: workspace. Changes to
// entries older than the window wait until /me can be afforded again.
func (s *Source) pullMineViaReports(ctx context.Context, cursor connectors.Cursor) (connectors.Batch, error) {
	user, workspaces := s.feed.owner()
	now := s.clock.Now().UTC()
	from := now.Add(-s.lookback).Truncate(24 * time.Hour)
	to := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
	var out []connectors.Entry
	for _, ws := range workspaces {
		entries, err := s.search(ctx, ws, []int64{user}, from, to)
		if err != nil {
			return connectors.Batch{}, err
		}
		for _, e := range entries {
			if s.inDateRange(e.Start) {
				out = append(out, e)
			}
		}
	}
	s.log.Info("read changes through Reports: the user bucket is short", "workspaces", len(workspaces))
	since, _, _ := parseSince(cursor)
	return connectors.Batch{
		Entries:  out,
		Next:     nextSince(since, time.Time{}, now, nil),
		Snapshot: &connectors.Window{From: from, To: to},
	}, nil
}

// search reads, page by page, the entries of a workspace (of some users, when given) that
// start in [from, to). The request reaches a day beyond each end, because Reports reads
// dates in the user's time zone; what falls outside is dropped. Workflows of the connection
// asking the same within the cache TTL share one read.
func (s *Source) search(ctx context.Context, workspace int64, users []int64, from, to time.Time) ([]connectors.Entry, error) {
	if s.feed == nil {
		return s.searchPages(ctx, workspace, users, from, to)
	}
	key := fmt.Sprint(workspace, users, s.projectIDs, s.pageSize, from.Unix(), to.Unix())
	return s.feed.searched(ctx, s, key, func() ([]connectors.Entry, error) {
		return s.searchPages(ctx, workspace, users, from, to)
	})
}

func (s *Source) searchPages(ctx context.Context, workspace int64, users []int64, from, to time.Time) ([]connectors.Entry, error) {
	req := SearchRequest{
		StartDate:      from.Add(-24 * time.Hour).Format(time.DateOnly),
		EndDate:        to.Format(time.DateOnly),
		UserIDs:        users,
		ProjectIDs:     s.projectIDs,
		PageSize:       s.pageSize,
		EnrichResponse: true,
	}
	window := connectors.Window{From: from, To: to}
	var out []connectors.Entry
	for page := 1; ; page++ {
		rows, next, err := s.client.SearchTimeEntries(ctx, workspace, req)
		if err != nil {
			return nil, fmt.Errorf("search workspace %d entries from %s to %s (page %d): %w",
				workspace, req.StartDate, req.EndDate, page, err)
		}
		for i := range rows {
			for _, e := range rows[i].entries(workspace) {
				if window.Contains(e.Start) {
					out = append(out, e)
				}
			}
		}
		if next == nil {
			return out, nil
		}
		req.FirstID, req.FirstRowNumber = next.ID, next.RowNumber
	}
}

// normalize turns a Track entry into the engine's Entry.
func (te *TimeEntry) normalize() connectors.Entry {
	e := connectors.Entry{
		ID:          strconv.FormatInt(te.ID, 10),
		WorkspaceID: te.WorkspaceID,
		UserID:      te.UserID,
		User:        te.UserName,
		Project:     te.ProjectName,
		Client:      te.ClientName,
		Task:        te.TaskName,
		Start:       te.Start.UTC(),
		Duration:    int(te.Duration),
		Billable:    te.Billable,
		Tags:        te.Tags,
		UpdatedAt:   te.At.UTC(),
		Deleted:     te.ServerDeletedAt != nil,
	}
	if te.ProjectID != nil {
		e.ProjectID = *te.ProjectID
	}
	if te.TaskID != nil {
		e.TaskID = *te.TaskID
	}
	if te.Description != nil {
		e.Description = *te.Description
	}
	if te.Stop != nil {
		e.Stop = te.Stop.UTC()
	}
	if e.Duration < 0 {
		e.Duration = -1
	}
	return e
}

// entries turns a report row into one Entry per time entry in it.
func (r *ReportRow) entries(workspaceID int64) []connectors.Entry {
	out := make([]connectors.Entry, 0, len(r.TimeEntries))
	for _, te := range r.TimeEntries {
		e := connectors.Entry{
			ID:          strconv.FormatInt(te.ID, 10),
			WorkspaceID: workspaceID,
			Project:     r.ProjectName,
			Client:      r.ClientName,
			Task:        r.TaskName,
			UserID:      r.UserID,
			User:        r.Username,
			Email:       r.Email,
			Description: r.Description,
			Start:       te.Start.UTC(),
			Duration:    int(te.Seconds),
			Billable:    r.Billable,
			Tags:        r.TagNames,
			UpdatedAt:   te.At.UTC(),
		}
		if r.ProjectID != nil {
			e.ProjectID = *r.ProjectID
		}
		if r.TaskID != nil {
			e.TaskID = *r.TaskID
		}
		if te.Stop != nil {
			e.Stop = te.Stop.UTC()
		} else {
			e.Duration = -1
		}
		out = append(out, e)
	}
	return out
}
