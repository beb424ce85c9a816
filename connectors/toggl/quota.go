package toggl

import (
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

// Observe implements connectors.QuotaPolicy.
func (quotaPolicy) Observe(resp *http.Response) (connectors.Quota, bool) {
	rem, err1 := strconv.Atoi(strings.TrimSpace(resp.Header.Get("X-Toggl-Quota-Remaining")))
	secs, err2 := strconv.ParseFloat(strings.TrimSpace(resp.Header.Get("X-Toggl-Quota-Resets-In")), 64)
	if err1 != nil || err2 != nil || secs < 0 {
		return connectors.Quota{}, false
	}
	return connectors.Quota{Remaining: rem, ResetsIn: time.Duration(secs * float64(time.Second))}, true
}
