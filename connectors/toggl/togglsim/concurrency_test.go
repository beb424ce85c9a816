package togglsim

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestConcurrentClients runs several users in parallel over loopback HTTP (run with -race)
// and checks that every request was counted once and every create stored once.
func TestConcurrentClients(t *testing.T) {
	f := newFixture(t, Options{UserQuota: 1000, PlanQuota: map[Plan]int{PlanPremium: 5000}}, PlanPremium)
	const users, rounds = 6, 15
	tokens := []string{f.token}
	for i := 1; i < users; i++ {
		_, tok := f.addUser(fmt.Sprint("user", i))
		tokens = append(tokens, tok)
	}
	var wg sync.WaitGroup
	errs := make(chan error, users*rounds*5)
	for _, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				body := map[string]any{"created_with": "race", "workspace_id": f.ws,
					"start": fmtTime(t0.Add(-time.Duration(i+1) * time.Hour)), "duration": 60, "description": tok}
				calls := []struct {
					method, path string
					body         any
				}{
					{"POST", f.wsPath("/time_entries"), body},
					{"GET", "/api/v9/me/time_entries", nil},
					{"GET", "/api/v9/me/quota", nil},
					{"POST", f.reportsPath(), map[string]any{"start_date": "2025-10-01", "end_date": "2025-10-07", "page_size": 10}},
					{"GET", f.wsPath("/projects"), nil},
				}
				for _, c := range calls {
					if r := f.do(c.method, c.path, tok, c.body); r.status != 200 {
						errs <- fmt.Errorf("%s %s as %s: %d %s", c.method, c.path, tok, r.status, r.body)
					}
				}
				f.clock.Advance(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := f.sim.Stats()
	if want := users * rounds * 5; st.Requests != want || st.ByStatus[200] != want || st.Charged != want {
		t.Errorf("stats %+v, want %d requests all OK and charged", st, want)
	}
	if got, want := st.ByBucket["user"], users*rounds*2; got != want {
		t.Errorf("user bucket charges = %d, want %d", got, want)
	}
	if got, want := st.ByBucket["org:"+itoa(f.org)], users*rounds*3; got != want {
		t.Errorf("org bucket charges = %d, want %d", got, want)
	}
	perUser := map[int64]int{}
	seen := map[int64]bool{}
	for _, e := range f.sim.Entries() {
		if seen[e.ID] {
			t.Errorf("duplicate id %d", e.ID)
		}
		seen[e.ID] = true
		perUser[e.UserID]++
	}
	if len(perUser) != users {
		t.Errorf("entries for %d users, want %d", len(perUser), users)
	}
	for uid, n := range perUser {
		if n != rounds {
			t.Errorf("user %d has %d entries, want %d", uid, n, rounds)
		}
	}
	for _, tok := range tokens {
		if q := f.sim.Quota(tok, "user"); q.Used != rounds*2 {
			t.Errorf("%s user bucket used %d, want %d", tok, q.Used, rounds*2)
		}
	}
}
