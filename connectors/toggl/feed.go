package toggl

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors"
)

// feed is the token owner's stream of changed entries, shared by every workflow that reads
// it through one connection: ten workflows polling at the same moment cost one request.
//
// It holds the latest version of each entry changed since `from`, as read up to the
// server's time `upTo`. A pull whose cursor lies at or after `from` is answered from it,
// once the feed is refreshed if it is older than the TTL; a pull from further back reads
// from its cursor and widens the feed. Each workflow keeps its own cursor.
type feed struct {
	mu      sync.Mutex
	from    int64     // unix seconds: changes since then are all held
	upTo    time.Time // the server's time of the last read
	readAt  time.Time // our clock's time of the last read, for the TTL
	entries map[int64]TimeEntry
	// backfills holds first pulls by their window, so that workflows starting together
	// read their history once.
	backfills map[[2]time.Time]backfill
	// user and workspaces are the token owner and the workspaces their entries were seen
	// in: what a read through Reports needs when the user bucket is short.
	user       int64
	workspaces map[int64]bool
	// searches holds Reports reads by their request, so that workflows reading the same
	// workspace the same way share them.
	searches map[string]search
}

type search struct {
	entries []connectors.Entry
	readAt  time.Time
}

// searched returns the entries of a Reports read, made at most once per TTL for each
// distinct request.
func (f *feed) searched(ctx context.Context, s *Source, key string, read func() ([]connectors.Entry, error)) ([]connectors.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := s.clock.Now()
	if r, ok := f.searches[key]; ok && now.Sub(r.readAt) < s.cacheTTL {
		if s.cacheHit != nil {
			s.cacheHit(ctx, http.MethodPost, "/reports/api/v3/workspace/{workspace_id}/search/time_entries")
		}
		return r.entries, nil
	}
	entries, err := read()
	if err != nil {
		return nil, err
	}
	for k, r := range f.searches {
		if now.Sub(r.readAt) >= s.cacheTTL {
			delete(f.searches, k)
		}
	}
	if f.searches == nil {
		f.searches = map[string]search{}
	}
	f.searches[key] = search{entries: entries, readAt: now}
	return entries, nil
}

// learn notes the owner and workspaces of entries read. Callers hold f.mu.
func (f *feed) learn(entries []TimeEntry) {
	for _, te := range entries {
		if f.workspaces == nil {
			f.workspaces = map[int64]bool{}
		}
		f.workspaces[te.WorkspaceID] = true
		f.user = te.UserID
	}
}

// owner returns the token owner and the workspaces seen, once anything was read.
func (f *feed) owner() (int64, []int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ws := make([]int64, 0, len(f.workspaces))
	for id := range f.workspaces {
		ws = append(ws, id)
	}
	slices.Sort(ws)
	return f.user, ws
}

type backfill struct {
	entries []TimeEntry
	upTo    time.Time
	readAt  time.Time
}

// window returns the entries starting in [from, to), read at most once per TTL.
func (f *feed) window(ctx context.Context, s *Source, from, to time.Time) ([]TimeEntry, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := s.clock.Now()
	key := [2]time.Time{from, to}
	if b, ok := f.backfills[key]; ok && now.Sub(b.readAt) < s.cacheTTL {
		if s.cacheHit != nil {
			s.cacheHit(ctx, http.MethodGet, "/api/v9/me/time_entries")
		}
		return b.entries, b.upTo, nil
	}
	entries, upTo, err := s.backfillMine(ctx, from, to)
	if err != nil {
		return nil, time.Time{}, err
	}
	for k, b := range f.backfills {
		if now.Sub(b.readAt) >= s.cacheTTL {
			delete(f.backfills, k)
		}
	}
	if f.backfills == nil {
		f.backfills = map[[2]time.Time]backfill{}
	}
	f.backfills[key] = backfill{entries: entries, upTo: upTo, readAt: now}
	f.learn(entries)
	return entries, upTo, nil
}

// feedKeep is how long changes stay in a feed; older ones are dropped and `from` moves up.
const feedKeep = 24 * time.Hour

// changes returns the entries changed since the cursor (unix seconds) and the server time
// they were read up to, reading from Toggl only when the feed cannot answer.
func (f *feed) changes(ctx context.Context, s *Source, since int64) ([]TimeEntry, time.Time, error) {
	f.mu.Lock() // held while reading: pulls that arrive meanwhile wait and share the answer
	defer f.mu.Unlock()
	now := s.clock.Now()
	holds := f.entries != nil && f.from <= since
	switch {
	case holds && now.Sub(f.readAt) < s.cacheTTL:
		if s.cacheHit != nil {
			s.cacheHit(ctx, http.MethodGet, "/api/v9/me/time_entries")
		}
	case holds:
		// Refresh from the last read, with the overlap, and keep the rest.
		if err := f.read(ctx, s, f.upTo.Add(-cursorOverlap).Unix()); err != nil {
			return nil, time.Time{}, err
		}
	default:
		if f.entries == nil || since < f.from {
			f.from = since
		}
		if err := f.read(ctx, s, since); err != nil {
			return nil, time.Time{}, err
		}
	}
	out := make([]TimeEntry, 0, len(f.entries))
	for _, te := range f.entries {
		if te.At.Unix() >= since {
			out = append(out, te)
		}
	}
	return out, f.upTo, nil
}

// read fetches the changes since a time and merges them into the feed.
func (f *feed) read(ctx context.Context, s *Source, since int64) error {
	q := url.Values{"since": {strconv.FormatInt(since, 10)}, "meta": {"true"}}
	entries, serverNow, err := s.client.MyTimeEntries(ctx, q)
	if err != nil {
		return fmt.Errorf("read entries changed since %s: %w", time.Unix(since, 0).UTC().Format(time.RFC3339), err)
	}
	warnIfCapped(s, len(entries), since)
	now := s.clock.Now()
	if serverNow.IsZero() {
		serverNow = now
	}
	if f.entries == nil {
		f.entries = map[int64]TimeEntry{}
	}
	for _, te := range entries {
		if old, ok := f.entries[te.ID]; !ok || !te.At.Before(old.At) {
			f.entries[te.ID] = te
		}
	}
	f.learn(entries)
	if serverNow.After(f.upTo) {
		f.upTo = serverNow
	}
	f.readAt = now
	// Forget changes older than a day: a workflow that far behind reads them again.
	if cut := serverNow.Add(-feedKeep).Unix(); f.from < cut {
		for id, te := range f.entries {
			if te.At.Unix() < cut {
				delete(f.entries, id)
			}
		}
		f.from = cut
	}
	return nil
}

// sharedFeed returns the connection's feed, or nil when nothing is shared.
func sharedFeed(shared *connectors.Shared) *feed {
	if shared == nil {
		return nil
	}
	return shared.Value("toggl:me/time_entries", func() any { return &feed{} }).(*feed)
}
