package togglsim

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// bucketKey names one quota bucket: orgID 0 is the user's bucket for requests outside any
// organization.
type bucketKey struct{ userID, orgID int64 }

// bucket is a fixed 60-minute window opened by its first charged request.
type bucket struct {
	open  bool
	start time.Time
	used  int
}

// roll closes the window once 60 minutes have passed since it opened.
func (b *bucket) roll(now time.Time) {
	if b.open && !now.Before(b.start.Add(QuotaWindow)) {
		b.open, b.used = false, 0
	}
}

func (b *bucket) charge(now time.Time) { b.spend(now, 1) }

func (b *bucket) spend(now time.Time, n int) {
	if !b.open {
		b.open, b.start, b.used = true, now, 0
	}
	b.used += n
}

// resetsIn is the time left in the window; 0 when no window is open.
func (b *bucket) resetsIn(now time.Time) time.Duration {
	if !b.open {
		return 0
	}
	return b.start.Add(QuotaWindow).Sub(now)
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// bucketRef is the bucket a request is charged to.
type bucketRef struct{ orgID int64 }

func (r bucketRef) label() string {
	if r.orgID == 0 {
		return "user"
	}
	return "org:" + strconv.FormatInt(r.orgID, 10)
}

// bucket returns the user's bucket for orgID, rolled to now. Callers hold s.mu.
func (s *Server) bucket(userID, orgID int64, now time.Time) *bucket {
	k := bucketKey{userID, orgID}
	b := s.buckets[k]
	if b == nil {
		b = &bucket{}
		s.buckets[k] = b
	}
	b.roll(now)
	return b
}

// limit is the hourly size of the bucket for orgID. Callers hold s.mu.
func (s *Server) limit(orgID int64) int {
	if orgID == 0 {
		return s.opts.UserQuota
	}
	return s.opts.PlanQuota[s.orgs[orgID].plan]
}

// remaining is what the Remaining header and /me/quota report: it never drops below 0 while
// the quota is enforced, and goes negative when it is not.
func (s *Server) remaining(b *bucket, limit int) int {
	r := limit - b.used
	if r < 0 && !s.opts.QuotaNotEnforced {
		r = 0
	}
	return r
}

func (s *Server) quotaHeaders(b *bucket, limit int, now time.Time) http.Header {
	h := http.Header{}
	h.Set("X-Toggl-Quota-Remaining", strconv.Itoa(s.remaining(b, limit)))
	h.Set("X-Toggl-Quota-Resets-In", strconv.Itoa(ceilSeconds(b.resetsIn(now))))
	return h
}

// quotaMessage words a quota 402 like Toggl's profile page and the messages users report.
func (s *Server) quotaMessage(ref bucketRef, attempted, limit int) string {
	if ref.orgID == 0 {
		return fmt.Sprintf("Quota exceeded: You've used %d / %d requests from user specific requests quota", attempted, limit)
	}
	o := s.orgs[ref.orgID]
	return fmt.Sprintf("Quota exceeded: You've used %d / %d requests in %s (%s)", attempted, limit, o.name, planTitle(o.plan))
}

func planTitle(p Plan) string {
	if p == "" {
		return ""
	}
	return strings.ToUpper(string(p[:1])) + string(p[1:])
}

// bucketFor picks the bucket from the path: /api/v9/workspaces/{wid}/…,
// /api/v9/organizations/{oid}/… and /reports/api/v3/workspace/{wid}/… go to that
// organization's bucket, everything else to the user bucket. A workspace or organization the
// user cannot see is refused here, without charge. Callers hold s.mu.
func (s *Server) bucketFor(c *call) (bucketRef, reply, bool) {
	segs := splitPath(c.r.URL.Path)
	at := func(i int) string {
		if i < len(segs) {
			return segs[i]
		}
		return ""
	}
	switch {
	case at(0) == "api" && at(1) == "v9" && at(2) == "workspaces" && at(3) != "":
		return s.workspaceBucket(c, at(3), "User does not have access to this resource.")
	case at(0) == "reports" && at(1) == "api" && at(2) == "v3" && at(3) == "workspace" && at(4) != "":
		return s.workspaceBucket(c, at(4), "Workspace not found/accessible")
	case at(0) == "api" && at(1) == "v9" && at(2) == "organizations" && at(3) != "":
		oid, err := strconv.ParseInt(at(3), 10, 64)
		if err != nil {
			return bucketRef{}, errorReply(http.StatusBadRequest, "Invalid organization id"), false
		}
		for _, id := range s.orgsOf(c.user) {
			if id == oid {
				return bucketRef{orgID: oid}, reply{}, true
			}
		}
		return bucketRef{}, errorReply(http.StatusForbidden, "User does not have access to this resource."), false
	}
	return bucketRef{}, reply{}, true
}

func (s *Server) workspaceBucket(c *call, raw, denied string) (bucketRef, reply, bool) {
	wid, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return bucketRef{}, errorReply(http.StatusBadRequest, "Invalid workspace id"), false
	}
	w := s.workspaces[wid]
	if w == nil || !w.hasMember(c.user.id) {
		return bucketRef{}, errorReply(http.StatusForbidden, denied), false
	}
	c.ws = w
	return bucketRef{orgID: w.orgID}, reply{}, true
}

