package togglsim

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxBody is the largest request body the simulator reads.
const maxBody = 1 << 20

// Server simulates the Toggl Track API v9 and Reports API v3. It is an http.Handler, safe for
// concurrent use; one mutex serialises all state, and responses are written after it is
// released. Create it with New and seed it with the Add… methods.
type Server struct {
	opts   Options
	routes []route

	mu sync.Mutex

	lastOrg, lastWorkspace, lastUser, lastClient, lastProject, lastTask, lastTag, lastEntry int64

	orgs       map[int64]*organization
	workspaces map[int64]*workspace
	users      map[int64]*user
	tokens     map[string]int64
	clients    map[int64]*client
	projects   map[int64]*project
	tasks      map[int64]*task
	tags       map[int64]*tag
	entries    map[int64]*Entry

	buckets map[bucketKey]*bucket
	leaks   map[string]*leak

	stats    Stats
	requests []Request
}

// New returns a simulator with no data. It panics if opts.Validate fails.
func New(opts Options) *Server {
	if err := opts.Validate(); err != nil {
		panic(err.Error())
	}
	s := &Server{
		opts:       opts.withDefaults(),
		orgs:       map[int64]*organization{},
		workspaces: map[int64]*workspace{},
		users:      map[int64]*user{},
		tokens:     map[string]int64{},
		clients:    map[int64]*client{},
		projects:   map[int64]*project{},
		tasks:      map[int64]*task{},
		tags:       map[int64]*tag{},
		entries:    map[int64]*Entry{},
		buckets:    map[bucketKey]*bucket{},
		leaks:      map[string]*leak{},
	}
	s.stats = newStats()
	s.routes = s.buildRoutes()
	return s
}

// now reads the clock. Callers hold s.mu (so one request sees one instant).
func (s *Server) now() time.Time { return s.opts.Clock.Now() }

// Stats are request totals since New or the last ResetStats.
type Stats struct {
	// Requests counts every request answered, failures included.
	Requests int
	// Charged counts requests that consumed quota.
	Charged int
	// ByStatus counts responses by status code.
	ByStatus map[int]int
	// ByBucket counts charged requests by bucket: "user" or "org:<id>" (all users together).
	ByBucket map[string]int
	// QuotaExceeded counts 402s for an exhausted quota.
	QuotaExceeded int
	// FeatureRefused counts 402s for a premium feature on a plan without it.
	FeatureRefused int
	// Throttled counts 429s from the short-term leaky bucket.
	Throttled int
	// AuthFailed counts requests refused for a missing or wrong token.
	AuthFailed int
}

func newStats() Stats { return Stats{ByStatus: map[int]int{}, ByBucket: map[string]int{}} }

// Request is one entry of the request log.
type Request struct {
	Time   time.Time
	Method string
	Path   string
	Query  string
	Status int
	// Bucket is the quota bucket the request was charged to or, for a 402 or 429, would have
	// been: "user" or "org:<id>"; "" for auth failures and refused access.
	Bucket string
	// Charged reports whether the request consumed quota.
	Charged bool
	// UserID is the authenticated user, 0 if authentication failed.
	UserID int64
	// RemoteIP is the client address the leaky bucket keyed on.
	RemoteIP string
}

// Stats returns a copy of the totals.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByStatus = maps.Clone(s.stats.ByStatus)
	st.ByBucket = maps.Clone(s.stats.ByBucket)
	return st
}

// Requests returns the request log, oldest first; it keeps the last Options.RequestLogSize.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	log := s.requests
	if n := s.opts.RequestLogSize; len(log) > n {
		log = log[len(log)-n:]
	}
	return append([]Request(nil), log...)
}

// ResetStats clears the totals and the request log. Quota usage is not touched.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = newStats()
	s.requests = nil
}

// reply is a response computed under the lock and written after it.
type reply struct {
	status int
	header http.Header
	body   []byte
	// feature marks a premium-feature 402, for Stats.
	feature bool
}

func jsonReply(status int, v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		// Every value the simulator sends is marshalable; this is a programming error.
		panic("togglsim: marshal response: " + err.Error())
	}
	return reply{status: status, body: append(b, '\n')}
}

