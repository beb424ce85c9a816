package sqlite

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine/store"
)

func benchEntries(prefix string, n int) []store.LedgerEntry {
	es := make([]store.LedgerEntry, n)
	for i := range es {
		es[i] = store.LedgerEntry{Key: fmt.Sprintf("%s-%07d", prefix, i), Hash: "0123456789abcdef0123456789abcdef",
			RemoteID: fmt.Sprintf("WEB-%d/%d", i%500, 10000+i), State: store.Synced,
			Start: t0.Add(time.Duration(i) * time.Minute), UpdatedAt: t0}
	}
	return es
}

// BenchmarkWriteLedger saves 1,000 rows per call: new keys each time ("insert"), or the same
// keys again ("upsert").
func BenchmarkWriteLedger(b *testing.B) {
	const rows = 1000
	b.Run("insert", func(b *testing.B) {
		s := openTest(b)
		ctx := b.Context()
		i := 0
		for b.Loop() {
			if err := writeLedger(ctx, s, "daily", benchEntries(fmt.Sprint(i), rows), nil); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("upsert", func(b *testing.B) {
		s := openTest(b)
		ctx := b.Context()
		es := benchEntries("k", rows)
		for b.Loop() {
			if err := writeLedger(ctx, s, "daily", es, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkLedgerLookup reads 500 keys (one IN query) from a ledger of 20,000 rows, of which
// 400 exist.
func BenchmarkLedgerLookup(b *testing.B) {
	const stored, asked, found = 20_000, 500, 400
	s := openTest(b)
	ctx := b.Context()
	es := benchEntries("k", stored)
	for i := 0; i < stored; i += 1000 {
		if err := writeLedger(ctx, s, "daily", es[i:i+1000], nil); err != nil {
			b.Fatal(err)
		}
	}
	keys := make([]string, 0, asked)
	for i := range found {
		keys = append(keys, es[i*stored/found].Key)
	}
	for i := found; i < asked; i++ {
		keys = append(keys, fmt.Sprintf("missing-%d", i))
	}
	for b.Loop() {
		got, err := s.Ledger(ctx, "daily", keys)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != found {
			b.Fatalf("found %d, want %d", len(got), found)
		}
	}
	b.ReportMetric(float64(asked*b.N)/b.Elapsed().Seconds(), "keys/s")
}
