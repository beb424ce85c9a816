package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine/store"
)

// t0 is a fixed instant the tests build times from.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// openTest opens a fresh database file under t.TempDir and closes it when the test ends.
func openTest(t testing.TB) *DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "sluice.db"))
}

// openAt opens the database file at path and closes it when the test ends.
func openAt(t testing.TB, path string) *DB {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// sameLedger reports how got differs from want, or "" when they are the same.
func sameLedger(got, want store.LedgerEntry) string {
	var diffs []string
	if !got.Start.Equal(want.Start) {
		diffs = append(diffs, fmt.Sprintf("Start %v, want %v", got.Start, want.Start))
	}
	if !got.UpdatedAt.Equal(want.UpdatedAt) {
		diffs = append(diffs, fmt.Sprintf("UpdatedAt %v, want %v", got.UpdatedAt, want.UpdatedAt))
	}
	if !bytes.Equal(got.Entry, want.Entry) {
		diffs = append(diffs, fmt.Sprintf("Entry %q, want %q", got.Entry, want.Entry))
	}
	if g, w := ledgerScalars(got), ledgerScalars(want); g != w {
		diffs = append(diffs, fmt.Sprintf("%+v, want %+v", g, w))
	}
	return strings.Join(diffs, "; ")
}

// ledgerFields is the comparable part of a store.LedgerEntry.
type ledgerFields struct {
	Workflow, Key, Hash, RemoteID string
	State                         store.State
	Op                            store.Op
	Attempts                      int
	Error                         string
}

func ledgerScalars(e store.LedgerEntry) ledgerFields {
	return ledgerFields{e.Workflow, e.Key, e.Hash, e.RemoteID, e.State, e.Op, e.Attempts, e.Error}
}

func ledgerKeys(es []store.LedgerEntry) []string {
	keys := make([]string, len(es))
	for i, e := range es {
		keys[i] = e.Key
	}
	return keys
}

// writeLedger saves and removes ledger rows, with no intents.
func writeLedger(ctx context.Context, s *DB, workflow string, save []store.LedgerEntry, remove []string) error {
	_, err := s.WriteLedger(ctx, workflow, store.LedgerWrite{Save: save, Remove: remove})
	return err
}

func synced(key string, start time.Time) store.LedgerEntry {
	return store.LedgerEntry{Key: key, Hash: "h-" + key, RemoteID: "r-" + key, State: store.Synced,
		Start: start, UpdatedAt: t0}
}

func countRows(t *testing.T, s *DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestOpenCreatesSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.db")
	s := openAt(t, path)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	v, err := s.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v != len(migrations) {
		t.Errorf("SchemaVersion = %d, want %d", v, len(migrations))
	}
	for _, table := range []string{"cursors", "ledger", "ledger_intents", "runs", "run_items", "calls", "quota"} {
		if n := countRows(t, s, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table); n != 1 {
			t.Errorf("table %s: found %d times", table, n)
		}
	}
}

func TestOpenReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sluice.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(ctx, "daily", "toggl", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := writeLedger(ctx, s, "daily", []store.LedgerEntry{synced("e1", t0)}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening must not apply the migrations again (they would fail on existing tables).
	s = openAt(t, path)
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v != len(migrations) {
		t.Errorf("SchemaVersion after reopen = %d, want %d", v, len(migrations))
	}
	if c, err := s.Cursor(ctx, "daily", "toggl"); err != nil || c != "c1" {
		t.Errorf("Cursor after reopen = %q, %v; want c1", c, err)
	}
	got, err := s.Ledger(ctx, "daily", []string{"e1"})
	if err != nil {
		t.Fatal(err)
	}
	want := synced("e1", t0)
	want.Workflow = "daily"
	if d := sameLedger(got["e1"], want); d != "" {
		t.Errorf("ledger after reopen: %s", d)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sluice.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	newer := len(migrations) + 1
	if _, err := s.db.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, newer)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer sluice succeeded")
	}
	for _, part := range []string{path, fmt.Sprintf("schema version %d", newer), fmt.Sprintf("(%d)", len(migrations)), "upgrade sluice"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}

	// The refused database is left as it was.
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var v int
	if err := raw.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != newer {
		t.Errorf("user_version after the refused Open = %d, want %d", v, newer)
	}
}

func TestOpenPragmas(t *testing.T) {
	s := openTest(t)
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
		// NORMAL: in WAL mode a commit survives a crash of the process; OFF could lose ledger
		// rows of writes the sink already has, and they would be pushed again.
		{"synchronous", "1"},
	}
	for _, tc := range tests {
		t.Run(tc.pragma, func(t *testing.T) {
			var got string
			if err := s.db.QueryRowContext(t.Context(), `PRAGMA `+tc.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
			}
		})
	}
}

// The path is a file name, not a URI: characters that mean something in a "file:" URI must
// still name the file they spell.
func TestOpenPathWithURICharacters(t *testing.T) {
	tests := []struct {
		name string
		dir  string
	}{
		{"space", "my data"},
		{"hash", "project #1"},
		{"question mark", "what?"},
		{"percent escape", "100%41"},
		{"ampersand and equals", "a&b=c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			base := t.TempDir()
			dir := filepath.Join(base, tc.dir)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "sluice.db")
			s, err := Open(ctx, path)
			if err != nil {
				t.Fatalf("Open(%q): %v", path, err)
			}
			defer s.Close()
			if err := s.SetCursor(ctx, "daily", "toggl", "c1"); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("database not at %q: %v", path, err)
			}
			var stray []string
			entries, err := os.ReadDir(base)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Name() != tc.dir {
					stray = append(stray, e.Name())
				}
			}
			if len(stray) > 0 {
				t.Errorf("files created outside %q: %q", dir, stray)
			}
			var timeout int
			if err := s.db.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&timeout); err != nil {
				t.Fatal(err)
			}
			if timeout != 10000 {
				t.Errorf("busy_timeout = %d, want 10000", timeout)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	type step struct {
		set                      bool
		workflow, source, cursor string
	}
	steps := []step{
		{false, "daily", "toggl", ""},
		{true, "daily", "toggl", "c1"},
		{false, "daily", "toggl", "c1"},
		{true, "daily", "toggl", "c2"}, // overwrite
		{false, "daily", "toggl", "c2"},
		{false, "daily", "clockify", ""}, // another source of the same workflow
		{false, "weekly", "toggl", ""},   // the same source of another workflow
		{true, "weekly", "toggl", "w1"},
		{true, "daily", "clockify", "k1"},
		{false, "daily", "toggl", "c2"},
		{false, "weekly", "toggl", "w1"},
		{false, "daily", "clockify", "k1"},
		{true, "daily", "toggl", ""}, // back to "never pulled"
		{false, "daily", "toggl", ""},
		{false, "weekly", "toggl", "w1"},
	}
	for i, st := range steps {
		if st.set {
			if err := s.SetCursor(ctx, st.workflow, st.source, st.cursor); err != nil {
				t.Fatalf("step %d: SetCursor: %v", i, err)
			}
			continue
		}
		got, err := s.Cursor(ctx, st.workflow, st.source)
		if err != nil {
			t.Fatalf("step %d: Cursor: %v", i, err)
		}
		if got != st.cursor {
			t.Errorf("step %d: Cursor(%s, %s) = %q, want %q", i, st.workflow, st.source, got, st.cursor)
		}
	}
}

