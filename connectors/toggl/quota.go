package toggl

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors"
)

// Quota buckets. Toggl meters each user per organization per hour ("org"), and separately
// the user-level requests that belong to no workspace or organization ("user"): every /me
// path, /me/time_entries included.
const (
	BucketUser = "user"
	BucketOrg  = "org"
)

// quotaPolicy maps Toggl's paths to buckets and reads its X-Toggl-Quota-* headers.
type quotaPolicy struct{}

var _ connectors.QuotaPolicy = quotaPolicy{}

// Bucket implements connectors.QuotaPolicy.
func (quotaPolicy) Bucket(req *http.Request) string {
	p := req.URL.Path
	switch {
	case p == "/api/v9/me" || strings.HasPrefix(p, "/api/v9/me/"):
		return BucketUser
	case strings.HasPrefix(p, "/api/v9/workspaces/"), strings.HasPrefix(p, "/api/v9/organizations/"),
		strings.HasPrefix(p, "/reports/api/v3/"):
		return BucketOrg
	}
	return ""
}

// Refusal implements connectors.QuotaPolicy. Toggl answers 402 both when the hourly quota
// is spent (its quota headers then say 0 left) and when a feature needs a paid plan (they
// say more than 0, or are absent). A refused login is 403 (or 401) on /me.
func (p quotaPolicy) Refusal(req *http.Request, resp *http.Response) connectors.Refusal {
	switch resp.StatusCode {
	case http.StatusPaymentRequired:
		if q, ok := p.Observe(resp); ok && q.Remaining <= 0 {
			return connectors.QuotaExhausted
		}
		return connectors.NeedsPlan
	case http.StatusUnauthorized:
		return connectors.BadCredentials
	case http.StatusForbidden:
		if p.Bucket(req) == BucketUser {
			return connectors.BadCredentials
		}
	}
	return connectors.NotRefused
}

// Observe implements connectors.QuotaPolicy.
func (quotaPolicy) Observe(resp *http.Response) (connectors.Quota, bool) {
	rem, err1 := strconv.Atoi(strings.TrimSpace(resp.Header.Get("X-Toggl-Quota-Remaining")))
	secs, err2 := strconv.ParseFloat(strings.TrimSpace(resp.Header.Get("X-Toggl-Quota-Resets-In")), 64)
	if err1 != nil || err2 != nil || secs < 0 {
		return connectors.Quota{}, false
	}
	return connectors.Quota{Remaining: rem, ResetsIn: time.Duration(secs * float64(time.Second))}, true
}

// Hourly organization quotas by plan, per user (support.toggl.com, "API & Webhook limits");
// the user bucket is the same on every plan.
var planQuota = map[string]int{"free": 30, "starter": 240, "premium": 600}

const userQuota = 30

// quotaTotals implements connectors.Spec.QuotaTotals from the connection's plan or org_quota.
func quotaTotals(conn connectors.Values) map[string]int {
	totals := map[string]int{}
	if n, ok := planQuota[conn.String("plan")]; ok {
		totals[BucketOrg] = n
		totals[BucketUser] = userQuota
	}
	if n := conn.Int("org_quota"); n > 0 {
		totals[BucketOrg] = int(n)
		totals[BucketUser] = userQuota
	}
	return totals
}

// quotaItem is one element of GET /api/v9/me/quota.
type quotaItem struct {
	OrganizationID *int64 `json:"organization_id"`
	Remaining      int    `json:"remaining"`
	ResetsInSecs   int    `json:"resets_in_secs"`
	Total          int    `json:"total"`
}

// probeQuota implements connectors.Spec.ProbeQuota with GET /api/v9/me/quota. A token in
// several organizations gets the tightest of their buckets as "org".
func probeQuota(ctx context.Context, cfg connectors.Config, deps connectors.Deps) (map[string]connectors.Quota, error) {
	c := NewClient(cfg.BaseURL, cfg.Conn.Secret("api_token"), deps.HTTP)
	var items []quotaItem
	if _, err := c.do(ctx, http.MethodGet, "/api/v9/me/quota", "/api/v9/me/quota", nil, nil, &items); err != nil {
		return nil, err
	}
	out := map[string]connectors.Quota{}
	for _, it := range items {
		q := connectors.Quota{Remaining: it.Remaining, ResetsIn: time.Duration(it.ResetsInSecs) * time.Second, Total: it.Total}
		bucket := BucketUser
		if it.OrganizationID != nil {
			bucket = BucketOrg
			if prev, ok := out[bucket]; ok && prev.Remaining <= q.Remaining {
				continue
			}
		}
		out[bucket] = q
	}
	return out, nil
}