// leak is a leaky bucket: level drains at ThrottleRate per second, each request adds 1, and a
// request that would overflow ThrottleBurst is refused.
type leak struct {
	level float64
	last  time.Time
}

// throttle applies the short-term limit for key (token and client IP). A refused request does
// not fill the bucket. wait is the Retry-After in whole seconds. Callers hold s.mu.
func (s *Server) throttle(key string, now time.Time) (ok bool, wait int) {
	rate := s.opts.ThrottleRate
	if rate < 0 {
		return true, 0
	}
	l := s.leaks[key]
	if l == nil {
		l = &leak{last: now}
		s.leaks[key] = l
	}
	if dt := now.Sub(l.last).Seconds(); dt > 0 {
		l.level = math.Max(0, l.level-dt*rate)
		l.last = now
	}
	burst := float64(s.opts.ThrottleBurst)
	if over := l.level + 1 - burst; over > 1e-9 {
		return false, max(1, int(math.Ceil(over/rate-1e-9)))
	}
	l.level++
	return true, 0
}

// QuotaStatus is one bucket's state as GET /me/quota would report it.
type QuotaStatus struct {
	Used      int
	Remaining int
	Total     int
	// ResetsIn is the exact time left in the window; 0 when no window is open.
	ResetsIn time.Duration
}

// parseBucket resolves a bucket name for the Go-side quota methods. Callers hold s.mu.
func (s *Server) parseBucket(apiToken, name string) (*user, bucketRef) {
	uid, ok := s.tokens[apiToken]
	if !ok {
		mustf("unknown API token")
	}
	u := s.users[uid]
	if name == "user" {
		return u, bucketRef{}
	}
	raw, ok := strings.CutPrefix(name, "org:")
	oid, err := strconv.ParseInt(raw, 10, 64)
	if !ok || err != nil {
		mustf("bucket %q is neither \"user\" nor \"org:<id>\"", name)
	}
	for _, id := range s.orgsOf(u) {
		if id == oid {
			return u, bucketRef{orgID: oid}
		}
	}
	mustf("user %d is not in organization %d", u.id, oid)
	return nil, bucketRef{}
}

// SpendQuota makes another application on the same token spend n calls from a bucket:
// "user" or "org:<id>". A spend opens a window if none is open. While the quota is enforced
// usage stops at the limit (the other application's extra calls would have been refused). It
// costs nothing in Stats. It panics on an unknown token or bucket.
func (s *Server) SpendQuota(apiToken, bucketName string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ref := s.parseBucket(apiToken, bucketName)
	if n <= 0 {
		return
	}
	b := s.bucket(u.id, ref.orgID, s.now())
	b.spend(s.now(), n)
	if limit := s.limit(ref.orgID); !s.opts.QuotaNotEnforced && b.used > limit {
		b.used = limit
	}
}

// Quota reports a bucket's state ("user" or "org:<id>") without charging it. It panics on an
// unknown token or bucket.
func (s *Server) Quota(apiToken, bucketName string) QuotaStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ref := s.parseBucket(apiToken, bucketName)
	now := s.now()
	b := s.bucket(u.id, ref.orgID, now)
	limit := s.limit(ref.orgID)
	return QuotaStatus{Used: b.used, Remaining: s.remaining(b, limit), Total: limit, ResetsIn: b.resetsIn(now)}
}
