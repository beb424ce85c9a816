package jirasim

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestFailNext(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.FailNext(2, http.StatusServiceUnavailable, 2500*time.Millisecond)
	e.sim.FailNext(1, http.StatusTooManyRequests, 0)
	for i, want := range []struct {
		status     int
		retryAfter string
	}{{503, "3"}, {503, "3"}, {429, ""}} {
		r := e.do("POST", worklogsURL, validBody())
		if r.status != want.status || r.header.Get("Retry-After") != want.retryAfter {
			t.Errorf("request %d: status %d Retry-After %q, want %d %q", i+1, r.status,
				r.header.Get("Retry-After"), want.status, want.retryAfter)
		}
		if ec := errorsOf(t, r); ec.Status != want.status {
			t.Errorf("request %d: body %s", i+1, r.body)
		}
	}
	if n := len(e.sim.Worklogs("SLU-1")); n != 0 {
		t.Fatalf("%d worklogs after injected failures, want 0", n)
	}
	e.must(http.StatusCreated, "POST", worklogsURL, validBody())

	t.Run("before authentication", func(t *testing.T) {
		e.sim.FailNext(1, http.StatusBadGateway, 0)
		req := e.request("GET", "/rest/api/3/myself", nil)
		req.Header.Del("Authorization")
		if r := e.send(req); r.status != http.StatusBadGateway {
			t.Errorf("status %d, want 502", r.status)
		}
	})
	t.Run("invalid status becomes 500", func(t *testing.T) {
		e.sim.FailNext(1, 0, 0)
		e.must(http.StatusInternalServerError, "GET", "/rest/api/3/myself", nil)
	})
	t.Run("n of zero does nothing", func(t *testing.T) {
		e.sim.FailNext(0, http.StatusInternalServerError, 0)
		e.must(http.StatusOK, "GET", "/rest/api/3/myself", nil)
	})

	st := e.sim.Stats()
	if st.Injected != 5 || st.TooManyRequests != 1 || st.BurstLimited != 0 || st.ByStatus[503] != 2 {
		t.Errorf("stats injected/429/burst/503 = %d/%d/%d/%d, want 5/1/0/2", st.Injected, st.TooManyRequests,
			st.BurstLimited, st.ByStatus[503])
	}
	reqs := e.sim.Requests()
	if reqs[0].Reason != "injected" || reqs[0].Status != 503 || reqs[3].Reason != "" {
		t.Errorf("request log %+v", reqs[:4])
	}
}

func TestLoseNextResponse(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.LoseNextResponse(1)

	// Neither a refused write nor a read uses the loss up.
	e.must(http.StatusBadRequest, "POST", worklogsURL, with(validBody(), "started", nil))
	e.must(http.StatusOK, "GET", worklogsURL, nil)

	resp, err := e.srv.Client().Do(e.request("POST", worklogsURL, validBody()))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("POST answered %d, want the connection closed without a response", resp.StatusCode)
	}
	ws := e.sim.Worklogs("SLU-1")
	if len(ws) != 1 {
		t.Fatalf("%d worklogs, want the lost one applied", len(ws))
	}

	// The client reconciles by listing, and then everything answers again.
	page := decode[struct{ Total int }](t, e.must(http.StatusOK, "GET", worklogsURL, nil).body)
	if page.Total != 1 {
		t.Errorf("list total %d, want 1", page.Total)
	}
	e.must(http.StatusCreated, "POST", worklogsURL, validBody())

	t.Run("update and delete", func(t *testing.T) {
		e.sim.LoseNextResponse(2)
		if resp, err := e.srv.Client().Do(e.request("PUT", worklogsURL+"/"+ws[0].ID, map[string]any{"timeSpent": "3h"})); err == nil {
			resp.Body.Close()
			t.Fatalf("PUT answered %d", resp.StatusCode)
		}
		if resp, err := e.srv.Client().Do(e.request("DELETE", worklogsURL+"/"+ws[0].ID, nil)); err == nil {
			resp.Body.Close()
			t.Fatalf("DELETE answered %d", resp.StatusCode)
		}
		if left := e.sim.Worklogs("SLU-1"); len(left) != 1 || left[0].ID == ws[0].ID {
			t.Errorf("worklogs %+v, want only the second", left)
		}
	})

	st := e.sim.Stats()
	if st.Lost != 3 || st.ByStatus[http.StatusCreated] != 2 {
		t.Errorf("stats lost/201 = %d/%d, want 3/2", st.Lost, st.ByStatus[http.StatusCreated])
	}
	var lost []Request
	for _, r := range e.sim.Requests() {
		if r.Lost {
			lost = append(lost, r)
		}
	}
	if len(lost) != 3 || lost[0].Method != "POST" || lost[0].Status != http.StatusCreated ||
		lost[1].Status != http.StatusOK || lost[2].Status != http.StatusNoContent {
		t.Errorf("lost requests %+v", lost)
	}
}

