package runner_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors"
)

// memSource is an in-memory source: every change gets a version, and a pull returns the
// entries changed after the cursor's version (deletions as tombstones), like Toggl's since=.
type memSource struct {
	mu      sync.Mutex
	version int
	entries map[string]*memEntry
	// snapshot makes pulls return every live entry with a snapshot window, like Reports.
	snapshot *connectors.Window
	pulls    int
	failPull error
	// onPull runs at the start of each pull.
	onPull func()
}

type memEntry struct {
	e       connectors.Entry
	version int
}

func newMemSource() *memSource { return &memSource{entries: map[string]*memEntry{}} }

// put adds or replaces an entry.
func (s *memSource) put(e connectors.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version++
	s.entries[e.ID] = &memEntry{e: e, version: s.version}
}

// edit changes an entry.
func (s *memSource) edit(id string, f func(*connectors.Entry)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	me := s.entries[id]
	f(&me.e)
	s.version++
	me.version = s.version
}

func (s *memSource) remove(id string) { s.edit(id, func(e *connectors.Entry) { e.Deleted = true }) }

func (s *memSource) Pull(ctx context.Context, c connectors.Cursor) (connectors.Batch, error) {
	if s.onPull != nil {
		s.onPull()
	}
	if err := ctx.Err(); err != nil {
		return connectors.Batch{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pulls++
	if s.failPull != nil {
		return connectors.Batch{}, s.failPull
	}
	since := 0
	if c != "" {
		since, _ = strconv.Atoi(string(c))
	}
	var out []connectors.Entry
	for _, k := range slices.Sorted(maps.Keys(s.entries)) {
		me := s.entries[k]
		if s.snapshot != nil {
			if !me.e.Deleted && s.snapshot.Contains(me.e.Start) {
				out = append(out, me.e)
			}
			continue
		}
		if me.version > since && (c != "" || !me.e.Deleted) {
			out = append(out, me.e)
		}
	}
	return connectors.Batch{Entries: out, Next: connectors.Cursor(strconv.Itoa(s.version)), Snapshot: s.snapshot}, nil
}

// memSink keeps records in memory under ids it makes up, marks them with their idempotency
// key like the Jira sink does, and can be told to misbehave.
type memSink struct {
	mu      sync.Mutex
	next    int
	objects map[string]connectors.Record
	ops     map[string]int
	// reject refuses records whose key is in it.
	reject map[string]string
	// failAfter, when > 0, applies the nth write and then returns an error as if the
	// answer was lost.
	failAfter int
	writes    int
	finds     int
	// fatal makes every write fail without applying.
	fatal error
}

func newMemSink() *memSink {
	return &memSink{objects: map[string]connectors.Record{}, ops: map[string]int{}, reject: map[string]string{}}
}

func (s *memSink) check(rec *connectors.Record) error {
	if s.fatal != nil {
		return s.fatal
	}
	if reason, ok := s.reject[rec.Key]; ok {
		return connectors.Rejected(400, "%s", reason)
	}
	return nil
}

// lost is called after a write was applied: it reports whether the answer is lost.
func (s *memSink) lost() error {
	s.writes++
	if s.failAfter > 0 && s.writes == s.failAfter {
		return fmt.Errorf("connection reset after the write was applied")
	}
	return nil
}

func (s *memSink) Create(_ context.Context, rec connectors.Record) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(&rec); err != nil {
		return "", err
	}
	s.next++
	id := "obj-" + strconv.Itoa(s.next)
	s.objects[id] = rec
	s.ops["create"]++
	return id, s.lost()
}

func (s *memSink) Update(_ context.Context, id string, rec connectors.Record) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(&rec); err != nil {
		return "", err
	}
	if _, ok := s.objects[id]; !ok {
		return "", connectors.Rejected(404, "object %s is gone", id)
	}
	s.objects[id] = rec
	s.ops["update"]++
	return id, s.lost()
}

func (s *memSink) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fatal != nil {
		return s.fatal
	}
	delete(s.objects, id)
	s.ops["delete"]++
	return s.lost()
}

func (s *memSink) Find(_ context.Context, rec connectors.Record) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finds++
	for id, o := range s.objects {
		if o.Workflow == rec.Workflow && o.Key == rec.Key {
			return id, true, nil
		}
	}
	return "", false, nil
}

// byKey returns the stored records by source key, and fails on duplicates.
func (s *memSink) byKey() (map[string]connectors.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]connectors.Record{}
	for id, o := range s.objects {
		if _, dup := out[o.Key]; dup {
			return nil, fmt.Errorf("entry %s is at the sink twice (one is %s)", o.Key, id)
		}
		out[o.Key] = o
	}
	return out, nil
}

// Registered connectors route to the instances the current test installs.
var (
	current struct {
		sync.Mutex
		src  *memSource
		sink *memSink
	}
	_ connectors.Finder = (*memSink)(nil)
)

func init() {
	connectors.Register(connectors.Spec{
		Name: "mem_source",
		NewSource: func(connectors.Config, connectors.Deps) (connectors.Source, error) {
			current.Lock()
			defer current.Unlock()
			return current.src, nil
		},
	})
	connectors.Register(connectors.Spec{
		Name: "mem_sink",
		Map: []connectors.Field{
			{Name: "title", Type: connectors.String, Required: true, Default: "entry.description"},
			{Name: "seconds", Type: connectors.Int, Required: true, Default: "entry.duration"},
			{Name: "started", Type: connectors.Time, Default: "entry.start"},
		},
		NewSink: func(connectors.Config, connectors.Deps) (connectors.Sink, error) {
			current.Lock()
			defer current.Unlock()
			return current.sink, nil
		},
	})
}

// day is a fixed day the test entries start on.
var day = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// entry makes a stopped entry.
func entry(id int, desc string, minutes int) connectors.Entry {
	start := day.Add(time.Duration(id) * time.Hour)
	return connectors.Entry{ID: strconv.Itoa(id), Description: desc, Start: start, Duration: minutes * 60,
		Stop: start.Add(time.Duration(minutes) * time.Minute), Billable: true, Project: "Website"}
}
