package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations is the schema's history, oldest first. The schema version is the number applied
// (PRAGMA user_version). Never edit an entry that has shipped: append a new one.
var migrations = []string{
	// 1: cursors, dedup ledger with its intent records, runs, audited calls, last quota per
	// bucket.
	`CREATE TABLE cursors (
		workflow   TEXT NOT NULL,
		source     TEXT NOT NULL,
		cursor     TEXT NOT NULL,
		updated_at INTEGER NOT NULL,
		PRIMARY KEY (workflow, source)
	);
	CREATE TABLE ledger (
		workflow    TEXT NOT NULL,
		entry_key   TEXT NOT NULL,
		hash        TEXT NOT NULL,
		remote_id   TEXT NOT NULL DEFAULT '',
		state       TEXT NOT NULL CHECK (state IN ('synced', 'pending', 'failed')),
		op          TEXT NOT NULL DEFAULT '',
		entry_start INTEGER NOT NULL,
		attempts    INTEGER NOT NULL DEFAULT 0,
		error       TEXT NOT NULL DEFAULT '',
		entry       BLOB,
		updated_at  INTEGER NOT NULL,
		PRIMARY KEY (workflow, entry_key)
	) WITHOUT ROWID;
	CREATE INDEX ledger_by_start ON ledger (workflow, entry_start);
	CREATE TABLE ledger_intents (
		id         INTEGER PRIMARY KEY,
		workflow   TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		rows       BLOB NOT NULL
	);
	CREATE INDEX ledger_intents_by_workflow ON ledger_intents (workflow);
	CREATE INDEX ledger_unsettled ON ledger (workflow, state) WHERE state <> 'synced';
	CREATE TABLE runs (
		id          INTEGER PRIMARY KEY,
		workflow    TEXT NOT NULL,
		trigger     TEXT NOT NULL,
		started_at  INTEGER NOT NULL,
		finished_at INTEGER,
		status      TEXT NOT NULL,
		read        INTEGER NOT NULL DEFAULT 0,
		created     INTEGER NOT NULL DEFAULT 0,
		updated     INTEGER NOT NULL DEFAULT 0,
		deleted     INTEGER NOT NULL DEFAULT 0,
		skipped     INTEGER NOT NULL DEFAULT 0,
		failed      INTEGER NOT NULL DEFAULT 0,
		calls       INTEGER NOT NULL DEFAULT 0,
		error       TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX runs_by_workflow ON runs (workflow, id);
	CREATE TABLE run_items (
		run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
		entry_key TEXT NOT NULL,
		title     TEXT NOT NULL DEFAULT '',
		op        TEXT NOT NULL,
		error     TEXT NOT NULL
	);
	CREATE INDEX run_items_by_run ON run_items (run_id);
	CREATE TABLE calls (
		id              INTEGER PRIMARY KEY,
		at              INTEGER NOT NULL,
		workflow        TEXT NOT NULL,
		run_id          INTEGER NOT NULL,
		connection      TEXT NOT NULL,
		method          TEXT NOT NULL,
		route           TEXT NOT NULL,
		status          INTEGER NOT NULL,
		duration_us     INTEGER NOT NULL,
		bucket          TEXT NOT NULL,
		quota_remaining INTEGER,
		cache_hit       INTEGER NOT NULL,
		retry           INTEGER NOT NULL,
		error           TEXT NOT NULL
	);
	CREATE INDEX calls_by_time ON calls (at);
	CREATE INDEX calls_by_workflow ON calls (workflow, at);
	CREATE TABLE quota (
		connection  TEXT NOT NULL,
		bucket      TEXT NOT NULL,
		remaining   INTEGER NOT NULL,
		total       INTEGER NOT NULL DEFAULT 0,
		resets_at   INTEGER NOT NULL,
		observed_at INTEGER NOT NULL,
		PRIMARY KEY (connection, bucket)
	);
	CREATE TABLE external_usage (
		id               INTEGER PRIMARY KEY,
		connection       TEXT NOT NULL,
		bucket           TEXT NOT NULL,
		at               INTEGER NOT NULL,
		calls            INTEGER NOT NULL,
		window_resets_at INTEGER NOT NULL
	);
	CREATE INDEX external_usage_by_time ON external_usage (at);
	CREATE TABLE workflow_settings (
		workflow   TEXT PRIMARY KEY,
		enabled    INTEGER NOT NULL,
		updated_at INTEGER NOT NULL
	);`,
}

// migrate applies the migrations the database has not seen, one transaction each. The
// version is read inside each write transaction, so processes opening a new file together
// apply every migration once.
func (s *DB) migrate(ctx context.Context) error {
	for {
		done := false
		err := s.inTx(ctx, "migrate", func(ctx context.Context, tx *sql.Tx) error {
			var version int
			if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
				return fmt.Errorf("read schema version: %w", err)
			}
			switch {
			case version > len(migrations):
				return fmt.Errorf("the database has schema version %d, newer than this sluice knows (%d): upgrade sluice",
					version, len(migrations))
			case version == len(migrations):
				done = true
				return nil
			}
			if _, err := tx.ExecContext(ctx, migrations[version]); err != nil {
				return fmt.Errorf("apply migration %d: %w", version+1, err)
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, version+1))
			return err
		})
		if err != nil || done {
			return err
		}
	}
}

// SchemaVersion returns the schema version of the open database.
func (s *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v)
	return v, err
}
