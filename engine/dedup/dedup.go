// Package dedup decides, for each source entry, what a workflow must do at its sink so that
// every entry is pushed once, updated when it changes and removed when it goes: it hashes
// mapped records and compares them with the ledger (store.LedgerEntry).
//
// It is pure: no I/O, no clock. The runner applies what it decides.
package dedup

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"slices"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/engine/store"
)

// Hash returns the content hash of a record's fields: two records with equal hashes put the
// same thing at the sink. Field order does not matter; values are encoded with their types.
func Hash(fields connectors.Values) string {
	h := sha256.New()
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var buf [8]byte
	for _, k := range keys {
		writeString(h, k)
		writeValue(h, buf[:], fields[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func writeString(h hash.Hash, s string) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

func writeValue(h hash.Hash, buf []byte, v any) {
	switch x := v.(type) {
	case string:
		h.Write([]byte{'s'})
		writeString(h, x)
	case int:
		h.Write([]byte{'i'})
		binary.LittleEndian.PutUint64(buf, uint64(x))
		h.Write(buf)
	case int64:
		h.Write([]byte{'i'})
		binary.LittleEndian.PutUint64(buf, uint64(x))
		h.Write(buf)
	case float64:
		h.Write([]byte{'f'})
		binary.LittleEndian.PutUint64(buf, math.Float64bits(x))
		h.Write(buf)
	case bool:
		if x {
			h.Write([]byte{'T'})
		} else {
			h.Write([]byte{'F'})
		}
	case time.Time:
		// Seconds and nanoseconds apart: UnixNano overflows outside 1678..2262.
		h.Write([]byte{'t'})
		binary.LittleEndian.PutUint64(buf, uint64(x.Unix()))
		h.Write(buf)
		binary.LittleEndian.PutUint64(buf, uint64(x.Nanosecond()))
		h.Write(buf)
	case []string:
		h.Write([]byte{'l'})
		binary.LittleEndian.PutUint64(buf, uint64(len(x)))
		h.Write(buf)
		for _, s := range x {
			writeString(h, s)
		}
	case nil:
		h.Write([]byte{'n'})
	default:
		h.Write([]byte{'?'})
		writeString(h, fmt.Sprintf("%T:%v", v, v))
	}
}

// Policy is what a workflow does when an entry changes or disappears at the source.
type Policy struct {
	// Update: push changes (on_update: update); otherwise the first version stays.
	Update bool
	// Delete: remove what was pushed (on_delete: delete); otherwise it stays.
	Delete bool
}

// Action is what to do for one entry.
type Action int

// Actions.
const (
	// Nothing: the sink is as it should be, or the policy leaves it alone.
	Nothing Action = iota
	Create
	Update
	Delete
	// Forget: drop the ledger row without calling the sink (a failed create of an entry that
	// is gone now).
	Forget
)

func (a Action) String() string {
	return [...]string{"nothing", "create", "update", "delete", "forget"}[a]
}

// Op returns the ledger operation of an action that calls the sink.
func (a Action) Op() store.Op {
	switch a {
	case Create:
		return store.Create
	case Update:
		return store.Update
	case Delete:
		return store.Delete
	}
	return ""
}

// Decision is an action with the reason for it, for logs and run details.
type Decision struct {
	Action Action
	Reason string
}

// Decide says what to do for one entry. prev is its ledger row (nil when none); it must be
// settled: a Pending create without a remote id is resolved before deciding. want says
// whether the entry should be at the sink (it exists, passes the filter and maps to a
// complete record) and hash is that record's hash.
func Decide(prev *store.LedgerEntry, want bool, hash string, p Policy) Decision {
	switch {
	case prev == nil && want:
		return Decision{Create, "new entry"}
	case prev == nil:
		return Decision{Nothing, "not eligible and never pushed"}
	case want && prev.RemoteID == "":
		// Only failed creates get here: nothing exists at the sink yet.
		return Decision{Create, "retry of a failed create"}
	case want && prev.State == store.Synced && prev.Hash == hash:
		return Decision{Nothing, "unchanged"}
	case want && prev.State != store.Synced:
		return Decision{Update, "retry of an unfinished " + string(prev.Op)}
	case want && !p.Update:
		return Decision{Nothing, "changed, but on_update is ignore"}
	case want:
		return Decision{Update, "changed"}
	case prev.RemoteID == "":
		return Decision{Forget, "gone before it was ever pushed"}
	case !p.Delete:
		return Decision{Nothing, "gone, but on_delete is ignore"}
	default:
		return Decision{Delete, "deleted at the source or no longer eligible"}
	}
}