func TestLoseNextResponseWithoutHijack(t *testing.T) {
	sim := New(Options{Clock: newFakeClock(), BurstRate: -1, IssueWriteRate: -1})
	sim.AddAccount(testEmail, testToken, testName)
	sim.AddIssue("SLU-1", "x")
	sim.LoseNextResponse(1)
	req := httptest.NewRequest("POST", worklogsURL, bytes.NewReader(mustJSON(t, validBody())))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(testEmail, testToken)
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", p)
			}
		}()
		sim.ServeHTTP(httptest.NewRecorder(), req) // a recorder cannot be hijacked
	}()
	if n := len(sim.Worklogs("SLU-1")); n != 1 {
		t.Errorf("%d worklogs, want 1", n)
	}
	if sim.Stats().Lost != 1 {
		t.Errorf("Lost %d, want 1", sim.Stats().Lost)
	}
}

func TestStatsAndRequests(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.create(validBody())["id"].(string)
	e.must(http.StatusOK, "GET", worklogsURL+"?startAt=0&maxResults=10", nil)
	e.must(http.StatusOK, "GET", "/rest/api/3/issue/SLU-2/worklog", nil)
	e.must(http.StatusNotFound, "GET", worklogsURL+"/99999", nil)
	e.must(http.StatusOK, "GET", worklogsURL+"/"+id, nil)
	e.must(http.StatusNotFound, "GET", "/favicon.ico", nil)
	req := e.request("GET", "/rest/api/3/myself", nil)
	req.Header.Del("Authorization")
	e.send(req)

	st := e.sim.Stats()
	list := "GET " + worklogsPath
	for route, want := range map[string]int{
		"POST " + worklogsPath:   1,
		list:                     2,
		"GET " + worklogPath:     2,
		"GET (unknown)":          1,
		"GET /rest/api/3/myself": 1,
	} {
		if st.ByRoute[route] != want {
			t.Errorf("ByRoute[%q] = %d, want %d", route, st.ByRoute[route], want)
		}
	}
	if st.Total != 7 || st.ByStatus[200] != 3 || st.ByStatus[404] != 2 || st.ByStatus[401] != 1 {
		t.Errorf("total %d, by status %v", st.Total, st.ByStatus)
	}
	if st.ByRouteStatus["GET "+worklogPath][404] != 1 || st.ByRouteStatus["GET "+worklogPath][200] != 1 {
		t.Errorf("ByRouteStatus %v", st.ByRouteStatus)
	}

	st.ByRoute[list] = 99
	if e.sim.Stats().ByRoute[list] != 2 {
		t.Error("Stats shares its maps with the server")
	}

	reqs := e.sim.Requests()
	if len(reqs) != 7 {
		t.Fatalf("%d requests logged, want 7", len(reqs))
	}
	r := reqs[1]
	if r.Method != "GET" || r.Path != "/rest/api/3/issue/SLU-1/worklog" || r.Query != "startAt=0&maxResults=10" ||
		r.Route != list || r.Status != 200 || r.AccountID != e.accountID || !r.Time.Equal(e.clock.Now()) {
		t.Errorf("request %+v", r)
	}
	if reqs[6].AccountID != "" || reqs[6].Status != 401 {
		t.Errorf("unauthenticated request logged as %+v", reqs[6])
	}
}

func TestRequestLogCap(t *testing.T) {
	e := newEnv(t, Options{MaxRequestLog: 3})
	for i := range 8 {
		e.must(http.StatusOK, "GET", fmt.Sprintf("/rest/api/3/myself?n=%d", i), nil)
	}
	reqs := e.sim.Requests()
	if len(reqs) != 3 || reqs[0].Query != "n=5" || reqs[2].Query != "n=7" {
		t.Errorf("log %+v, want the newest 3", reqs)
	}
	if e.sim.Stats().Total != 8 {
		t.Errorf("Total %d, want 8", e.sim.Stats().Total)
	}
}

func TestConcurrency(t *testing.T) {
	e := newEnv(t, Options{})
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			issue := []string{"SLU-1", "SLU-2"}[w%2]
			for i := range each {
				req := e.request("POST", "/rest/api/3/issue/"+issue+"/worklog", with(validBody(), "properties",
					[]any{map[string]any{"key": "sluice", "value": map[string]any{"w": w, "i": i}}}))
				resp, err := e.srv.Client().Do(req)
				if err != nil {
					errs <- err
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs <- fmt.Errorf("worker %d: status %d", w, resp.StatusCode)
				}
				// Readers of the Go side run alongside.
				_ = e.sim.Stats()
				_ = e.sim.Worklogs(issue)
				_ = e.sim.Requests()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range each {
			resp, err := e.srv.Client().Do(e.request("GET", worklogsURL+"?expand=properties", nil))
			if err != nil {
				errs <- err
				continue
			}
			resp.Body.Close()
			e.clock.Advance(time.Millisecond)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	all := e.sim.AllWorklogs()
	if len(all) != workers*each {
		t.Fatalf("%d worklogs, want %d", len(all), workers*each)
	}
	seen := map[string]bool{}
	for _, w := range all {
		if seen[w.ID] {
			t.Fatalf("worklog id %s given twice", w.ID)
		}
		seen[w.ID] = true
	}
	if n1, n2 := len(e.sim.Worklogs("SLU-1")), len(e.sim.Worklogs("SLU-2")); n1 != n2 || n1+n2 != workers*each {
		t.Errorf("SLU-1 %d, SLU-2 %d worklogs", n1, n2)
	}
}