// errorReply is a Toggl error: the body is a JSON string.
func errorReply(status int, msg string) reply { return jsonReply(status, msg) }

// call is one request being handled. Handlers run under s.mu.
type call struct {
	r      *http.Request
	body   []byte
	now    time.Time
	user   *user
	params map[string]string
	// ws is the workspace of a /workspaces/{wid}/… or Reports path, nil otherwise.
	ws *workspace
}

func (c *call) query(name string) (string, bool) {
	v, ok := c.r.URL.Query()[name]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

func (c *call) boolQuery(name string) bool {
	v, _ := c.query(name)
	b, _ := strconv.ParseBool(v)
	return b
}

// ServeHTTP answers one request: authenticate, pick the quota bucket, apply the short-term
// throttle (429), the hourly quota (402), then the endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	var rep reply
	var now time.Time
	switch {
	case err != nil:
		rep, now = errorReply(http.StatusBadRequest, "Could not read the request body"), s.clockNow()
	case len(body) > maxBody:
		rep, now = errorReply(http.StatusRequestEntityTooLarge, "Request body too large"), s.clockNow()
	default:
		rep, now = s.handle(r, body)
	}
	h := w.Header()
	maps.Copy(h, rep.header)
	h.Set("Date", now.UTC().Format(http.TimeFormat))
	if len(rep.body) > 0 {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(rep.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(rep.body) // the client went away: nothing to do
	}
}

func (s *Server) clockNow() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

// handle computes the reply under the lock and records it.
func (s *Server) handle(r *http.Request, body []byte) (reply, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	rec := Request{Time: now, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, RemoteIP: clientIP(r)}
	rep := s.process(r, body, now, &rec)
	if rep.header == nil {
		rep.header = http.Header{}
	}
	rec.Status = rep.status
	s.record(rec, rep)
	return rep, now
}

func (s *Server) process(r *http.Request, body []byte, now time.Time, rec *Request) reply {
	u, token := s.authenticate(r)
	if u == nil {
		rep := errorReply(s.opts.AuthFailureStatus, "Incorrect username and/or password")
		if s.opts.AuthFailureStatus == http.StatusUnauthorized {
			rep.header = http.Header{"Www-Authenticate": {`Basic realm="api"`}}
		}
		return rep
	}
	rec.UserID = u.id
	c := &call{r: r, body: body, now: now, user: u}

	ref, denied, ok := s.bucketFor(c)
	if !ok {
		return denied
	}
	rec.Bucket = ref.label()
	b := s.bucket(u.id, ref.orgID, now)
	limit := s.limit(ref.orgID)

	if ok, wait := s.throttle(token+"|"+rec.RemoteIP, now); !ok {
		rep := errorReply(http.StatusTooManyRequests, "Too Many Requests")
		rep.header = s.quotaHeaders(b, limit, now)
		rep.header.Set("Retry-After", strconv.Itoa(wait))
		return rep
	}
	if !s.opts.QuotaNotEnforced && b.used >= limit {
		rep := errorReply(http.StatusPaymentRequired, s.quotaMessage(ref, b.used+1, limit))
		rep.header = s.quotaHeaders(b, limit, now)
		return rep
	}
	b.charge(now)
	rec.Charged = true
	hdr := s.quotaHeaders(b, limit, now)

	rep := s.route(c)
	if rep.header == nil {
		rep.header = http.Header{}
	}
	for k, v := range hdr {
		rep.header[k] = v
	}
	return rep
}

// record updates the stats and the request log. Callers hold s.mu.
func (s *Server) record(rec Request, rep reply) {
	st := &s.stats
	st.Requests++
	st.ByStatus[rec.Status]++
	if rec.Charged {
		st.Charged++
		st.ByBucket[rec.Bucket]++
	}
	switch {
	case rec.UserID == 0:
		st.AuthFailed++
	case rec.Status == http.StatusTooManyRequests:
		st.Throttled++
	case rec.Status == http.StatusPaymentRequired && rep.feature:
		st.FeatureRefused++
	case rec.Status == http.StatusPaymentRequired:
		st.QuotaExceeded++
	}
	// The log grows to twice its size before the oldest half is dropped, so trimming costs
	// O(1) per request on average.
	s.requests = append(s.requests, rec)
	if n := s.opts.RequestLogSize; len(s.requests) >= 2*n {
		s.requests = append([]Request(nil), s.requests[len(s.requests)-n:]...)
	}
}

// authenticate accepts HTTP Basic with the API token as user name and the literal password
// "api_token". Callers hold s.mu.
func (s *Server) authenticate(r *http.Request) (*user, string) {
	h := r.Header.Get("Authorization")
	scheme, enc, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return nil, ""
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return nil, ""
	}
	token, password, ok := strings.Cut(string(raw), ":")
	if !ok || password != "api_token" {
		return nil, ""
	}
	id, ok := s.tokens[token]
	if !ok {
		return nil, ""
	}
	return s.users[id], token
}