func TestLedgerRoundTrip(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		in   store.LedgerEntry
	}{
		{"synced", store.LedgerEntry{Key: "e1", Hash: "0123456789abcdef", RemoteID: "PROJ-1/10001",
			State: store.Synced, Start: t0, UpdatedAt: t0.Add(time.Hour)}},
		{"pending create", store.LedgerEntry{Key: "e2", Hash: "h2", State: store.Pending, Op: store.Create,
			Start: time.Date(2026, 3, 2, 10, 30, 15, 123_456_789, berlin), Attempts: 0,
			Entry: []byte(`{"id":"e2","description":"ünïcode ✓"}`), UpdatedAt: time.Date(2026, 3, 2, 10, 31, 0, 999_999_999, time.UTC)}},
		{"failed update", store.LedgerEntry{Key: "e3", Hash: "h3", RemoteID: "PROJ-2/10002", State: store.Failed,
			Op: store.Update, Start: t0.Add(-48 * time.Hour), Attempts: 7, Error: "jira: 400 Bad Request: \"issue\" is closed",
			Entry: []byte(`{"id":"e3","tags":["a","b"],"duration":-1}`), UpdatedAt: t0}},
		{"failed delete", store.LedgerEntry{Key: "key with spaces/and:colons", Hash: "h4", RemoteID: "r4", State: store.Failed,
			Op: store.Delete, Start: t0.Add(time.Millisecond), Attempts: 1, Error: "e", UpdatedAt: t0}},
	}
	var save []store.LedgerEntry
	var keys []string
	for _, tc := range tests {
		save = append(save, tc.in)
		keys = append(keys, tc.in.Key)
	}
	if err := writeLedger(ctx, s, "daily", save, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Ledger(ctx, "daily", keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.in
			want.Workflow = "daily"
			// Times are kept to the millisecond and come back at UTC.
			want.Start = want.Start.Truncate(time.Millisecond)
			want.UpdatedAt = want.UpdatedAt.Truncate(time.Millisecond)
			g, ok := got[tc.in.Key]
			if !ok {
				t.Fatalf("key %q missing", tc.in.Key)
			}
			if d := sameLedger(g, want); d != "" {
				t.Error(d)
			}
			if g.Start.Location() != time.UTC {
				t.Errorf("Start is at %v, want UTC", g.Start.Location())
			}
			if tc.in.Entry == nil && g.Entry != nil {
				t.Errorf("Entry = %q, want nil", g.Entry)
			}
		})
	}
}

func TestWriteLedgerUpsertsAndRemoves(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	first := []store.LedgerEntry{synced("a", t0), synced("b", t0.Add(time.Minute)), synced("c", t0.Add(2*time.Minute))}
	first[1].State, first[1].Op, first[1].Entry, first[1].Error, first[1].Attempts = store.Failed, store.Update, []byte("{}"), "boom", 2
	if err := writeLedger(ctx, s, "daily", first, nil); err != nil {
		t.Fatal(err)
	}

	// One call: b is settled (its error and entry cleared), d is new, a and c go, and a key that
	// was never written is removed without complaint.
	b := synced("b", t0.Add(time.Minute))
	b.Hash, b.RemoteID, b.UpdatedAt = "h-b2", "r-b2", t0.Add(time.Hour)
	d := synced("d", t0.Add(3*time.Minute))
	if err := writeLedger(ctx, s, "daily", []store.LedgerEntry{b, d}, []string{"a", "c", "never-written"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Ledger(ctx, "daily", []string{"a", "b", "c", "d"})
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"b", "d"}) {
		t.Fatalf("keys = %q, want [b d]", keys)
	}
	for _, want := range []store.LedgerEntry{b, d} {
		want.Workflow = "daily"
		if diff := sameLedger(got[want.Key], want); diff != "" {
			t.Errorf("%s: %s", want.Key, diff)
		}
	}

	// Saving and removing the same key in one call removes it: removals come after saves.
	if err := writeLedger(ctx, s, "daily", []store.LedgerEntry{synced("e", t0)}, []string{"e"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Ledger(ctx, "daily", []string{"e"}); err != nil || len(got) != 0 {
		t.Errorf("saved and removed key: Ledger = %v, %v; want empty", got, err)
	}

	// An empty call is a no-op.
	if err := writeLedger(ctx, s, "daily", nil, nil); err != nil {
		t.Errorf("empty WriteLedger: %v", err)
	}
}

func TestLedgerLookupBatches(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	const stored = 1234
	var save []store.LedgerEntry
	for i := range stored {
		save = append(save, synced(fmt.Sprintf("e%05d", i), t0.Add(time.Duration(i)*time.Minute)))
	}
	if err := writeLedger(ctx, s, "daily", save, nil); err != nil {
		t.Fatal(err)
	}
	// The same keys under another workflow must never be returned.
	if err := writeLedger(ctx, s, "other", save[:600], nil); err != nil {
		t.Fatal(err)
	}

	// keys returns n keys: every third one missing from the ledger, the rest stored.
	keys := func(n int) (ks []string, found int) {
		for i := range n {
			if i%3 == 2 {
				ks = append(ks, fmt.Sprintf("missing%05d", i))
				continue
			}
			ks = append(ks, fmt.Sprintf("e%05d", i))
			found++
		}
		return ks, found
	}
	all := make([]string, 0, stored+300)
	for i := range stored {
		all = append(all, fmt.Sprintf("e%05d", i))
		if i%4 == 0 && len(all) < stored+300 {
			all = append(all, fmt.Sprintf("missing%05d", i))
		}
	}
	type lookup struct {
		name  string
		keys  []string
		found int
	}
	tests := []lookup{
		{"none", nil, 0},
		{"one", []string{"e00000"}, 1},
		{"only missing", []string{"nope", "nada"}, 0},
		{"duplicates", []string{"e00001", "e00001", "e00002"}, 2},
	}
	// Around and across the 500-key chunks of one IN (...) query.
	for _, n := range []int{499, 500, 501, 1000, 1001} {
		ks, found := keys(n)
		tests = append(tests, lookup{fmt.Sprintf("%d keys", n), ks, found})
	}
	tests = append(tests, lookup{"every stored key among missing ones", all, stored})

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Ledger(ctx, "daily", tc.keys)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("Ledger returned a nil map")
			}
			if len(got) != tc.found {
				t.Errorf("found %d entries, want %d", len(got), tc.found)
			}
			for k, e := range got {
				if e.Key != k || e.Workflow != "daily" || !strings.HasPrefix(k, "e") {
					t.Errorf("entry %q: %+v", k, e)
				}
				if !slices.Contains(tc.keys, k) {
					t.Errorf("entry %q was not asked for", k)
				}
			}
		})
	}
}

