package runner_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/engine/store"
)

// BenchmarkRun pushes 100,000 new entries through filter -> map -> dedup ledger (SQLite, a
// real file) -> an in-memory sink, in one run, and reports entries per second and
// allocations per entry. A second sub-benchmark measures the same entries seen again
// unchanged (a full re-read that the ledger must recognise).
func BenchmarkRun(b *testing.B) {
	const n = 100_000
	body := `filter: entry.billable && entry.project == "Website"
map:
  title: withoutJiraKeys(entry.description)
  seconds: roundUp(entry.duration, "15m")
`
	entries := make([]connectors.Entry, n)
	for i := range entries {
		entries[i] = entry(i+1, fmt.Sprintf("WEB-%d implement part %d", i%500+1, i), 5+i%120)
	}
	for _, again := range []bool{false, true} {
		name := "new"
		if again {
			name = "unchanged"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				h := newHarness(b, body)
				for _, e := range entries {
					h.src.put(e)
				}
				install(h)
				if again {
					if r, err := h.r.Run(context.Background(), h.wf, "bench"); err != nil || r.Created != n {
						b.Fatalf("first run: %+v %v", r.Counts, err)
					}
					h.src.mu.Lock()
					h.src.version++ // the source sends everything again
					for _, me := range h.src.entries {
						me.version = h.src.version
					}
					h.src.mu.Unlock()
				}
				b.StartTimer()
				start := time.Now()
				r, err := h.r.Run(context.Background(), h.wf, "bench")
				elapsed += time.Since(start)
				b.StopTimer()
				if err != nil || r.Status != store.RunOK {
					b.Fatalf("run: %s %v", r.Status, err)
				}
				if want := map[bool]int{false: n, true: 0}[again]; r.Created != want || r.Read != n {
					b.Fatalf("read %d, created %d; want %d, %d", r.Read, r.Created, n, want)
				}
				h.db.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "entries/s")
		})
	}
}

func install(h *harness) {
	current.Lock()
	current.src, current.sink = h.src, h.sink
	current.Unlock()
}
