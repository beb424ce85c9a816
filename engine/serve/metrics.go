package serve

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/engine/store"
)

// metrics counts what the server did since it started, for /metrics. Label values are
// bounded: workflow and connection names, and a few statuses.
type metrics struct {
	mu       sync.Mutex
	calls    map[[3]string]int // connection, workflow, status
	hits     map[[2]string]int // connection, workflow
	runs     map[[2]string]int // workflow, status
	entries  map[[2]string]int // workflow, outcome
	duration map[string]float64
	count    map[string]int
}

func newMetrics() *metrics {
	return &metrics{calls: map[[3]string]int{}, hits: map[[2]string]int{}, runs: map[[2]string]int{},
		entries: map[[2]string]int{}, duration: map[string]float64{}, count: map[string]int{}}
}

func (m *metrics) call(c store.Call) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.CacheHit {
		m.hits[[2]string{c.Connection, c.Workflow}]++
		return
	}
	status := strconv.Itoa(c.Status)
	if c.Status == 0 {
		status = "error"
	}
	m.calls[[3]string{c.Connection, c.Workflow, status}]++
}

func (m *metrics) run(r store.Run) {
	if r.ID == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs[[2]string{r.Workflow, string(r.Status)}]++
	for outcome, n := range map[string]int{"created": r.Created, "updated": r.Updated, "deleted": r.Deleted, "failed": r.Failed} {
		m.entries[[2]string{r.Workflow, outcome}] += n
	}
	m.duration[r.Workflow] += r.FinishedAt.Sub(r.StartedAt).Seconds()
	m.count[r.Workflow]++
}

// countingStore counts the calls it records.
type countingStore struct {
	store.Store
	m *metrics
}

func (c countingStore) RecordCalls(ctx context.Context, calls []store.Call) error {
	for _, call := range calls {
		c.m.call(call)
	}
	return c.Store.RecordCalls(ctx, calls)
}

// WriteMetrics writes the metrics in Prometheus' text format.
func (s *Server) WriteMetrics(ctx context.Context, w io.Writer) error {
	var b strings.Builder
	m := s.metrics
	m.mu.Lock()
	family(&b, "sluice_api_calls_total", "counter", "API requests sent, by connection, workflow and HTTP status.")
	for _, k := range sortedKeys(m.calls) {
		sample(&b, "sluice_api_calls_total", m.calls[k], "connection", k[0], "workflow", k[1], "status", k[2])
	}
	family(&b, "sluice_cache_hits_total", "counter", "Reads answered from the shared cache instead of the API.")
	for _, k := range sortedKeys(m.hits) {
		sample(&b, "sluice_cache_hits_total", m.hits[k], "connection", k[0], "workflow", k[1])
	}
	family(&b, "sluice_runs_total", "counter", "Workflow runs, by status.")
	for _, k := range sortedKeys(m.runs) {
		sample(&b, "sluice_runs_total", m.runs[k], "workflow", k[0], "status", k[1])
	}
	family(&b, "sluice_entries_total", "counter", "Entries written to sinks, by outcome.")
	for _, k := range sortedKeys(m.entries) {
		sample(&b, "sluice_entries_total", m.entries[k], "workflow", k[0], "outcome", k[1])
	}
	family(&b, "sluice_run_duration_seconds", "summary", "How long runs took.")
	for _, wf := range sortedKeys(m.count) {
		sample(&b, "sluice_run_duration_seconds_sum", m.duration[wf], "workflow", wf)
		sample(&b, "sluice_run_duration_seconds_count", m.count[wf], "workflow", wf)
	}
	m.mu.Unlock()

	s.mu.RLock()
	svc, p := s.svc, s.project
	s.mu.RUnlock()
	states := svc.Budget.States()
	family(&b, "sluice_quota_remaining", "gauge", "Calls left in the bucket's current window, as last reported.")
	for _, st := range states {
		if st.Known {
			sample(&b, "sluice_quota_remaining", st.Remaining, "connection", st.Connection, "bucket", st.Bucket)
		}
	}
	family(&b, "sluice_quota_total", "gauge", "The bucket's size per window.")
	for _, st := range states {
		if st.Total > 0 {
			sample(&b, "sluice_quota_total", st.Total, "connection", st.Connection, "bucket", st.Bucket)
		}
	}
	family(&b, "sluice_quota_external_calls", "gauge", "Calls other applications spent in the bucket's current window.")
	for _, st := range states {
		sample(&b, "sluice_quota_external_calls", st.External, "connection", st.Connection, "bucket", st.Bucket)
	}
	family(&b, "sluice_connection_up", "gauge", "1 while the connection may be called: credentials accepted and circuit closed.")
	for _, name := range p.Config.ConnectionNames() {
		h := svc.Health(name)
		sample(&b, "sluice_connection_up", boolNum(!h.BadCredentials && h.OpenUntil.IsZero()), "connection", name)
	}
	enabled, err := s.enabled(ctx, p)
	if err != nil {
		return err
	}
	family(&b, "sluice_workflow_enabled", "gauge", "1 when the workflow is scheduled.")
	for _, name := range s.names() {
		sample(&b, "sluice_workflow_enabled", boolNum(enabled[name]), "workflow", name)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

func family(b *strings.Builder, name, kind, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
}

// sample writes one line; labels come in name, value pairs.
func sample[N int | float64](b *strings.Builder, name string, v N, labels ...string) {
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(b, "%s=%s", labels[i], strconv.Quote(labels[i+1]))
		}
		b.WriteByte('}')
	}
	fmt.Fprintf(b, " %v\n", v)
}

func boolNum(b bool) int {
	if b {
		return 1
	}
	return 0
}

func sortedKeys[K [2]string | [3]string | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b K) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return keys
}
