package toggl_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/toggl"
	"github.com/sluicehq/sluice/connectors/toggl/togglsim"
)

// requireError fails the test unless err is an *APIError with status and its text has every
// one of want.
func requireError(t *testing.T, err error, status int, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("Pull succeeded, want an error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	var apiErr *toggl.APIError
	if status != 0 && (!errors.As(err, &apiErr) || apiErr.Status != status) {
		t.Errorf("error %v is not an *APIError with status %d", err, status)
	}
}

// TestQuotaExhausted: once another application spent the bucket, Toggl answers 402 and the
// error says so with Toggl's message, for the user bucket (/me) and the organization's
// (Reports).
func TestQuotaExhausted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		set    func(f *fixture) connectors.Values
		bucket func(f *fixture) (string, int)
		cursor connectors.Cursor
		want   []string
	}{
		{
			name:   "mine backfill",
			set:    func(*fixture) connectors.Values { return nil },
			bucket: func(*fixture) (string, int) { return "user", 30 },
			want: []string{"backfill entries", "HTTP 402",
				"Quota exceeded: You've used 31 / 30 requests from user specific requests quota"},
		},
		{
			name:   "mine since",
			set:    func(*fixture) connectors.Values { return nil },
			bucket: func(*fixture) (string, int) { return "user", 30 },
			cursor: sinceCursor(t0),
			want: []string{"read entries changed since 2026-03-10T14:30:00Z", "HTTP 402",
				"Quota exceeded: You've used 31 / 30 requests from user specific requests quota"},
		},
		{
			name: "workspace",
			set: func(f *fixture) connectors.Values {
				return connectors.Values{"entries": "workspace", "workspace_id": f.ws}
			},
			bucket: func(f *fixture) (string, int) { return "org:" + strconv.FormatInt(f.org, 10), 240 },
			want:   []string{"HTTP 402", "Quota exceeded: You've used 241 / 240 requests in Acme (Starter)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, togglsim.Options{})
			f.entry(f.ann, t0.Add(-3*time.Hour), time.Hour)
			f.clock.Advance(time.Hour)
			bucket, n := tc.bucket(f)
			f.sim.SpendQuota(f.token, bucket, n)
			_, err := f.source(t, tc.set(f)).Pull(context.Background(), tc.cursor)
			requireError(t, err, http.StatusPaymentRequired, tc.want...)
			if st := f.sim.Stats(); st.QuotaExceeded != 1 || st.Requests != 1 {
				t.Errorf("simulator saw %d requests, %d over quota; want one refused request and no retry", st.Requests, st.QuotaExceeded)
			}
		})
	}
}

// TestAuthFailure: a wrong token fails with Toggl's status and message, and the error does
// not carry the token.
func TestAuthFailure(t *testing.T) {
	for _, status := range []int{http.StatusForbidden, http.StatusUnauthorized} {
		for _, mode := range []string{"mine", "workspace"} {
			t.Run(strconv.Itoa(status)+" "+mode, func(t *testing.T) {
				f := newFixture(t, togglsim.Options{AuthFailureStatus: status})
				set := connectors.Values{"entries": mode}
				if mode == "workspace" {
					set["workspace_id"] = f.ws
				}
				const wrong = "not-the-token-5f2c"
				src := newSource(t, f.srv, wrong, f.clock, set)
				_, err := src.Pull(context.Background(), "")
				requireError(t, err, status, "HTTP "+strconv.Itoa(status), "Incorrect username and/or password")
				if err != nil && strings.Contains(err.Error(), wrong) {
					t.Errorf("error %q shows the token", err)
				}
				if st := f.sim.Stats(); st.AuthFailed != 1 || st.Requests != 1 {
					t.Errorf("simulator saw %d requests, %d auth failures; want one", st.Requests, st.AuthFailed)
				}
			})
		}
	}
}

// TestMalformedAnswers: an answer the client cannot read gives an error saying which call it
// was decoding.
func TestMalformedAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		set    connectors.Values
		cursor connectors.Cursor
		header map[string]string
		body   string
		want   []string
	}{
		{name: "mine backfill, cut short", body: `[{"id": 1, "start": "2026-03-`,
			want: []string{"backfill entries from", "GET /api/v9/me/time_entries", "decode answer (29 bytes)"}},
		{name: "mine since, not an array", cursor: sinceCursor(t0), body: `{"error": "oops"}`,
			want: []string{"read entries changed since", "GET /api/v9/me/time_entries", "decode answer"}},
		{name: "mine, id is text", body: `[{"id": "x"}]`,
			want: []string{"GET /api/v9/me/time_entries", "decode answer", "TimeEntry.id"}},
		{name: "reports, not an array", set: connectors.Values{"entries": "workspace", "workspace_id": int64(7)}, body: `{"rows": []}`,
			want: []string{"search workspace 7", "POST /reports/api/v3/workspace/{workspace_id}/search/time_entries", "decode answer"}},
		{name: "reports, bad paging header", set: connectors.Values{"entries": "workspace", "workspace_id": int64(7)},
			header: map[string]string{"X-Next-ID": "abc", "X-Next-Row-Number": "3"}, body: `[]`,
			want: []string{"search workspace 7", `X-Next-ID="abc"`, `X-Next-Row-Number="3"`}},
		{name: "error body that is not JSON", body: "<html>bad gateway</html>",
			header: map[string]string{":status": "502"},
			want:   []string{"GET /api/v9/me/time_entries", "HTTP 502", "<html>bad gateway</html>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				status := http.StatusOK
				for k, v := range tc.header {
					if k == ":status" {
						status, _ = strconv.Atoi(v)
						continue
					}
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_, _ = w.Write([]byte(tc.body))
			})
			_, checked, srv := server(t, stub)
			_, err := newSource(t, srv, "tok", fixedClock(t0), tc.set).Pull(context.Background(), tc.cursor)
			requireError(t, err, 0, tc.want...)
			if n := checked.Count(); n != 1 {
				t.Errorf("%d requests, want 1 (no retry, no further page)", n)
			}
		})
	}
}

// TestPullCancelled: a cancelled context stops the pull with ctx's error.
func TestPullCancelled(t *testing.T) {
	f := newFixture(t, togglsim.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, set := range []connectors.Values{nil, {"entries": "workspace", "workspace_id": f.ws}} {
		_, err := f.source(t, set).Pull(ctx, "")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Pull(%v) with a cancelled context = %v, want context.Canceled", set, err)
		}
	}
}
