package dedup_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/engine/dedup"
	"github.com/sluicehq/sluice/engine/store"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// golden is one record of every encoded type. Its hash below was computed independently of
// dedup (sha256 over the documented encoding): if this test fails, the encoding changed, and
// every ledger row would look changed, so every synced entry would be pushed again.
var golden = connectors.Values{
	"issue":    "WEB-1",
	"seconds":  900,
	"billable": true,
	"started":  t0.Add(5 * time.Nanosecond),
	"tags":     []string{"a", "b"},
	"rate":     1.5,
	"note":     nil,
}

const goldenHash = "df7bc9c8a6715c5bf02364942fcf3208"

func TestHashGolden(t *testing.T) {
	tests := []struct {
		name   string
		fields connectors.Values
		want   string
	}{
		{"every type", golden, goldenHash},
		{"no fields", connectors.Values{}, "e3b0c44298fc1c149afbf4c8996fb924"}, // sha256 of nothing
		{"nil map", nil, "e3b0c44298fc1c149afbf4c8996fb924"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := dedup.Hash(tc.fields); got != tc.want {
				t.Errorf("Hash = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestHashIgnoresMapOrder(t *testing.T) {
	// Many keys, inserted in a different order each time, so that both insertion and map
	// iteration order vary.
	var keys []string
	for i := range 40 {
		keys = append(keys, fmt.Sprintf("field_%02d", i))
	}
	value := func(k string) any {
		switch len(k) % 4 {
		case 0:
			return k
		case 1:
			return len(k)
		case 2:
			return []string{k, "x"}
		}
		return t0
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var want string
	for i := range 200 {
		rng.Shuffle(len(keys), func(a, b int) { keys[a], keys[b] = keys[b], keys[a] })
		v := connectors.Values{}
		for _, k := range keys {
			v[k] = value(k)
		}
		got := dedup.Hash(v)
		if i == 0 {
			want = got
			continue
		}
		if got != want {
			t.Fatalf("order %d: Hash = %s, want %s", i, got, want)
		}
	}
	for range 100 {
		if got := dedup.Hash(golden); got != goldenHash {
			t.Fatalf("Hash(golden) = %s, want %s", got, goldenHash)
		}
	}
}

func TestHashDistinguishes(t *testing.T) {
	later := t0.Add(time.Nanosecond)
	now := time.Now() // carries a monotonic clock reading; Round(0) strips it
	tests := []struct {
		name string
		a, b connectors.Values
		same bool
	}{
		{"string value", connectors.Values{"k": "a"}, connectors.Values{"k": "b"}, false},
		{"int value", connectors.Values{"k": 900}, connectors.Values{"k": 901}, false},
		{"negative int", connectors.Values{"k": 1}, connectors.Values{"k": -1}, false},
		{"int and string", connectors.Values{"k": 1}, connectors.Values{"k": "1"}, false},
		{"int and float", connectors.Values{"k": 1}, connectors.Values{"k": 1.0}, false},
		{"int and bool", connectors.Values{"k": 1}, connectors.Values{"k": true}, false},
		{"float value", connectors.Values{"k": 0.1}, connectors.Values{"k": 0.2}, false},
		{"bool value", connectors.Values{"k": true}, connectors.Values{"k": false}, false},
		{"nil and empty string", connectors.Values{"k": nil}, connectors.Values{"k": ""}, false},
		{"nil and absent", connectors.Values{"k": nil}, connectors.Values{}, false},
		{"empty string and absent", connectors.Values{"k": ""}, connectors.Values{}, false},
		{"string and one-item list", connectors.Values{"k": "a"}, connectors.Values{"k": []string{"a"}}, false},
		{"key renamed", connectors.Values{"a": "x"}, connectors.Values{"b": "x"}, false},
		{"key and value boundary", connectors.Values{"ab": "c"}, connectors.Values{"a": "bc"}, false},
		{"values swapped between keys", connectors.Values{"a": "x", "b": "y"}, connectors.Values{"a": "y", "b": "x"}, false},
		{"extra key", connectors.Values{"a": "x"}, connectors.Values{"a": "x", "b": ""}, false},
		{"list order", connectors.Values{"k": []string{"a", "b"}}, connectors.Values{"k": []string{"b", "a"}}, false},
		{"list item split", connectors.Values{"k": []string{"a b"}}, connectors.Values{"k": []string{"a", "b"}}, false},
		{"list item boundary", connectors.Values{"k": []string{"ab", "c"}}, connectors.Values{"k": []string{"a", "bc"}}, false},
		{"list with an empty item", connectors.Values{"k": []string{}}, connectors.Values{"k": []string{""}}, false},
		{"time by a nanosecond", connectors.Values{"k": t0}, connectors.Values{"k": later}, false},
		{"time and its nanoseconds as int", connectors.Values{"k": t0}, connectors.Values{"k": int(t0.UnixNano())}, false},
		{"duration", connectors.Values{"k": time.Hour}, connectors.Values{"k": 2 * time.Hour}, false},
		{"int list order", connectors.Values{"k": []int64{1, 2}}, connectors.Values{"k": []int64{2, 1}}, false},
		{"golden, one value changed", golden, with(golden, "seconds", 901), false},
		{"golden, time by a nanosecond", golden, with(golden, "started", t0.Add(6*time.Nanosecond)), false},
		{"golden, key dropped", golden, without(golden, "note"), false},

		// What does not change the hash: the same content, however it is held.
		{"same instant at another zone", connectors.Values{"k": t0}, connectors.Values{"k": t0.In(time.FixedZone("X", 5*3600))}, true},
		{"monotonic clock reading", connectors.Values{"k": now}, connectors.Values{"k": now.Round(0)}, true},
		{"int and int64 of one number", connectors.Values{"k": 7}, connectors.Values{"k": int64(7)}, true},
		{"empty and nil list", connectors.Values{"k": []string{}}, connectors.Values{"k": []string(nil)}, true},
		{"copy of the map", golden, with(golden, "issue", "WEB-1"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ha, hb := dedup.Hash(tc.a), dedup.Hash(tc.b)
			if (ha == hb) != tc.same {
				t.Errorf("Hash(%v) = %s, Hash(%v) = %s; same = %v, want %v", tc.a, ha, tc.b, hb, ha == hb, tc.same)
			}
		})
	}
}

func with(v connectors.Values, k string, x any) connectors.Values {
	out := connectors.Values{}
	for key, val := range v {
		out[key] = val
	}
	out[k] = x
	return out
}

func without(v connectors.Values, k string) connectors.Values {
	out := with(v, k, nil)
	delete(out, k)
	return out
}

// TestHashNoCollisions hashes a few thousand generated records, many of them a single
// field apart, and requires different records to have different hashes.
func TestHashNoCollisions(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 3))
	names := []string{"issue", "comment", "started", "seconds", "billable", "tags", "rate", "author"}
	words := []string{"a", "b", "ab", "a b", "", "WEB-1", "WEB-12"}
	value := func(name string) any {
		switch rng.IntN(10) {
		case 0:
			return nil
		case 1:
			return fmt.Sprint(rng.IntN(20)) // a number held as a string
		}
		switch name {
		case "seconds":
			return rng.IntN(20) * 900
		case "started":
			return t0.Add(time.Duration(rng.IntN(5)) * time.Nanosecond)
		case "billable":
			return rng.IntN(2) == 0
		case "rate":
			return float64(rng.IntN(4)) / 2
		case "tags":
			tags := []string{}
			for range rng.IntN(3) {
				tags = append(tags, words[rng.IntN(len(words))])
			}
			return tags
		}
		return words[rng.IntN(len(words))]
	}
	// canonical spells a record out with its types, so that two records are different
	// exactly when their canonical forms are.
	canonical := func(v connectors.Values) string {
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%q=%T:%#v;", k, v[k], v[k])
		}
		return b.String()
	}

	byHash := map[string]string{}
	distinct := map[string]bool{}
	for range 5000 {
		v := connectors.Values{}
		for _, name := range names {
			if rng.IntN(3) > 0 {
				v[name] = value(name)
			}
		}
		c := canonical(v)
		distinct[c] = true
		h := dedup.Hash(v)
		if prev, ok := byHash[h]; ok && prev != c {
			t.Errorf("collision on %s:\n  %s\n  %s", h, prev, c)
		}
		byHash[h] = c
	}
	t.Logf("%d distinct records of 5000 generated", len(distinct))
	if len(distinct) < 3000 {
		t.Errorf("only %d distinct records generated; the test needs more variety", len(distinct))
	}
	if len(byHash) != len(distinct) {
		t.Errorf("%d hashes for %d distinct records", len(byHash), len(distinct))
	}
}

func TestDecide(t *testing.T) {
	const (
		newHash = "hash-of-the-record-now"
		oldHash = "hash-of-the-record-pushed"
		remote  = "WEB-1/10001"
	)
	policies := []struct {
		name string
		p    dedup.Policy
	}{
		{"ignore", dedup.Policy{}},
		{"update", dedup.Policy{Update: true}},
		{"delete", dedup.Policy{Delete: true}},
		{"update+delete", dedup.Policy{Update: true, Delete: true}},
	}
	var (
		nothing = dedup.Nothing
		create  = dedup.Create
		update  = dedup.Update
		del     = dedup.Delete
		forget  = dedup.Forget
	)
	tests := []struct {
		name string
		prev *store.LedgerEntry
		want bool
		// expect holds the action under each of policies, in order.
		expect [4]dedup.Action
	}{
		{"new, eligible", nil, true, [4]dedup.Action{create, create, create, create}},
		{"new, not eligible", nil, false, [4]dedup.Action{nothing, nothing, nothing, nothing}},

		{"synced, unchanged", &store.LedgerEntry{State: store.Synced, Hash: newHash, RemoteID: remote}, true,
			[4]dedup.Action{nothing, nothing, nothing, nothing}},
		{"synced, unchanged, gone", &store.LedgerEntry{State: store.Synced, Hash: newHash, RemoteID: remote}, false,
			[4]dedup.Action{nothing, nothing, del, del}},
		{"synced, changed", &store.LedgerEntry{State: store.Synced, Hash: oldHash, RemoteID: remote}, true,
			[4]dedup.Action{nothing, update, nothing, update}},
		{"synced, changed, gone", &store.LedgerEntry{State: store.Synced, Hash: oldHash, RemoteID: remote}, false,
			[4]dedup.Action{nothing, nothing, del, del}},

		// A failed create left nothing at the sink: create it, or just forget it.
		{"failed create", &store.LedgerEntry{State: store.Failed, Op: store.Create, Hash: oldHash}, true,
			[4]dedup.Action{create, create, create, create}},
		{"failed create, gone", &store.LedgerEntry{State: store.Failed, Op: store.Create, Hash: oldHash}, false,
			[4]dedup.Action{forget, forget, forget, forget}},

		// A failed update is retried whatever the policy and the hash.
		{"failed update", &store.LedgerEntry{State: store.Failed, Op: store.Update, Hash: oldHash, RemoteID: remote}, true,
			[4]dedup.Action{update, update, update, update}},
		{"failed update, same hash", &store.LedgerEntry{State: store.Failed, Op: store.Update, Hash: newHash, RemoteID: remote}, true,
			[4]dedup.Action{update, update, update, update}},
		{"failed update, gone", &store.LedgerEntry{State: store.Failed, Op: store.Update, Hash: oldHash, RemoteID: remote}, false,
			[4]dedup.Action{nothing, nothing, del, del}},

		// A failed delete of an entry that is back updates the object that stayed, even when
		// on_update is ignore.
		{"failed delete, back", &store.LedgerEntry{State: store.Failed, Op: store.Delete, Hash: oldHash, RemoteID: remote}, true,
			[4]dedup.Action{update, update, update, update}},
		{"failed delete, still gone", &store.LedgerEntry{State: store.Failed, Op: store.Delete, Hash: oldHash, RemoteID: remote}, false,
			[4]dedup.Action{nothing, nothing, del, del}},
	}
	for _, tc := range tests {
		for i, pol := range policies {
			t.Run(tc.name+"/"+pol.name, func(t *testing.T) {
				var before store.LedgerEntry
				if tc.prev != nil {
					before = *tc.prev
				}
				d := dedup.Decide(tc.prev, tc.want, newHash, pol.p)
				if d.Action != tc.expect[i] {
					t.Errorf("Action = %v (%q), want %v", d.Action, d.Reason, tc.expect[i])
				}
				if d.Reason == "" {
					t.Errorf("Action %v has no Reason", d.Action)
				}
				if tc.prev != nil && (tc.prev.Hash != before.Hash || tc.prev.State != before.State ||
					tc.prev.Op != before.Op || tc.prev.RemoteID != before.RemoteID) {
					t.Errorf("Decide changed prev: %+v, was %+v", *tc.prev, before)
				}
			})
		}
	}
}

func TestAction(t *testing.T) {
	tests := []struct {
		a    dedup.Action
		name string
		op   store.Op
	}{
		{dedup.Nothing, "nothing", ""},
		{dedup.Create, "create", store.Create},
		{dedup.Update, "update", store.Update},
		{dedup.Delete, "delete", store.Delete},
		{dedup.Forget, "forget", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.String(); got != tc.name {
				t.Errorf("String = %q, want %q", got, tc.name)
			}
			if got := tc.a.Op(); got != tc.op {
				t.Errorf("Op = %q, want %q", got, tc.op)
			}
		})
	}
}