func TestLedgerWindow(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	from, to := t0, t0.Add(24*time.Hour)
	save := []store.LedgerEntry{
		synced("before", from.Add(-time.Millisecond)),
		synced("last", to.Add(-time.Millisecond)),
		synced("first", from),
		synced("middle", from.Add(12*time.Hour)),
		synced("at-to", to),
		synced("after", to.Add(time.Hour)),
	}
	save[3].State, save[3].Op = store.Failed, store.Update // every state is in the window
	if err := writeLedger(ctx, s, "daily", save, nil); err != nil {
		t.Fatal(err)
	}
	if err := writeLedger(ctx, s, "weekly", []store.LedgerEntry{synced("other-workflow", from.Add(time.Hour))}, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		workflow string
		from, to time.Time
		want     []string
	}{
		{"half open, by start", "daily", from, to, []string{"first", "middle", "last"}},
		{"empty window", "daily", from, from, nil},
		{"one millisecond", "daily", from, from.Add(time.Millisecond), []string{"first"}},
		{"everything", "daily", from.Add(-time.Hour), to.Add(2 * time.Hour), []string{"before", "first", "middle", "last", "at-to", "after"}},
		{"other workflow", "weekly", from, to, []string{"other-workflow"}},
		{"unknown workflow", "monthly", from, to, nil},
		// A window given at another zone is the same instants.
		{"other zone", "daily", from.In(time.FixedZone("X", -5*3600)), to.In(time.FixedZone("Y", 9*3600)), []string{"first", "middle", "last"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.LedgerWindow(ctx, tc.workflow, tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if keys := ledgerKeys(got); !slices.Equal(keys, tc.want) {
				t.Errorf("keys = %q, want %q", keys, tc.want)
			}
			for _, e := range got {
				if e.Workflow != tc.workflow {
					t.Errorf("%s: Workflow = %q", e.Key, e.Workflow)
				}
			}
		})
	}
}

func TestLedgerUnsettledAndCount(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	entry := func(key string, st store.State, op store.Op, start time.Time) store.LedgerEntry {
		e := synced(key, start)
		e.State, e.Op = st, op
		if st != store.Synced {
			e.Entry = []byte(`{"id":"` + key + `"}`)
		}
		return e
	}
	daily := []store.LedgerEntry{
		entry("s1", store.Synced, "", t0),
		entry("f1", store.Failed, store.Create, t0.Add(3*time.Hour)),
		entry("s2", store.Synced, "", t0.Add(time.Hour)),
		entry("p1", store.Pending, store.Update, t0.Add(time.Hour)),
		entry("f2", store.Failed, store.Delete, t0.Add(2*time.Hour)),
		entry("s3", store.Synced, "", t0.Add(4*time.Hour)),
	}
	weekly := []store.LedgerEntry{entry("p9", store.Pending, store.Create, t0), entry("s9", store.Synced, "", t0)}
	if err := writeLedger(ctx, s, "daily", daily, nil); err != nil {
		t.Fatal(err)
	}
	if err := writeLedger(ctx, s, "weekly", weekly, nil); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		workflow  string
		unsettled []string // by start; p1 and s2 share a start, so only the set is checked
		count     map[store.State]int
	}{
		{"daily", []string{"f1", "f2", "p1"}, map[store.State]int{store.Synced: 3, store.Pending: 1, store.Failed: 2}},
		{"weekly", []string{"p9"}, map[store.State]int{store.Synced: 1, store.Pending: 1}},
		{"monthly", nil, map[store.State]int{}},
	}
	for _, tc := range tests {
		t.Run(tc.workflow, func(t *testing.T) {
			got, err := s.LedgerUnsettled(ctx, tc.workflow)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Start.Before(got[i-1].Start) {
					t.Errorf("not ordered by start: %q", ledgerKeys(got))
				}
			}
			keys := ledgerKeys(got)
			slices.Sort(keys)
			if !slices.Equal(keys, tc.unsettled) {
				t.Errorf("LedgerUnsettled = %q, want %q", keys, tc.unsettled)
			}
			for _, e := range got {
				if e.State == store.Synced || len(e.Entry) == 0 || e.Op == "" {
					t.Errorf("unsettled entry %+v", e)
				}
			}
			count, err := s.LedgerCount(ctx, tc.workflow)
			if err != nil {
				t.Fatal(err)
			}
			if !mapsEqual(count, tc.count) {
				t.Errorf("LedgerCount = %v, want %v", count, tc.count)
			}
		})
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestLedgerWorkflowIsolation(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	a, b := synced("same-key", t0), synced("same-key", t0.Add(time.Hour))
	a.Hash, b.Hash = "hash-a", "hash-b"
	if err := writeLedger(ctx, s, "daily", []store.LedgerEntry{a}, nil); err != nil {
		t.Fatal(err)
	}
	if err := writeLedger(ctx, s, "weekly", []store.LedgerEntry{b}, nil); err != nil {
		t.Fatal(err)
	}
	for wf, want := range map[string]string{"daily": "hash-a", "weekly": "hash-b"} {
		got, err := s.Ledger(ctx, wf, []string{"same-key"})
		if err != nil {
			t.Fatal(err)
		}
		if got["same-key"].Hash != want || got["same-key"].Workflow != wf {
			t.Errorf("%s: %+v, want hash %s", wf, got["same-key"], want)
		}
	}
	// Removing the key from one workflow leaves the other's row.
	if err := writeLedger(ctx, s, "daily", nil, []string{"same-key"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Ledger(ctx, "daily", []string{"same-key"}); len(got) != 0 {
		t.Errorf("daily still has %v", got)
	}
	if got, _ := s.Ledger(ctx, "weekly", []string{"same-key"}); got["same-key"].Hash != "hash-b" {
		t.Errorf("weekly lost its row: %v", got)
	}
}

func TestWriteLedgerRollsBack(t *testing.T) {
	tests := []struct {
		name  string
		state store.State
	}{
		{"unknown state", "settled"},
		{"empty state", ""},
		{"wrong case", "Synced"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			s := openTest(t)
			kept := synced("kept", t0)
			doomed := synced("doomed", t0)
			open, err := s.WriteLedger(ctx, "daily", store.LedgerWrite{Save: []store.LedgerEntry{kept, doomed},
				Intents: []store.LedgerEntry{synced("kept", t0)}})
			if err != nil {
				t.Fatal(err)
			}
			changed := kept
			changed.Hash, changed.RemoteID = "changed", "changed"
			bad := synced("bad", t0)
			bad.State = tc.state
			// The bad row comes after a new intent record, a new row and an update; the removals
			// of a row and of the open intent record would come after it.
			_, err = s.WriteLedger(ctx, "daily", store.LedgerWrite{
				Save:    []store.LedgerEntry{synced("new", t0), changed, bad},
				Remove:  []string{"doomed"},
				Intents: []store.LedgerEntry{synced("new", t0)},
				Done:    open,
			})
			if err == nil {
				t.Fatal("WriteLedger with a bad state succeeded")
			}
			if !strings.Contains(err.Error(), "bad") || !strings.Contains(err.Error(), "CHECK") {
				t.Errorf("error %q should name the entry and the failed CHECK", err)
			}
			got, err := s.Ledger(ctx, "daily", []string{"kept", "doomed", "new", "bad"})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := got["new"]; ok {
				t.Error("the new row of the failed call was kept")
			}
			if _, ok := got["bad"]; ok {
				t.Error("the bad row was written")
			}
			if _, ok := got["doomed"]; !ok {
				t.Error("the removal of the failed call was applied")
			}
			if got["kept"].Hash != kept.Hash {
				t.Errorf("the update of the failed call was kept: hash %q", got["kept"].Hash)
			}
			intents, err := s.Intents(ctx, "daily")
			if err != nil {
				t.Fatal(err)
			}
			if len(intents) != 1 || intents[0].ID != open {
				t.Errorf("intent records after the failed call: %+v, want only %d", intents, open)
			}
			// The store still works after the rollback.
			if err := writeLedger(ctx, s, "daily", []store.LedgerEntry{synced("after", t0)}, nil); err != nil {
				t.Errorf("WriteLedger after a rollback: %v", err)
			}
		})
	}
}

func TestIntents(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	pending := func(key string, op store.Op) store.LedgerEntry {
		e := synced(key, time.Date(2026, 3, 2, 10, 30, 15, 123_456_789, time.UTC))
		e.State, e.Op, e.Attempts, e.Error = store.Pending, op, 2, "earlier: 503"
		e.Entry = []byte(`{"id":"` + key + `"}`)
		return e
	}
	first := []store.LedgerEntry{pending("a", store.Create), pending("b", store.Update)}
	noCopy := pending("d", store.Delete)
	noCopy.Entry = nil
	second := []store.LedgerEntry{pending("c", store.Delete), noCopy}

	id0, err := s.WriteLedger(ctx, "daily", store.LedgerWrite{Save: []store.LedgerEntry{synced("x", t0)}})
	if err != nil || id0 != 0 {
		t.Fatalf("WriteLedger without intents = %d, %v; want 0, nil", id0, err)
	}
	id1, err := s.WriteLedger(ctx, "daily", store.LedgerWrite{Intents: first})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := s.WriteLedger(ctx, "daily", store.LedgerWrite{Intents: second, Save: []store.LedgerEntry{synced("y", t0)}})
	if err != nil {
		t.Fatal(err)
	}
	idWeekly, err := s.WriteLedger(ctx, "weekly", store.LedgerWrite{Intents: second})
	if err != nil {
		t.Fatal(err)
	}
	if id1 <= 0 || id2 <= id1 || idWeekly == id1 || idWeekly == id2 {
		t.Fatalf("intent ids %d, %d, %d: want positive, increasing, distinct", id1, id2, idWeekly)
	}
	// Intents are announcements: they are not ledger rows.
	if got, err := s.Ledger(ctx, "daily", []string{"a", "b", "c"}); err != nil || len(got) != 0 {
		t.Errorf("intents leaked into the ledger: %v, %v", got, err)
	}

	check := func(t *testing.T, workflow string, want map[int64][]store.LedgerEntry) {
		t.Helper()
		got, err := s.Intents(ctx, workflow)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("Intents(%s) = %+v, want ids %v", workflow, got, want)
		}
		for i, in := range got {
			if i > 0 && in.ID <= got[i-1].ID {
				t.Errorf("intents not in id order: %d after %d", in.ID, got[i-1].ID)
			}
			if in.At.IsZero() {
				t.Errorf("intent %d has no time", in.ID)
			}
			rows, ok := want[in.ID]
			if !ok {
				t.Errorf("unexpected intent %d", in.ID)
				continue
			}
			if len(in.Rows) != len(rows) {
				t.Errorf("intent %d: %d rows, want %d", in.ID, len(in.Rows), len(rows))
				continue
			}
			for j := range rows {
				if d := sameLedger(in.Rows[j], rows[j]); d != "" {
					t.Errorf("intent %d row %d: %s", in.ID, j, d)
				}
			}
		}
	}
	t.Run("round trip", func(t *testing.T) {
		check(t, "daily", map[int64][]store.LedgerEntry{id1: first, id2: second})
		check(t, "weekly", map[int64][]store.LedgerEntry{idWeekly: second})
		check(t, "monthly", nil)
	})
	t.Run("done of another workflow's record", func(t *testing.T) {
		if _, err := s.WriteLedger(ctx, "weekly", store.LedgerWrite{Done: id1}); err != nil {
			t.Fatal(err)
		}
		check(t, "daily", map[int64][]store.LedgerEntry{id1: first, id2: second})
	})
	t.Run("done with the outcomes", func(t *testing.T) {
		outcome := synced("a", t0)
		if _, err := s.WriteLedger(ctx, "daily", store.LedgerWrite{Save: []store.LedgerEntry{outcome}, Done: id1}); err != nil {
			t.Fatal(err)
		}
		check(t, "daily", map[int64][]store.LedgerEntry{id2: second})
		check(t, "weekly", map[int64][]store.LedgerEntry{idWeekly: second})
		if got, err := s.Ledger(ctx, "daily", []string{"a"}); err != nil || got["a"].State != store.Synced {
			t.Errorf("outcome saved with Done: %v, %v", got, err)
		}
	})
	t.Run("done twice", func(t *testing.T) {
		if _, err := s.WriteLedger(ctx, "daily", store.LedgerWrite{Done: id1}); err != nil {
			t.Errorf("marking a record done again: %v", err)
		}
		check(t, "daily", map[int64][]store.LedgerEntry{id2: second})
	})
}

func TestResetSync(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	for _, wf := range []string{"daily", "weekly"} {
		if err := s.SetCursor(ctx, wf, "toggl", "c-"+wf); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WriteLedger(ctx, wf, store.LedgerWrite{Save: []store.LedgerEntry{synced("e1", t0)},
			Intents: []store.LedgerEntry{synced("e2", t0)}}); err != nil {
			t.Fatal(err)
		}
		r := store.Run{Workflow: wf, Trigger: "manual", StartedAt: t0, Status: store.RunRunning}
		if err := s.StartRun(ctx, &r); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordCalls(ctx, []store.Call{{At: t0, Workflow: wf, QuotaRemaining: -1}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ResetSync(ctx, "daily"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		workflow string
		synced   bool // whether its cursors, ledger and intents are still there
	}{
		{"daily", false},
		{"weekly", true},
	}
	for _, tc := range tests {
		t.Run(tc.workflow, func(t *testing.T) {
			c, err := s.Cursor(ctx, tc.workflow, "toggl")
			if err != nil {
				t.Fatal(err)
			}
			ledger, err := s.Ledger(ctx, tc.workflow, []string{"e1"})
			if err != nil {
				t.Fatal(err)
			}
			intents, err := s.Intents(ctx, tc.workflow)
			if err != nil {
				t.Fatal(err)
			}
			if got := c != "" && len(ledger) == 1 && len(intents) == 1; got != tc.synced {
				t.Errorf("cursor %q, %d ledger rows, %d intents; want kept = %v", c, len(ledger), len(intents), tc.synced)
			}
			// History and the audit stay either way.
			if runs, err := s.Runs(ctx, tc.workflow, 10); err != nil || len(runs) != 1 {
				t.Errorf("runs after the reset: %d, %v; want 1", len(runs), err)
			}
			if calls, err := s.Calls(ctx, t0, t0.Add(time.Hour), tc.workflow); err != nil || len(calls) != 1 {
				t.Errorf("calls after the reset: %d, %v; want 1", len(calls), err)
			}
		})
	}
}

func TestRuns(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	type started struct {
		workflow, trigger string
	}
	order := []started{{"daily", "schedule"}, {"weekly", "schedule"}, {"daily", "manual"}, {"daily", "schedule"}, {"weekly", "manual"}}
	var runs []store.Run
	var lastID int64
	for i, o := range order {
		r := store.Run{Workflow: o.workflow, Trigger: o.trigger, StartedAt: t0.Add(time.Duration(i) * time.Minute), Status: store.RunRunning}
		if err := s.StartRun(ctx, &r); err != nil {
			t.Fatal(err)
		}
		if r.ID <= lastID {
			t.Fatalf("run %d got ID %d after %d", i, r.ID, lastID)
		}
		lastID = r.ID
		runs = append(runs, r)
	}

	// Finish all but the last daily run; the first one fails with items.
	finished := map[int64][]store.RunItem{}
	for i, r := range runs[:3] {
		r.FinishedAt = r.StartedAt.Add(30*time.Second + 123*time.Microsecond)
		r.Status = store.RunOK
		r.Counts = store.Counts{Read: 10 + i, Created: 1, Updated: 2, Deleted: 3, Skipped: 4, Failed: 0, Calls: 5 + i}
		var items []store.RunItem
		if i == 0 {
			r.Status, r.Error, r.Failed = store.RunPartial, "2 entries failed", 3
			items = []store.RunItem{
				{RunID: r.ID, Key: "z-last-alphabetically", Op: store.Create, Error: "jira: 400 issue closed"},
				{RunID: r.ID, Key: "a-first-alphabetically", Op: store.Update, Error: "jira: 404"},
				{RunID: r.ID, Key: "m", Op: store.Delete, Error: "jira: 403"},
			}
		}
		if err := s.FinishRun(ctx, r, items); err != nil {
			t.Fatal(err)
		}
		runs[i] = r
		finished[r.ID] = items
	}

	byID := func(ids ...int64) []store.Run {
		var out []store.Run
		for _, id := range ids {
			for _, r := range runs {
				if r.ID == id {
					out = append(out, r)
				}
			}
		}
		return out
	}
	id := func(i int) int64 { return runs[i].ID }
	tests := []struct {
		name     string
		workflow string
		limit    int
		want     []store.Run
	}{
		{"daily, newest first", "daily", 10, byID(id(3), id(2), id(0))},
		{"daily, limited", "daily", 2, byID(id(3), id(2))},
		{"weekly", "weekly", 10, byID(id(4), id(1))},
		{"all workflows", "", 10, byID(id(4), id(3), id(2), id(1), id(0))},
		{"all workflows, limited", "", 1, byID(id(4))},
		{"unknown workflow", "monthly", 10, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Runs(ctx, tc.workflow, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d runs, want %d: %+v", len(got), len(tc.want), got)
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				// Times come back at millisecond precision.
				w.StartedAt, w.FinishedAt = w.StartedAt.Truncate(time.Millisecond), w.FinishedAt.Truncate(time.Millisecond)
				if !g.StartedAt.Equal(w.StartedAt) || !g.FinishedAt.Equal(w.FinishedAt) {
					t.Errorf("run %d: times %v–%v, want %v–%v", g.ID, g.StartedAt, g.FinishedAt, w.StartedAt, w.FinishedAt)
				}
				g.StartedAt, g.FinishedAt, w.StartedAt, w.FinishedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
				if g != w {
					t.Errorf("run %d: %+v, want %+v", g.ID, g, w)
				}
			}
		})
	}

	t.Run("items in insertion order", func(t *testing.T) {
		for _, r := range runs {
			got, err := s.RunItems(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, finished[r.ID]) {
				t.Errorf("RunItems(%d) = %+v, want %+v", r.ID, got, finished[r.ID])
			}
		}
		if got, err := s.RunItems(ctx, lastID+100); err != nil || len(got) != 0 {
			t.Errorf("RunItems of an unknown run = %v, %v", got, err)
		}
	})

	t.Run("items of an unknown run are refused", func(t *testing.T) {
		r := store.Run{ID: lastID + 100, Status: store.RunFailed}
		err := s.FinishRun(ctx, r, []store.RunItem{{Key: "x", Op: store.Create, Error: "e"}})
		if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
			t.Errorf("FinishRun of an unknown run with items: %v, want a FOREIGN KEY error", err)
		}
	})
}

func TestCalls(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	from, to := t0, t0.Add(time.Hour)
	call := func(at time.Time, wf string, remaining int) store.Call {
		return store.Call{At: at, Workflow: wf, RunID: 7, Connection: "toggl-main", Method: "GET",
			Route: "/api/v9/me/time_entries", Status: 200, Duration: 250 * time.Millisecond, Bucket: "hourly",
			QuotaRemaining: remaining}
	}
	before := call(from.Add(-time.Millisecond), "daily", 5)
	unknown := call(from, "daily", -1)
	unknown.Duration = 1500*time.Microsecond + 789*time.Nanosecond // kept to the microsecond
	unknown.CacheHit = true
	zero := call(from.Add(time.Second+456*time.Microsecond), "weekly", 0) // sub-millisecond At is dropped
	zero.Status, zero.Error = 402, "toggl: quota exhausted"
	retried := call(from.Add(2*time.Second), "daily", 42)
	retried.Method, retried.Route, retried.Status, retried.Retry, retried.RunID = "POST", "/rest/api/3/issue/{key}/worklog", 201, 2, 8
	retried.Connection, retried.Bucket = "jira", ""
	sameTime := call(from.Add(2*time.Second), "weekly", 41) // ties keep the recorded order
	last := call(to.Add(-time.Millisecond), "daily", 1)
	atTo := call(to, "daily", 5)

	// Recorded out of order and in two batches.
	if err := s.RecordCalls(ctx, []store.Call{atTo, retried, before}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordCalls(ctx, []store.Call{sameTime, last, zero, unknown}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordCalls(ctx, nil); err != nil {
		t.Errorf("RecordCalls(nil): %v", err)
	}

	norm := func(c store.Call) store.Call {
		c.At = c.At.Truncate(time.Millisecond)
		c.Duration = c.Duration.Truncate(time.Microsecond)
		return c
	}
	tests := []struct {
		name     string
		from, to time.Time
		workflow string
		want     []store.Call
	}{
		{"all workflows, half open", from, to, "", []store.Call{unknown, zero, retried, sameTime, last}},
		{"daily", from, to, "daily", []store.Call{unknown, retried, last}},
		{"weekly", from, to, "weekly", []store.Call{zero, sameTime}},
		{"unknown workflow", from, to, "monthly", nil},
		{"empty range", from, from, "", nil},
		{"wide range", from.Add(-time.Hour), to.Add(time.Hour), "daily", []store.Call{before, unknown, retried, last, atTo}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Calls(ctx, tc.from, tc.to, tc.workflow)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d calls, want %d: %+v", len(got), len(tc.want), got)
			}
			for i := range got {
				g, w := got[i], norm(tc.want[i])
				if !g.At.Equal(w.At) {
					t.Errorf("call %d: At %v, want %v", i, g.At, w.At)
				}
				g.At, w.At = time.Time{}, time.Time{}
				if g != w {
					t.Errorf("call %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}

	t.Run("unknown quota is NULL", func(t *testing.T) {
		if n := countRows(t, s, `SELECT COUNT(*) FROM calls WHERE quota_remaining IS NULL`); n != 1 {
			t.Errorf("%d rows with a NULL quota_remaining, want 1", n)
		}
		if n := countRows(t, s, `SELECT COUNT(*) FROM calls WHERE quota_remaining = 0`); n != 1 {
			t.Errorf("%d rows with quota_remaining 0, want 1", n)
		}
		if n := countRows(t, s, `SELECT duration_us FROM calls WHERE quota_remaining IS NULL`); n != 1500 {
			t.Errorf("duration_us = %d, want 1500", n)
		}
	})
}

func TestQuota(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	q := func(conn, bucket string, remaining int, observed time.Time) store.Quota {
		return store.Quota{Connection: conn, Bucket: bucket, Remaining: remaining, ResetsAt: observed.Truncate(time.Hour).Add(time.Hour), ObservedAt: observed}
	}
	tests := []struct {
		name string
		save store.Quota
		want []store.Quota
	}{
		{"first", q("toggl", "hourly", 240, t0),
			[]store.Quota{q("toggl", "hourly", 240, t0)}},
		{"newer replaces", q("toggl", "hourly", 200, t0.Add(10*time.Minute)),
			[]store.Quota{q("toggl", "hourly", 200, t0.Add(10*time.Minute))}},
		{"older is ignored", q("toggl", "hourly", 239, t0.Add(5*time.Minute)),
			[]store.Quota{q("toggl", "hourly", 200, t0.Add(10*time.Minute))}},
		{"older by a millisecond is ignored", q("toggl", "hourly", 1, t0.Add(10*time.Minute-time.Millisecond)),
			[]store.Quota{q("toggl", "hourly", 200, t0.Add(10*time.Minute))}},
		{"same instant replaces", q("toggl", "hourly", 199, t0.Add(10*time.Minute)),
			[]store.Quota{q("toggl", "hourly", 199, t0.Add(10*time.Minute))}},
		{"another bucket", q("toggl", "org", 0, t0),
			[]store.Quota{q("toggl", "hourly", 199, t0.Add(10*time.Minute)), q("toggl", "org", 0, t0)}},
		{"another connection", q("jira", "hourly", 50, t0.Add(-time.Hour)),
			[]store.Quota{q("jira", "hourly", 50, t0.Add(-time.Hour)), q("toggl", "hourly", 199, t0.Add(10*time.Minute)), q("toggl", "org", 0, t0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.SaveQuota(ctx, tc.save); err != nil {
				t.Fatal(err)
			}
			got, err := s.Quotas(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Quotas = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if !g.ResetsAt.Equal(w.ResetsAt) || !g.ObservedAt.Equal(w.ObservedAt) {
					t.Errorf("quota %d: times %v/%v, want %v/%v", i, g.ResetsAt, g.ObservedAt, w.ResetsAt, w.ObservedAt)
				}
				g.ResetsAt, g.ObservedAt, w.ResetsAt, w.ObservedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
				if g != w {
					t.Errorf("quota %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

// TestConcurrentUse writes ledger rows, calls, runs, cursors and quotas from several
// goroutines at once through the one connection, with reads in between. Run it under -race.
// A deadlock shows as deadline errors rather than a hung test.
func TestConcurrentUse(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s := openTest(t)
	const workers, rounds, rowsPerRound, callsPerRound = 8, 25, 10, 5

	var mu sync.Mutex
	var errs []error
	var runIDs []int64
	report := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			wf := fmt.Sprintf("wf%d", w%2) // two workers per workflow
			for r := range rounds {
				key := func(i int) string { return fmt.Sprintf("w%d-r%d-k%d", w, r, i) }
				var save []store.LedgerEntry
				var keys []string
				for i := range rowsPerRound {
					e := synced(key(i), t0.Add(time.Duration(r*rowsPerRound+i)*time.Second))
					if i%4 == 0 {
						e.State, e.Op, e.Entry = store.Failed, store.Create, []byte("{}")
					}
					save = append(save, e)
					keys = append(keys, key(i))
				}
				var remove []string
				if r > 0 {
					remove = []string{fmt.Sprintf("w%d-r%d-k%d", w, r-1, 1)}
				}
				if err := writeLedger(ctx, s, wf, save, remove); err != nil {
					report(err)
					continue
				}
				got, err := s.Ledger(ctx, wf, keys)
				if err != nil {
					report(err)
				} else if len(got) != rowsPerRound {
					report(fmt.Errorf("worker %d round %d: read back %d of %d rows", w, r, len(got), rowsPerRound))
				}

				var calls []store.Call
				for i := range callsPerRound {
					calls = append(calls, store.Call{At: t0.Add(time.Duration(i) * time.Millisecond), Workflow: wf,
						Connection: "toggl", Method: "GET", Route: "/r", Status: 200, QuotaRemaining: i - 1})
				}
				if err := s.RecordCalls(ctx, calls); err != nil {
					report(err)
				}

				run := store.Run{Workflow: wf, Trigger: "schedule", StartedAt: t0, Status: store.RunRunning}
				if err := s.StartRun(ctx, &run); err != nil {
					report(err)
					continue
				}
				mu.Lock()
				runIDs = append(runIDs, run.ID)
				mu.Unlock()
				run.Status, run.FinishedAt, run.Read = store.RunPartial, t0.Add(time.Second), rowsPerRound
				items := []store.RunItem{{Key: key(0), Op: store.Create, Error: "a"}, {Key: key(4), Op: store.Create, Error: "b"}}
				if err := s.FinishRun(ctx, run, items); err != nil {
					report(err)
				}

				if err := s.SetCursor(ctx, wf, fmt.Sprintf("src%d", w), key(0)); err != nil {
					report(err)
				}
				if err := s.SaveQuota(ctx, store.Quota{Connection: "toggl", Bucket: wf, Remaining: r, ObservedAt: t0.Add(time.Duration(r) * time.Second)}); err != nil {
					report(err)
				}
				if _, err := s.Runs(ctx, wf, 5); err != nil {
					report(err)
				}
				if _, err := s.LedgerCount(ctx, wf); err != nil {
					report(err)
				}
				if _, err := s.LedgerUnsettled(ctx, wf); err != nil {
					report(err)
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}

	perWorker := rounds*rowsPerRound - (rounds - 1)
	for _, wf := range []string{"wf0", "wf1"} {
		count, err := s.LedgerCount(ctx, wf)
		if err != nil {
			t.Fatal(err)
		}
		n := count[store.Synced] + count[store.Failed] + count[store.Pending]
		if want := perWorker * workers / 2; n != want {
			t.Errorf("%s: %d ledger rows, want %d (%v)", wf, n, want, count)
		}
	}
	if n := countRows(t, s, `SELECT COUNT(*) FROM calls`); n != workers*rounds*callsPerRound {
		t.Errorf("%d calls recorded, want %d", n, workers*rounds*callsPerRound)
	}
	slices.Sort(runIDs)
	if n := len(slices.Compact(runIDs)); n != workers*rounds {
		t.Errorf("%d distinct run IDs, want %d", n, workers*rounds)
	}
	if n := countRows(t, s, `SELECT COUNT(*) FROM run_items`); n != 2*workers*rounds {
		t.Errorf("%d run items, want %d", n, 2*workers*rounds)
	}
	if n := countRows(t, s, `SELECT COUNT(*) FROM runs WHERE status = 'partial' AND read = ?`, rowsPerRound); n != workers*rounds {
		t.Errorf("%d finished runs, want %d", n, workers*rounds)
	}
	quotas, err := s.Quotas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range quotas {
		if q.Remaining != rounds-1 {
			t.Errorf("quota %s/%s: remaining %d, want the latest observation's %d", q.Connection, q.Bucket, q.Remaining, rounds-1)
		}
	}
}

// TestTwoHandles writes through two DB values on the same file, as two sluice processes
// would: the busy timeout and immediate transactions must keep SQLITE_BUSY away.
func TestTwoHandles(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "sluice.db")
	handles := []*DB{openAt(t, path), openAt(t, path)}
	const workers, rounds = 4, 20
	errs := make(chan error, workers*rounds*2)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				s := handles[(w+r)%2]
				key := fmt.Sprintf("w%d-r%d", w, r)
				if err := writeLedger(ctx, s, "daily", []store.LedgerEntry{synced(key, t0)}, nil); err != nil {
					errs <- err
				}
				if err := s.RecordCalls(ctx, []store.Call{{At: t0, Workflow: "daily", QuotaRemaining: -1}}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, s := range handles {
		count, err := s.LedgerCount(ctx, "daily")
		if err != nil {
			t.Fatal(err)
		}
		if count[store.Synced] != workers*rounds {
			t.Errorf("handle %d sees %d rows, want %d", i, count[store.Synced], workers*rounds)
		}
	}
}

func TestCancelledContext(t *testing.T) {
	s := openTest(t)
	live := t.Context()
	r := store.Run{Workflow: "daily", Trigger: "manual", StartedAt: t0, Status: store.RunRunning}
	if err := s.StartRun(live, &r); err != nil {
		t.Fatal(err)
	}
	if err := writeLedger(live, s, "daily", []store.LedgerEntry{synced("e1", t0)}, nil); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Cursor", func(ctx context.Context) error { _, err := s.Cursor(ctx, "daily", "toggl"); return err }},
		{"SetCursor", func(ctx context.Context) error { return s.SetCursor(ctx, "daily", "toggl", "c") }},
		{"Ledger", func(ctx context.Context) error { _, err := s.Ledger(ctx, "daily", []string{"e1"}); return err }},
		{"LedgerWindow", func(ctx context.Context) error {
			_, err := s.LedgerWindow(ctx, "daily", t0, t0.Add(time.Hour))
			return err
		}},
		{"LedgerUnsettled", func(ctx context.Context) error { _, err := s.LedgerUnsettled(ctx, "daily"); return err }},
		{"WriteLedger", func(ctx context.Context) error {
			return writeLedger(ctx, s, "daily", []store.LedgerEntry{synced("cancelled", t0)}, []string{"e1"})
		}},
		{"LedgerCount", func(ctx context.Context) error { _, err := s.LedgerCount(ctx, "daily"); return err }},
		{"StartRun", func(ctx context.Context) error {
			return s.StartRun(ctx, &store.Run{Workflow: "daily", StartedAt: t0, Status: store.RunRunning})
		}},
		{"FinishRun", func(ctx context.Context) error {
			return s.FinishRun(ctx, store.Run{ID: r.ID, Status: store.RunOK}, []store.RunItem{{Key: "e1", Op: store.Create}})
		}},
		{"Runs", func(ctx context.Context) error { _, err := s.Runs(ctx, "", 10); return err }},
		{"RunItems", func(ctx context.Context) error { _, err := s.RunItems(ctx, r.ID); return err }},
		{"RecordCalls", func(ctx context.Context) error {
			return s.RecordCalls(ctx, []store.Call{{At: t0, Workflow: "daily", QuotaRemaining: -1}})
		}},
		{"Calls", func(ctx context.Context) error { _, err := s.Calls(ctx, t0, t0.Add(time.Hour), ""); return err }},
		{"SaveQuota", func(ctx context.Context) error {
			return s.SaveQuota(ctx, store.Quota{Connection: "toggl", Bucket: "hourly", ObservedAt: t0})
		}},
		{"Quotas", func(ctx context.Context) error { _, err := s.Quotas(ctx); return err }},
		{"SchemaVersion", func(ctx context.Context) error { _, err := s.SchemaVersion(ctx); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			err := tc.call(ctx)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v does not wrap context.Canceled", err)
			}
		})
	}

	t.Run("nothing was written", func(t *testing.T) {
		for _, q := range []string{
			`SELECT COUNT(*) FROM cursors`,
			`SELECT COUNT(*) FROM ledger WHERE entry_key = 'cancelled'`,
			`SELECT COUNT(*) - 1 FROM ledger WHERE entry_key = 'e1'`,
			`SELECT COUNT(*) - 1 FROM runs`,
			`SELECT COUNT(*) FROM run_items`,
			`SELECT COUNT(*) FROM calls`,
			`SELECT COUNT(*) FROM quota`,
		} {
			if n := countRows(t, s, q); n != 0 {
				t.Errorf("%s = %d, want 0", q, n)
			}
		}
	})

	// Calls that find the only connection taken wait for it; when their ctx ends meanwhile they
	// must give up at once and write nothing.
	waiters := []struct {
		name    string
		call    func(ctx context.Context) error
		written string // counts what the call would have written
	}{
		{"SetCursor", func(ctx context.Context) error { return s.SetCursor(ctx, "daily", "toggl", "waited") },
			`SELECT COUNT(*) FROM cursors`},
		{"WriteLedger", func(ctx context.Context) error {
			return writeLedger(ctx, s, "daily", []store.LedgerEntry{synced("waited", t0)}, nil)
		}, `SELECT COUNT(*) FROM ledger WHERE entry_key = 'waited'`},
		{"FinishRun", func(ctx context.Context) error {
			return s.FinishRun(ctx, store.Run{ID: r.ID, Status: store.RunOK}, []store.RunItem{{Key: "waited", Op: store.Create}})
		}, `SELECT COUNT(*) FROM run_items`},
		{"RecordCalls", func(ctx context.Context) error {
			return s.RecordCalls(ctx, []store.Call{{At: t0, Workflow: "waited", QuotaRemaining: -1}})
		}, `SELECT COUNT(*) FROM calls`},
	}
	for _, w := range waiters {
		t.Run("waiting for the connection/"+w.name, func(t *testing.T) {
			tx, err := s.db.BeginTx(live, nil) // holds the only connection
			if err != nil {
				t.Fatal(err)
			}
			parent, cancel := context.WithCancel(live)
			ctx := &watchedCtx{Context: parent, started: make(chan struct{})}
			done := make(chan error, 1)
			go func() { done <- w.call(ctx) }()
			<-ctx.started // the call has begun with a live ctx
			cancel()
			select {
			case err = <-done:
			case <-time.After(5 * time.Second): // a failsafe, not a wait: the call returns at once
				t.Errorf("%s is still waiting for the connection after its ctx was cancelled", w.name)
				if err := tx.Rollback(); err != nil {
					t.Fatal(err)
				}
				err = <-done
			}
			_ = tx.Rollback()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: %v, want context.Canceled", w.name, err)
			}
			if n := countRows(t, s, w.written); n != 0 {
				t.Errorf("%s wrote after its ctx was cancelled: %s = %d", w.name, w.written, n)
			}
		})
	}

	t.Run("Open", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		s, err := Open(ctx, filepath.Join(t.TempDir(), "sluice.db"))
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Open with a cancelled ctx: %v, want context.Canceled", err)
		}
	})
}

// TestOpenConcurrentlyOnNewFile opens a new file from several goroutines at once, as two
// sluice processes starting together on an empty volume would.
func TestOpenConcurrentlyOnNewFile(t *testing.T) {
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "sluice.db")
		errs := make(chan error, 4)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				s, err := Open(t.Context(), path)
				if err != nil {
					errs <- err
					return
				}
				errs <- s.Close()
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("round %d: %v", round, err)
			}
		}
	}
}

// watchedCtx closes started the first time a call looks at it.
type watchedCtx struct {
	context.Context
	once    sync.Once
	started chan struct{}
}

func (c *watchedCtx) Done() <-chan struct{} {
	c.once.Do(func() { close(c.started) })
	return c.Context.Done()
}

func (c *watchedCtx) Err() error {
	c.once.Do(func() { close(c.started) })
	return c.Context.Err()
}
