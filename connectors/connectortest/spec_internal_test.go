package connectortest

import (
	"sync"
	"testing"
	"time"
)

// TestLoadOnce loads every document from many goroutines at once: each must be loaded a
// single time and shared. It logs how long the loads took (the first test to load a document
// pays for it; the others get the cached one).
func TestLoadOnce(t *testing.T) {
	for _, name := range []string{TogglTrack, TogglReports, Jira} {
		start := time.Now()
		const n = 8
		got := make([]*document, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				d, err := cachedDocument(name)
				if err != nil {
					t.Error(err)
				}
				got[i] = d
			})
		}
		wg.Wait()
		t.Logf("%s: %v", name, time.Since(start))
		for i := range got {
			if got[i] == nil || got[i] != got[0] {
				t.Fatalf("%s: goroutine %d got document %p, goroutine 0 got %p", name, i, got[i], got[0])
			}
		}
	}
}

func TestCheckJiraDateTime(t *testing.T) {
	for _, tc := range []struct {
		v  string
		ok bool
	}{
		{"2021-01-17T12:34:00.000+0000", true},
		{"2026-05-04T23:59:59.999-0930", true},
		{"2021-01-17T12:34:00Z", false},
		{"2021-01-17T12:34:00.000Z", false},
		{"2021-01-17T12:34:00.000+00:00", false},
		{"2021-01-17T12:34:00+0000", false},
		{"2021-01-17T12:34:00.0+0000", false},
		{"2021-01-17 12:34:00.000+0000", false},
		{"2021-01-32T12:34:00.000+0000", false},
		{"2021-01-17T24:00:00.000+0000", false},
		{" 2021-01-17T12:34:00.000+0000", false},
	} {
		if err := checkJiraDateTime(tc.v); (err == nil) != tc.ok {
			t.Errorf("checkJiraDateTime(%q) = %v, want ok %v", tc.v, err, tc.ok)
		}
	}
}