// clientIP is the host part of r.RemoteAddr.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// route is one endpoint: a method and a path pattern whose {name} segments capture values.
type route struct {
	method  string
	pattern []string
	handler func(*call) reply
}

func (s *Server) buildRoutes() []route {
	table := []struct {
		method, path string
		h            func(*call) reply
	}{
		{"GET", "/api/v9/me", s.getMe},
		{"GET", "/api/v9/me/quota", s.getMeQuota},
		{"GET", "/api/v9/me/workspaces", s.getMeWorkspaces},
		{"GET", "/api/v9/me/organizations", s.getMeOrganizations},
		{"GET", "/api/v9/me/time_entries", s.getMeTimeEntries},
		{"GET", "/api/v9/me/time_entries/current", s.getCurrentEntry},
		{"GET", "/api/v9/me/time_entries/{time_entry_id}", s.getMeTimeEntry},
		{"GET", "/api/v9/organizations/{organization_id}", s.getOrganization},
		{"GET", "/api/v9/workspaces/{workspace_id}", s.getWorkspace},
		{"POST", "/api/v9/workspaces/{workspace_id}/time_entries", s.createEntry},
		{"PUT", "/api/v9/workspaces/{workspace_id}/time_entries/{time_entry_id}", s.updateEntry},
		{"DELETE", "/api/v9/workspaces/{workspace_id}/time_entries/{time_entry_id}", s.deleteEntry},
		{"PATCH", "/api/v9/workspaces/{workspace_id}/time_entries/{time_entry_id}/stop", s.stopEntryHTTP},
		{"GET", "/api/v9/workspaces/{workspace_id}/projects", s.getProjects},
		{"GET", "/api/v9/workspaces/{workspace_id}/clients", s.getClients},
		{"GET", "/api/v9/workspaces/{workspace_id}/tags", s.getTags},
		{"GET", "/api/v9/workspaces/{workspace_id}/tasks", s.getTasks},
		{"POST", "/reports/api/v3/workspace/{workspace_id}/search/time_entries", s.searchTimeEntries},
	}
	routes := make([]route, len(table))
	for i, t := range table {
		routes[i] = route{method: t.method, pattern: splitPath(t.path), handler: t.h}
	}
	return routes
}

func splitPath(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

// match reports whether path segments fit the pattern, and the captured values.
func (rt route) match(segs []string) (map[string]string, bool) {
	if len(segs) != len(rt.pattern) {
		return nil, false
	}
	var params map[string]string
	for i, p := range rt.pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[p[1:len(p)-1]] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// route dispatches c to its endpoint. Literal routes are listed before their {id} siblings,
// so the first match wins. HEAD is served as GET.
func (s *Server) route(c *call) reply {
	segs := splitPath(c.r.URL.Path)
	method := c.r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	pathMatched := false
	for _, rt := range s.routes {
		params, ok := rt.match(segs)
		if !ok {
			continue
		}
		pathMatched = true
		if rt.method == method {
			c.params = params
			return rt.handler(c)
		}
	}
	if pathMatched {
		return errorReply(http.StatusMethodNotAllowed, "Method Not Allowed")
	}
	return errorReply(http.StatusNotFound, "Not Found")
}

// idParam parses a numeric path parameter.
func (c *call) idParam(name string) (int64, bool) {
	id, err := strconv.ParseInt(c.params[name], 10, 64)
	return id, err == nil && id > 0
}
