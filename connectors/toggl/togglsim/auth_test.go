package togglsim

import (
	"encoding/base64"
	"net/http"
	"testing"
)

func TestAuth(t *testing.T) {
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name   string
		header string // Authorization; "" sends none
		ok     bool
	}{
		{"valid token", basic("tok-ann:api_token"), true},
		{"lower-case scheme", "basic " + base64.StdEncoding.EncodeToString([]byte("tok-ann:api_token")), true},
		{"missing header", "", false},
		{"unknown token", basic("nope:api_token"), false},
		{"wrong password", basic("tok-ann:secret"), false},
		{"no colon", basic("tok-ann"), false},
		{"bearer scheme", "Bearer tok-ann", false},
		{"bad base64", "Basic !!!", false},
	}
	for _, status := range []int{0, http.StatusUnauthorized} {
		wantFail := http.StatusForbidden
		if status != 0 {
			wantFail = status
		}
		for _, tc := range cases {
			t.Run(http.StatusText(wantFail)+"/"+tc.name, func(t *testing.T) {
				f := newFixture(t, Options{AuthFailureStatus: status}, PlanFree)
				req, err := http.NewRequest("GET", f.srv.URL+"/api/v9/me", nil)
				if err != nil {
					t.Fatal(err)
				}
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				res, err := f.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				q := f.sim.Quota(f.token, "user")
				if tc.ok {
					if res.StatusCode != 200 || q.Used != 1 {
						t.Fatalf("status %d, used %d; want 200 and 1", res.StatusCode, q.Used)
					}
					return
				}
				if res.StatusCode != wantFail {
					t.Fatalf("status = %d, want %d", res.StatusCode, wantFail)
				}
				if v := res.Header.Get("X-Toggl-Quota-Remaining"); v != "" {
					t.Errorf("auth failure carries quota header %q", v)
				}
				if q.Used != 0 {
					t.Errorf("auth failure charged %d", q.Used)
				}
				if got := f.sim.Stats().AuthFailed; got != 1 {
					t.Errorf("Stats.AuthFailed = %d, want 1", got)
				}
			})
		}
	}
}

func TestAuthFailureBody(t *testing.T) {
	f := newFixture(t, Options{}, PlanFree)
	r := f.do("GET", "/api/v9/me", "wrong", nil).want(t, http.StatusForbidden)
	if got := r.msg(t); got != "Incorrect username and/or password" {
		t.Errorf("body = %q", got)
	}
	r = f.do("POST", f.reportsPath(), "", `{"start_date":"2025-01-01"}`).want(t, http.StatusForbidden)
	r.noQuotaHeaders(t)
}

func TestAccessRefusedWithoutCharge(t *testing.T) {
	f := newFixture(t, Options{}, PlanStarter)
	otherOrg := f.sim.AddOrganization("Other", PlanPremium)
	otherWS := f.sim.AddWorkspace(otherOrg, "Other WS")
	cases := []struct {
		name, method, path string
		status             int
		msg                string
	}{
		{"foreign workspace", "GET", "/api/v9/workspaces/" + itoa(otherWS) + "/projects", 403, "User does not have access to this resource."},
		{"unknown workspace", "GET", "/api/v9/workspaces/1/projects", 403, "User does not have access to this resource."},
		{"foreign organization", "GET", "/api/v9/organizations/" + itoa(otherOrg), 403, "User does not have access to this resource."},
		{"foreign workspace report", "POST", "/reports/api/v3/workspace/" + itoa(otherWS) + "/search/time_entries", 403, "Workspace not found/accessible"},
		{"non-numeric workspace", "GET", "/api/v9/workspaces/abc/projects", 400, "Invalid workspace id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(tc.method, tc.path, f.token, `{"start_date":"2025-10-01"}`).want(t, tc.status)
			if got := r.msg(t); got != tc.msg {
				t.Errorf("body = %q, want %q", got, tc.msg)
			}
			r.noQuotaHeaders(t)
		})
	}
	if q := f.sim.Quota(f.token, "user"); q.Used != 0 {
		t.Errorf("user bucket used %d, want 0", q.Used)
	}
	if q := f.sim.Quota(f.token, "org:"+itoa(f.org)); q.Used != 0 {
		t.Errorf("org bucket used %d, want 0", q.Used)
	}
}
