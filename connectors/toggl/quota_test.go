package toggl_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/connectors/toggl"
	"github.com/sluicehq/sluice/connectors/toggl/togglsim"
)

// TestQuotaBucket: /me paths spend the user bucket; workspace, organization and Reports paths
// the organization's; anything else is not metered by the policy.
func TestQuotaBucket(t *testing.T) {
	for _, tc := range []struct {
		method, path, want string
	}{
		{"GET", "/api/v9/me", toggl.BucketUser},
		{"GET", "/api/v9/me/", toggl.BucketUser},
		{"GET", "/api/v9/me/time_entries?since=1773150000&meta=true", toggl.BucketUser},
		{"GET", "/api/v9/me/time_entries/current", toggl.BucketUser},
		{"GET", "/api/v9/me/quota", toggl.BucketUser},
		{"GET", "/api/v9/meetings", ""},
		{"GET", "/api/v9/workspaces/5000001/projects", toggl.BucketOrg},
		{"PUT", "/api/v9/workspaces/5000001/time_entries/4000000001", toggl.BucketOrg},
		{"GET", "/api/v9/organizations/9000001", toggl.BucketOrg},
		{"POST", "/reports/api/v3/workspace/5000001/search/time_entries", toggl.BucketOrg},
		{"GET", "/webhooks/api/v1/subscriptions/5000001", ""},
		{"GET", "/api/v8/me", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "https://api.track.toggl.com"+tc.path, nil)
			if got := toggl.Spec.Quota.Bucket(req); got != tc.want {
				t.Errorf("Bucket = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestQuotaObserve: the X-Toggl-Quota-* headers are read when both are numbers, and refused
// otherwise.
func TestQuotaObserve(t *testing.T) {
	for _, tc := range []struct {
		name               string
		remaining, resetIn string // "-" leaves the header out
		want               connectors.Quota
		ok                 bool
	}{
		{"whole seconds", "228", "1710", connectors.Quota{Remaining: 228, ResetsIn: 1710 * time.Second}, true},
		{"spent", "0", "59", connectors.Quota{Remaining: 0, ResetsIn: 59 * time.Second}, true},
		{"not enforced, negative", "-3", "0", connectors.Quota{Remaining: -3, ResetsIn: 0}, true},
		{"fractional seconds", "5", "1.5", connectors.Quota{Remaining: 5, ResetsIn: 1500 * time.Millisecond}, true},
		{"spaces", " 7 ", " 30 ", connectors.Quota{Remaining: 7, ResetsIn: 30 * time.Second}, true},
		{"no headers", "-", "-", connectors.Quota{}, false},
		{"no remaining", "-", "30", connectors.Quota{}, false},
		{"no resets-in", "30", "-", connectors.Quota{}, false},
		{"empty", "", "", connectors.Quota{}, false},
		{"text remaining", "many", "30", connectors.Quota{}, false},
		{"fractional remaining", "2.5", "30", connectors.Quota{}, false},
		{"text resets-in", "30", "soon", connectors.Quota{}, false},
		{"negative resets-in", "30", "-1", connectors.Quota{}, false},
		{"duration resets-in", "30", "30s", connectors.Quota{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{Header: http.Header{}}
			if tc.remaining != "-" {
				resp.Header.Set("X-Toggl-Quota-Remaining", tc.remaining)
			}
			if tc.resetIn != "-" {
				resp.Header.Set("X-Toggl-Quota-Resets-In", tc.resetIn)
			}
			got, ok := toggl.Spec.Quota.Observe(resp)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Observe = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// policyTransport applies the quota policy to every request a source sends, as the engine's
// transport does, and keeps what it says.
type policyTransport struct {
	next http.RoundTripper

	mu   sync.Mutex
	seen []observed
}

type observed struct {
	route, bucket string
	quota         connectors.Quota
	ok            bool
}

func (p *policyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	bucket := toggl.Spec.Quota.Bucket(req)
	resp, err := p.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	q, ok := toggl.Spec.Quota.Observe(resp)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, observed{route: connectors.Route(req.Context()), bucket: bucket, quota: q, ok: ok})
	return resp, nil
}

// TestQuotaPolicyMatchesSimulator: for each request a source sends, the policy picks the
// bucket the simulator charges, reads the quota left in it, and the route label is the path
// template.
func TestQuotaPolicyMatchesSimulator(t *testing.T) {
	f := newFixture(t, togglsim.Options{})
	for range 3 {
		f.entry(f.ann, t0.Add(-5*time.Hour), time.Hour)
	}
	f.clock.Advance(time.Hour)
	pt := &policyTransport{next: f.srv.Client().Transport}
	client := &http.Client{Transport: pt}
	build := func(set connectors.Values) connectors.Source {
		vals := sourceValues(t, set)
		src, err := toggl.Spec.NewSource(connectors.Config{BaseURL: f.srv.URL, Conn: withDefaults(t, toggl.Spec.Connection, connectors.Values{"api_token": connectors.Secret(f.token)}), Values: vals},
			connectors.Deps{HTTP: client, Clock: f.clock})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	mine := build(nil)
	b := pull(t, mine, "")
	pull(t, mine, b.Next)
	pull(t, build(connectors.Values{"entries": "workspace", "workspace_id": f.ws, "page_size": int64(1)}), "")

	org := "org:" + strconv.FormatInt(f.org, 10)
	want := []observed{
		{"/api/v9/me/time_entries", toggl.BucketUser, connectors.Quota{Remaining: 29, ResetsIn: time.Hour}, true},
		{"/api/v9/me/time_entries", toggl.BucketUser, connectors.Quota{Remaining: 28, ResetsIn: time.Hour}, true},
		{"/reports/api/v3/workspace/{workspace_id}/search/time_entries", toggl.BucketOrg, connectors.Quota{Remaining: 239, ResetsIn: time.Hour}, true},
		{"/reports/api/v3/workspace/{workspace_id}/search/time_entries", toggl.BucketOrg, connectors.Quota{Remaining: 238, ResetsIn: time.Hour}, true},
		{"/reports/api/v3/workspace/{workspace_id}/search/time_entries", toggl.BucketOrg, connectors.Quota{Remaining: 237, ResetsIn: time.Hour}, true},
	}
	if len(pt.seen) != len(want) {
		t.Fatalf("saw %d requests, want %d: %+v", len(pt.seen), len(want), pt.seen)
	}
	simBucket := map[string]string{toggl.BucketUser: "user", toggl.BucketOrg: org}
	reqs := f.sim.Requests()
	for i := range want {
		if pt.seen[i] != want[i] {
			t.Errorf("request %d: %+v, want %+v", i+1, pt.seen[i], want[i])
		}
		if reqs[i].Bucket != simBucket[pt.seen[i].bucket] {
			t.Errorf("request %d %s: policy says %q, simulator charged %q", i+1, reqs[i].Path, pt.seen[i].bucket, reqs[i].Bucket)
		}
	}
}
