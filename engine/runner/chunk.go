package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/engine/dedup"
	"github.com/sluicehq/sluice/engine/store"
)

// chunk decides and applies a slice of items.
func (x *execution) chunk(ctx context.Context, items []item) error {
	st := x.r.o.Store
	keys := make([]string, len(items))
	for i := range items {
		keys[i] = items[i].entry.ID
	}
	prevs, err := st.Ledger(ctx, x.wf.Name, keys)
	if err != nil {
		return err
	}
	var save []store.LedgerEntry
	var remove []string
	for i := range items {
		it := &items[i]
		if p, ok := prevs[it.entry.ID]; ok {
			it.prev = &p
		}
		if it.prev != nil && it.prev.State == store.Pending && it.prev.RemoteID == "" {
			settled, err := x.settleCreate(ctx, it.prev)
			if err != nil {
				return err
			}
			it.prev = settled
			if settled == nil {
				remove = append(remove, it.entry.ID)
			} else {
				save = append(save, *settled)
			}
		}
		x.decide(it)
	}

	// Announce every write before the first one is sent.
	now := x.r.o.Clock.Now()
	var intents []store.LedgerEntry
	var writes []*item
	for i := range items {
		it := &items[i]
		switch {
		case it.evalErr != nil:
			save = append(save, x.failedRow(it, it.evalErr, now))
			x.fail(it, it.evalErr)
		case it.decision.Action == dedup.Forget:
			remove = append(remove, it.entry.ID)
			x.run.Skipped++
		case it.decision.Action == dedup.Nothing:
			x.run.Skipped++
		default:
			intents = append(intents, x.pendingRow(it, now))
			writes = append(writes, it)
		}
		if it.evalErr == nil {
			x.log.Debug("decided", "entry_id", it.entry.ID, "action", it.decision.Action.String(), "reason", it.decision.Reason)
		}
	}
	if len(save) == 0 && len(remove) == 0 && len(intents) == 0 {
		return nil
	}
	intent, err := st.WriteLedger(ctx, x.wf.Name, store.LedgerWrite{Save: save, Remove: remove, Intents: intents})
	if err != nil {
		return err
	}
	return x.apply(ctx, writes, intent)
}

// decide evaluates an item and asks dedup what to do with it.
func (x *execution) decide(it *item) {
	e := &it.entry
	switch {
	case e.Deleted:
		it.want = false
	case e.Running():
		it.decision = dedup.Decision{Action: dedup.Nothing, Reason: "still running"}
		return
	default:
		ok, err := x.ev.Filter(e)
		if err != nil {
			it.evalErr = err
			return
		}
		if ok {
			fields, err := x.ev.Map(e)
			if err != nil {
				it.evalErr = err
				return
			}
			if empty := x.emptyRequired(fields); empty != "" {
				it.decision.Reason = "map." + empty + " is empty"
			} else {
				it.want = true
				it.rec = connectors.Record{Workflow: x.wf.Name, Key: e.ID, Entry: *e, Fields: fields}
				it.hash = dedup.Hash(fields)
			}
		}
	}
	d := dedup.Decide(it.prev, it.want, it.hash, dedup.Policy{
		Update: x.wf.OnUpdate == "update",
		Delete: x.wf.OnDelete == "delete",
	})
	if it.decision.Reason != "" && d.Action == dedup.Nothing {
		d.Reason = it.decision.Reason
	}
	it.decision = d
}

// emptyRequired names the first required map field that came out empty, or "".
func (x *execution) emptyRequired(fields connectors.Values) string {
	for _, m := range x.wf.Map {
		if !m.Field.Required {
			continue
		}
		switch v := fields[m.Field.Name].(type) {
		case string:
			if v == "" {
				return m.Field.Name
			}
		case int:
			if v <= 0 {
				return m.Field.Name
			}
		case time.Time:
			if v.IsZero() {
				return m.Field.Name
			}
		case []string:
			if len(v) == 0 {
				return m.Field.Name
			}
		}
	}
	return ""
}

// settleCreate resolves a create whose outcome is unknown: if the sink holds the record
// (found by its idempotency marker) the row becomes Synced; if not, nil (nothing was made).
func (x *execution) settleCreate(ctx context.Context, prev *store.LedgerEntry) (*store.LedgerEntry, error) {
	finder, ok := x.sink.(connectors.Finder)
	if !ok {
		x.log.Warn("a create was interrupted and this sink cannot look it up; sending it again may duplicate it",
			"entry_id", prev.Key)
		return nil, nil
	}
	var e connectors.Entry
	if err := json.Unmarshal(prev.Entry, &e); err != nil {
		return nil, nil
	}
	fields, err := x.ev.Map(&e)
	if err != nil {
		return nil, nil
	}
	id, found, err := finder.Find(ctx, connectors.Record{Workflow: x.wf.Name, Key: prev.Key, Entry: e, Fields: fields})
	if err != nil {
		return nil, fmt.Errorf("settle the interrupted create of entry %s: %w", prev.Key, err)
	}
	if !found {
		x.log.Info("interrupted create had not reached the sink", "entry_id", prev.Key)
		return nil, nil
	}
	x.log.Info("interrupted create had reached the sink; recorded it", "entry_id", prev.Key, "remote_id", id)
	s := *prev
	s.State, s.Op, s.RemoteID, s.Error, s.Entry = store.Synced, "", id, "", nil
	s.UpdatedAt = x.r.o.Clock.Now()
	return &s, nil
}

