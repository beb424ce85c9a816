// Package sqlite is sluice's default store: one SQLite file in WAL mode, through
// github.com/mattn/go-sqlite3 (cgo). It is the only package that imports the driver, and
// with migrations.go the only place that holds SQL for SQLite.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3" // also registers the "sqlite3" driver

	"github.com/sluicehq/sluice/engine/store"
)

// DB is a store.Store on one SQLite file.
type DB struct {
	db *sql.DB
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path and brings its schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	q := url.Values{
		"_journal_mode": {"WAL"},
		"_busy_timeout": {"10000"},
		"_foreign_keys": {"on"},
		"_synchronous":  {"NORMAL"},
		"_txlock":       {"immediate"},
		"_cache_size":   {"-65536"},
	}
	// In a "file:" URI '?' starts the query, '#' a fragment and '%' an escape: escape the path
	// so that it names the file it spells.
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One connection: SQLite has one writer at a time anyway, and this way no statement ever
	// waits on SQLITE_BUSY inside the process.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	if err := ping(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &DB{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	return s, nil
}

// ping opens the first connection. Switching a new file to WAL can fail at once with
// SQLITE_BUSY when another process is creating it too; that is tried again a few times.
func ping(ctx context.Context, db *sql.DB) error {
	for attempt := 0; ; attempt++ {
		err := db.PingContext(ctx)
		var se sqlite3.Error
		if err == nil || attempt == 6 || !errors.As(err, &se) || (se.Code != sqlite3.ErrBusy && se.Code != sqlite3.ErrLocked) {
			return err
		}
		t := time.NewTimer(10 * time.Millisecond << attempt)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// Cursor implements store.Store.
func (s *DB) Cursor(ctx context.Context, workflow, source string) (string, error) {
	var c string
	err := s.db.QueryRowContext(ctx, `SELECT cursor FROM cursors WHERE workflow = ? AND source = ?`, workflow, source).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: read cursor of %s/%s: %w", workflow, source, err)
	}
	return c, nil
}

// SetCursor implements store.Store.
func (s *DB) SetCursor(ctx context.Context, workflow, source, cursor string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO cursors (workflow, source, cursor, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (workflow, source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
		workflow, source, cursor, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("sqlite: save cursor of %s/%s: %w", workflow, source, err)
	}
	return nil
}

const ledgerColumns = `entry_key, hash, remote_id, state, op, entry_start, attempts, error, entry, updated_at`

func scanLedger(workflow string, rows *sql.Rows) (store.LedgerEntry, error) {
	e := store.LedgerEntry{Workflow: workflow}
	var start, updated int64
	var entry []byte
	err := rows.Scan(&e.Key, &e.Hash, &e.RemoteID, &e.State, &e.Op, &start, &e.Attempts, &e.Error, &entry, &updated)
	e.Start, e.UpdatedAt, e.Entry = fromMS(start), fromMS(updated), entry
	return e, err
}

// ledgerBatch bounds the keys of one IN (...) query, well under SQLite's variable limit.
const ledgerBatch = 500

// Ledger implements store.Store.
func (s *DB) Ledger(ctx context.Context, workflow string, keys []string) (map[string]store.LedgerEntry, error) {
	out := make(map[string]store.LedgerEntry, len(keys))
	for len(keys) > 0 {
		n := min(len(keys), ledgerBatch)
		chunk := keys[:n]
		keys = keys[n:]
		args := make([]any, 0, n+1)
		args = append(args, workflow)
		for _, k := range chunk {
			args = append(args, k)
		}
		q := `SELECT ` + ledgerColumns + ` FROM ledger WHERE workflow = ? AND entry_key IN (?` + strings.Repeat(",?", n-1) + `)`
		if err := s.queryLedger(ctx, workflow, q, args, func(e store.LedgerEntry) { out[e.Key] = e }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LedgerWindow implements store.Store.
func (s *DB) LedgerWindow(ctx context.Context, workflow string, from, to time.Time) ([]store.LedgerEntry, error) {
	var out []store.LedgerEntry
	err := s.queryLedger(ctx, workflow, `SELECT `+ledgerColumns+` FROM ledger WHERE workflow = ? AND entry_start >= ? AND entry_start < ? ORDER BY entry_start`,
		[]any{workflow, ms(from), ms(to)}, func(e store.LedgerEntry) { out = append(out, e) })
	return out, err
}

// LedgerUnsettled implements store.Store.
func (s *DB) LedgerUnsettled(ctx context.Context, workflow string) ([]store.LedgerEntry, error) {
	var out []store.LedgerEntry
	err := s.queryLedger(ctx, workflow, `SELECT `+ledgerColumns+` FROM ledger WHERE workflow = ? AND state <> 'synced' ORDER BY entry_start`,
		[]any{workflow}, func(e store.LedgerEntry) { out = append(out, e) })
	return out, err
}

func (s *DB) queryLedger(ctx context.Context, workflow, q string, args []any, each func(store.LedgerEntry)) error {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("sqlite: read ledger of %s: %w", workflow, err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanLedger(workflow, rows)
		if err != nil {
			return fmt.Errorf("sqlite: read ledger of %s: %w", workflow, err)
		}
		each(e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: read ledger of %s: %w", workflow, err)
	}
	return nil
}

// WriteLedger implements store.Store.
func (s *DB) WriteLedger(ctx context.Context, workflow string, w store.LedgerWrite) (int64, error) {
	var intentID int64
	err := s.inTx(ctx, "write ledger of "+workflow, func(ctx context.Context, tx *sql.Tx) error {
		if len(w.Intents) > 0 {
			blob, err := json.Marshal(w.Intents)
			if err != nil {
				return fmt.Errorf("encode intents: %w", err)
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO ledger_intents (workflow, created_at, rows) VALUES (?, ?, ?)`,
				workflow, time.Now().UnixMilli(), blob)
			if err != nil {
				return err
			}
			if intentID, err = res.LastInsertId(); err != nil {
				return err
			}
		}
		if len(w.Save) > 0 {
			st, err := tx.PrepareContext(ctx, `INSERT INTO ledger (workflow, `+ledgerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (workflow, entry_key) DO UPDATE SET hash = excluded.hash, remote_id = excluded.remote_id,
				state = excluded.state, op = excluded.op, entry_start = excluded.entry_start, attempts = excluded.attempts,
				error = excluded.error, entry = excluded.entry, updated_at = excluded.updated_at`)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, e := range w.Save {
				if _, err := st.ExecContext(ctx, workflow, e.Key, e.Hash, e.RemoteID, string(e.State), string(e.Op),
					ms(e.Start), e.Attempts, e.Error, e.Entry, ms(e.UpdatedAt)); err != nil {
					return fmt.Errorf("entry %s: %w", e.Key, err)
				}
			}
		}
		if len(w.Remove) > 0 {
			st, err := tx.PrepareContext(ctx, `DELETE FROM ledger WHERE workflow = ? AND entry_key = ?`)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, k := range w.Remove {
				if _, err := st.ExecContext(ctx, workflow, k); err != nil {
					return fmt.Errorf("entry %s: %w", k, err)
				}
			}
		}
		if w.Done != 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM ledger_intents WHERE id = ? AND workflow = ?`, w.Done, workflow); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return intentID, nil
}

// Intents implements store.Store.
func (s *DB) Intents(ctx context.Context, workflow string) ([]store.Intent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, created_at, rows FROM ledger_intents WHERE workflow = ? ORDER BY id`, workflow)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read intents of %s: %w", workflow, err)
	}
	defer rows.Close()
	var out []store.Intent
	for rows.Next() {
		var in store.Intent
		var at int64
		var blob []byte
		if err := rows.Scan(&in.ID, &at, &blob); err != nil {
			return nil, fmt.Errorf("sqlite: read intents of %s: %w", workflow, err)
		}
		if err := json.Unmarshal(blob, &in.Rows); err != nil {
			return nil, fmt.Errorf("sqlite: intent record %d of %s is unreadable: %w", in.ID, workflow, err)
		}
		for i := range in.Rows {
			// A row saved without an entry was encoded as null, which json.RawMessage keeps.
			if string(in.Rows[i].Entry) == "null" {
				in.Rows[i].Entry = nil
			}
		}
		in.At = fromMS(at)
		out = append(out, in)
	}
	return out, rows.Err()
}

// ResetSync implements store.Store.
func (s *DB) ResetSync(ctx context.Context, workflow string) error {
	return s.inTx(ctx, "reset "+workflow, func(ctx context.Context, tx *sql.Tx) error {
		for _, table := range []string{"cursors", "ledger", "ledger_intents"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE workflow = ?`, workflow); err != nil {
				return err
			}
		}
		return nil
	})
}

// LedgerCount implements store.Store.
func (s *DB) LedgerCount(ctx context.Context, workflow string) (map[store.State]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM ledger WHERE workflow = ? GROUP BY state`, workflow)
	if err != nil {
		return nil, fmt.Errorf("sqlite: count ledger of %s: %w", workflow, err)
	}
	defer rows.Close()
	out := map[store.State]int{}
	for rows.Next() {
		var st store.State
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("sqlite: count ledger of %s: %w", workflow, err)
		}
		out[st] = n
	}
	return out, rows.Err()
}

// StartRun implements store.Store.
func (s *DB) StartRun(ctx context.Context, r *store.Run) error {
	res, err := s.db.ExecContext(ctx, `INSERT INTO runs (workflow, trigger, started_at, status) VALUES (?, ?, ?, ?)`,
		r.Workflow, r.Trigger, ms(r.StartedAt), string(r.Status))
	if err != nil {
		return fmt.Errorf("sqlite: start run of %s: %w", r.Workflow, err)
	}
	r.ID, err = res.LastInsertId()
	if err != nil {
		return fmt.Errorf("sqlite: start run of %s: %w", r.Workflow, err)
	}
	return nil
}

// FinishRun implements store.Store.
func (s *DB) FinishRun(ctx context.Context, r store.Run, items []store.RunItem) error {
	return s.inTx(ctx, fmt.Sprintf("finish run %d", r.ID), func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE runs SET finished_at = ?, status = ?, read = ?, created = ?, updated = ?,
			deleted = ?, skipped = ?, failed = ?, calls = ?, error = ? WHERE id = ?`,
			ms(r.FinishedAt), string(r.Status), r.Read, r.Created, r.Updated, r.Deleted, r.Skipped, r.Failed, r.Calls, r.Error, r.ID)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO run_items (run_id, entry_key, title, op, error) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, it := range items {
			if _, err := st.ExecContext(ctx, r.ID, it.Key, it.Title, string(it.Op), it.Error); err != nil {
				return err
			}
		}
		return nil
	})
}

// Runs implements store.Store.
func (s *DB) Runs(ctx context.Context, workflow string, limit int) ([]store.Run, error) {
	q := `SELECT id, workflow, trigger, started_at, COALESCE(finished_at, 0), status, read, created, updated, deleted,
		skipped, failed, calls, error FROM runs`
	args := []any{}
	if workflow != "" {
		q += ` WHERE workflow = ?`
		args = append(args, workflow)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read runs: %w", err)
	}
	defer rows.Close()
	var out []store.Run
	for rows.Next() {
		var r store.Run
		var started, finished int64
		if err := rows.Scan(&r.ID, &r.Workflow, &r.Trigger, &started, &finished, &r.Status, &r.Read, &r.Created,
			&r.Updated, &r.Deleted, &r.Skipped, &r.Failed, &r.Calls, &r.Error); err != nil {
			return nil, fmt.Errorf("sqlite: read runs: %w", err)
		}
		r.StartedAt, r.FinishedAt = fromMS(started), fromMS(finished)
		out = append(out, r)
	}
	return out, rows.Err()
}

// RunItems implements store.Store.
func (s *DB) RunItems(ctx context.Context, runID int64) ([]store.RunItem, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT entry_key, title, op, error FROM run_items WHERE run_id = ? ORDER BY rowid`, runID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read items of run %d: %w", runID, err)
	}
	defer rows.Close()
	var out []store.RunItem
	for rows.Next() {
		it := store.RunItem{RunID: runID}
		if err := rows.Scan(&it.Key, &it.Title, &it.Op, &it.Error); err != nil {
			return nil, fmt.Errorf("sqlite: read items of run %d: %w", runID, err)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// RecordCalls implements store.Store.
func (s *DB) RecordCalls(ctx context.Context, calls []store.Call) error {
	if len(calls) == 0 {
		return nil
	}
	return s.inTx(ctx, "record calls", func(ctx context.Context, tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO calls (at, workflow, run_id, connection, method, route, status,
			duration_us, bucket, quota_remaining, cache_hit, retry, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, c := range calls {
			var remaining any
			if c.QuotaRemaining >= 0 {
				remaining = c.QuotaRemaining
			}
			if _, err := st.ExecContext(ctx, ms(c.At), c.Workflow, c.RunID, c.Connection, c.Method, c.Route, c.Status,
				c.Duration.Microseconds(), c.Bucket, remaining, c.CacheHit, c.Retry, c.Error); err != nil {
				return err
			}
		}
		return nil
	})
}

// Calls implements store.Store.
func (s *DB) Calls(ctx context.Context, from, to time.Time, workflow string) ([]store.Call, error) {
	q := `SELECT at, workflow, run_id, connection, method, route, status, duration_us, bucket,
		COALESCE(quota_remaining, -1), cache_hit, retry, error FROM calls WHERE at >= ? AND at < ?`
	args := []any{ms(from), ms(to)}
	if workflow != "" {
		q += ` AND workflow = ?`
		args = append(args, workflow)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read calls: %w", err)
	}
	defer rows.Close()
	var out []store.Call
	for rows.Next() {
		var c store.Call
		var at, us int64
		if err := rows.Scan(&at, &c.Workflow, &c.RunID, &c.Connection, &c.Method, &c.Route, &c.Status, &us, &c.Bucket,
			&c.QuotaRemaining, &c.CacheHit, &c.Retry, &c.Error); err != nil {
			return nil, fmt.Errorf("sqlite: read calls: %w", err)
		}
		c.At, c.Duration = fromMS(at), time.Duration(us)*time.Microsecond
		out = append(out, c)
	}
	return out, rows.Err()
}

// CallCounts implements store.Store.
func (s *DB) CallCounts(ctx context.Context, from, to time.Time) (map[string]store.CallCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT workflow, SUM(1 - cache_hit), SUM(cache_hit) FROM calls
		WHERE at >= ? AND at < ? GROUP BY workflow`, ms(from), ms(to))
	if err != nil {
		return nil, fmt.Errorf("sqlite: count calls: %w", err)
	}
	defer rows.Close()
	out := map[string]store.CallCount{}
	for rows.Next() {
		var wf string
		var c store.CallCount
		if err := rows.Scan(&wf, &c.Calls, &c.CacheHits); err != nil {
			return nil, fmt.Errorf("sqlite: count calls: %w", err)
		}
		out[wf] = c
	}
	return out, rows.Err()
}

// Enabled implements store.Store.
func (s *DB) Enabled(ctx context.Context) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT workflow, enabled FROM workflow_settings`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read workflow settings: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var wf string
		var on bool
		if err := rows.Scan(&wf, &on); err != nil {
			return nil, fmt.Errorf("sqlite: read workflow settings: %w", err)
		}
		out[wf] = on
	}
	return out, rows.Err()
}

// SetEnabled implements store.Store.
func (s *DB) SetEnabled(ctx context.Context, workflow string, enabled bool) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO workflow_settings (workflow, enabled, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (workflow) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at`,
		workflow, enabled, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("sqlite: set %s enabled=%v: %w", workflow, enabled, err)
	}
	return nil
}

// SaveQuota implements store.Store.
func (s *DB) SaveQuota(ctx context.Context, q store.Quota) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO quota (connection, bucket, remaining, total, resets_at, observed_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (connection, bucket) DO UPDATE SET remaining = excluded.remaining, resets_at = excluded.resets_at,
		observed_at = excluded.observed_at, total = MAX(excluded.total, quota.total)
		WHERE excluded.observed_at >= quota.observed_at`,
		q.Connection, q.Bucket, q.Remaining, q.Total, ms(q.ResetsAt), ms(q.ObservedAt))
	if err != nil {
		return fmt.Errorf("sqlite: save quota of %s/%s: %w", q.Connection, q.Bucket, err)
	}
	return nil
}

// Quotas implements store.Store.
func (s *DB) Quotas(ctx context.Context) ([]store.Quota, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT connection, bucket, remaining, total, resets_at, observed_at FROM quota
		ORDER BY connection, bucket`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read quotas: %w", err)
	}
	defer rows.Close()
	var out []store.Quota
	for rows.Next() {
		var q store.Quota
		var resets, observed int64
		if err := rows.Scan(&q.Connection, &q.Bucket, &q.Remaining, &q.Total, &resets, &observed); err != nil {
			return nil, fmt.Errorf("sqlite: read quotas: %w", err)
		}
		q.ResetsAt, q.ObservedAt = fromMS(resets), fromMS(observed)
		out = append(out, q)
	}
	return out, rows.Err()
}

// RecordExternalUsage implements store.Store.
func (s *DB) RecordExternalUsage(ctx context.Context, u store.ExternalUsage) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO external_usage (connection, bucket, at, calls, window_resets_at)
		VALUES (?, ?, ?, ?, ?)`, u.Connection, u.Bucket, ms(u.At), u.Calls, ms(u.WindowResetsAt))
	if err != nil {
		return fmt.Errorf("sqlite: record external usage of %s/%s: %w", u.Connection, u.Bucket, err)
	}
	return nil
}

// ExternalUsage implements store.Store.
func (s *DB) ExternalUsage(ctx context.Context, from, to time.Time) ([]store.ExternalUsage, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT connection, bucket, at, calls, window_resets_at FROM external_usage
		WHERE at >= ? AND at < ? ORDER BY at, id`, ms(from), ms(to))
	if err != nil {
		return nil, fmt.Errorf("sqlite: read external usage: %w", err)
	}
	defer rows.Close()
	var out []store.ExternalUsage
	for rows.Next() {
		var u store.ExternalUsage
		var at, resets int64
		if err := rows.Scan(&u.Connection, &u.Bucket, &at, &u.Calls, &resets); err != nil {
			return nil, fmt.Errorf("sqlite: read external usage: %w", err)
		}
		u.At, u.WindowResetsAt = fromMS(at), fromMS(resets)
		out = append(out, u)
	}
	return out, rows.Err()
}

// inTx runs fn in a transaction, committing when it returns nil. A transaction that has begun
// is not interrupted by ctx: the writes are short, and a half-applied batch is worse than a
// late return. (It is also much faster: go-sqlite3 watches a cancellable context from a
// goroutine on every statement.)
func (s *DB) inTx(ctx context.Context, what string, fn func(context.Context, *sql.Tx) error) error {
	// Waiting for the connection still ends with ctx; only the transaction itself does not.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer conn.Close()
	ctx = context.WithoutCancel(ctx)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	if err := fn(ctx, tx); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return nil
}