func (x *execution) pendingRow(it *item, now time.Time) store.LedgerEntry {
	row := store.LedgerEntry{Key: it.entry.ID, Hash: it.hash, State: store.Pending, Op: it.decision.Action.Op(),
		Start: it.entry.Start, UpdatedAt: now, Entry: x.payload(it)}
	if it.prev != nil {
		row.RemoteID, row.Attempts = it.prev.RemoteID, it.prev.Attempts
		if it.decision.Action == dedup.Delete {
			row.Hash = it.prev.Hash
		}
		if row.Start.IsZero() {
			row.Start = it.prev.Start
		}
	}
	return row
}

func (x *execution) failedRow(it *item, err error, now time.Time) store.LedgerEntry {
	op := store.Create
	row := store.LedgerEntry{Key: it.entry.ID, State: store.Failed, Start: it.entry.Start, UpdatedAt: now,
		Error: err.Error(), Entry: x.payload(it), Attempts: 1}
	if it.prev != nil {
		row.RemoteID, row.Hash, row.Attempts = it.prev.RemoteID, it.prev.Hash, it.prev.Attempts+1
		if row.RemoteID != "" {
			op = store.Update
		}
		if row.Start.IsZero() {
			row.Start = it.prev.Start
		}
	}
	if it.decision.Action != dedup.Nothing && it.decision.Action != dedup.Forget {
		op = it.decision.Action.Op()
	}
	row.Op = op
	if row.Hash == "" {
		row.Hash = it.hash
	}
	return row
}

// payload is the entry as kept in the ledger while it is unsettled.
func (x *execution) payload(it *item) []byte {
	b, err := json.Marshal(&it.entry)
	if err != nil {
		x.log.Warn("encode entry for the ledger", "entry_id", it.entry.ID, "error", err)
		return nil
	}
	return b
}

func (x *execution) fail(it *item, err error) {
	x.run.Failed++
	op := it.decision.Action.Op()
	if op == "" {
		op = store.Create
		if it.prev != nil && it.prev.RemoteID != "" {
			op = store.Update
		}
	}
	x.failures = append(x.failures, store.RunItem{Key: it.entry.ID, Title: entryTitle(&it.entry), Op: op, Error: err.Error()})
	x.log.Warn("entry failed", "entry_id", it.entry.ID, "error", err)
}

// entryTitle names an entry for people: its description (shortened) and when it started.
func entryTitle(e *connectors.Entry) string {
	d := strings.TrimSpace(e.Description)
	if r := []rune(d); len(r) > 80 {
		d = string(r[:79]) + "…"
	}
	if d == "" {
		d = "(no description)"
	}
	if e.Start.IsZero() {
		return d
	}
	return fmt.Sprintf("%q, %s", d, e.Start.UTC().Format("2006-01-02 15:04 UTC"))
}

// apply sends the writes to the sink, saving outcomes in batches; the last batch marks the
// intent record done. An error that is not about one record stops the run: the intent
// record stays, and the next run settles what it announced.
func (x *execution) apply(ctx context.Context, writes []*item, intent int64) error {
	st := x.r.o.Store
	var save []store.LedgerEntry
	var remove []string
	lastFlush := x.r.o.Clock.Now()
	flush := func(done int64) error {
		if len(save) == 0 && len(remove) == 0 && done == 0 {
			return nil
		}
		// Outcomes are saved even when the run is being cancelled: the sink has them.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, err := st.WriteLedger(wctx, x.wf.Name, store.LedgerWrite{Save: save, Remove: remove, Done: done})
		save, remove = save[:0], remove[:0]
		lastFlush = x.r.o.Clock.Now()
		return err
	}
	for _, it := range writes {
		remoteID, err := x.write(ctx, it)
		if err == nil && x.r.o.AfterWrite != nil {
			x.r.o.AfterWrite(it.entry.ID, it.decision.Action.Op())
		}
		now := x.r.o.Clock.Now()
		var rejected *connectors.RejectedError
		switch {
		case err == nil && it.decision.Action == dedup.Delete:
			remove = append(remove, it.entry.ID)
			x.run.Deleted++
		case err == nil && remoteID == "":
			// Without an id the object could never be updated or removed, and would be made
			// again on every run.
			return errors.Join(fmt.Errorf("%s entry %s: the sink returned no id", it.decision.Action, it.entry.ID), flush(0))
		case err == nil:
			save = append(save, store.LedgerEntry{Key: it.entry.ID, Hash: it.hash, RemoteID: remoteID,
				State: store.Synced, Start: it.entry.Start, UpdatedAt: now})
			if it.decision.Action == dedup.Create {
				x.run.Created++
			} else {
				x.run.Updated++
			}
		case errors.As(err, &rejected):
			save = append(save, x.failedRow(it, err, now))
			x.fail(it, err)
		default:
			return errors.Join(fmt.Errorf("%s entry %s: %w", it.decision.Action, it.entry.ID, err), flush(0))
		}
		if len(save)+len(remove) >= x.r.o.ChunkSize || now.Sub(lastFlush) >= x.r.o.FlushEvery {
			if err := flush(0); err != nil {
				return err
			}
		}
	}
	return flush(intent)
}

// write performs one operation at the sink.
func (x *execution) write(ctx context.Context, it *item) (string, error) {
	switch it.decision.Action {
	case dedup.Create:
		return x.sink.Create(ctx, it.rec)
	case dedup.Update:
		return x.sink.Update(ctx, it.prev.RemoteID, it.rec)
	case dedup.Delete:
		return "", x.sink.Delete(ctx, it.prev.RemoteID)
	}
	return "", fmt.Errorf("runner: no sink operation for %s", it.decision.Action)
}
