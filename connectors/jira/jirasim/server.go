package jirasim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Clock tells the simulator the time. Fake clocks such as clockwork's satisfy it.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Modes for Options.MinSeconds.
const (
	// MinReject answers 400 to a time spent under 60 seconds.
	MinReject = "reject"
	// MinAccept stores a time spent under 60 seconds as sent.
	MinAccept = "accept"
	// MinRound stores a time spent under 60 seconds as 60 seconds.
	MinRound = "round"
)

// Defaults for zero Options fields.
const (
	DefaultMaxWorklogsPerIssue = 5000
	DefaultBurstRate           = 10
	DefaultBurstSize           = 20
	DefaultIssueWriteRate      = 5
	DefaultIssueWriteBurst     = 10
	DefaultMaxRequestLog       = 10000
)

// Options configure a Server. The zero value is a usable Jira with real time.
type Options struct {
	// Clock is the time source; nil means real time.
	Clock Clock
	// MinSeconds says what happens to a time spent under 60 seconds: MinReject (400, the
	// default), MinAccept or MinRound. Any other value behaves as MinReject; Validate reports it.
	MinSeconds string
	// MaxWorklogsPerIssue is how many worklogs an issue may hold; adding one more answers 413.
	// Default 5000.
	MaxWorklogsPerIssue int
	// BurstRate is the burst limiter's refill in requests a second, per method, route and
	// account. Default 10; a negative value turns the limiter off.
	BurstRate float64
	// BurstSize is the burst limiter's capacity. Default 20.
	BurstSize int
	// IssueWriteRate is the per-issue write limiter's refill in writes a second. Default 5; a
	// negative value turns the limiter off.
	IssueWriteRate float64
	// IssueWriteBurst is the per-issue write limiter's capacity. Default 10.
	IssueWriteBurst int
	// BaseURL, when set, is used in self links instead of the request's scheme and host.
	BaseURL string
	// MaxRequestLog is how many requests Requests keeps (the newest). Default 10000.
	MaxRequestLog int
}

// Validate reports options that New would silently replace.
func (o Options) Validate() error {
	switch o.MinSeconds {
	case "", MinReject, MinAccept, MinRound:
	default:
		return fmt.Errorf("jirasim: min seconds mode %q: want %q, %q or %q", o.MinSeconds, MinReject, MinAccept, MinRound)
	}
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		if err != nil {
			return fmt.Errorf("jirasim: base url: %w", err)
		}
		if u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("jirasim: base url %q: want scheme://host", o.BaseURL)
		}
	}
	return nil
}

func (o Options) withDefaults() Options {
	switch o.MinSeconds {
	case MinAccept, MinRound:
	default:
		o.MinSeconds = MinReject
	}
	if o.MaxWorklogsPerIssue <= 0 {
		o.MaxWorklogsPerIssue = DefaultMaxWorklogsPerIssue
	}
	if o.BurstRate == 0 {
		o.BurstRate = DefaultBurstRate
	}
	if o.BurstSize <= 0 {
		o.BurstSize = DefaultBurstSize
	}
	if o.IssueWriteRate == 0 {
		o.IssueWriteRate = DefaultIssueWriteRate
	}
	if o.IssueWriteBurst <= 0 {
		o.IssueWriteBurst = DefaultIssueWriteBurst
	}
	if o.MaxRequestLog <= 0 {
		o.MaxRequestLog = DefaultMaxRequestLog
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	return o
}

// Server is a Jira Cloud REST v3 worklog simulator. It is an http.Handler and is safe for
// concurrent use: one mutex guards all state, so requests are handled one at a time.
type Server struct {
	mu    sync.Mutex
	opts  Options
	clock Clock
	burst limit
	write limit
	// changesPageSize is the page size of /worklog/updated and /worklog/deleted.
	changesPageSize int

	timeTracking bool
	accounts     map[string]*account // by lower-case email
	accountsByID map[string]*account
	projects     map[string]*project
	issues       map[string]*issue
	issuesByID   map[int64]*issue
	worklogs     map[int64]*worklog
	deleted      []tombstone

	nextProjectID int64
	nextIssueID   int64
	nextWorklogID int64

	burstBuckets map[string]*bucket
	issueBuckets map[int64]*bucket

	faults []fault
	lose   int

	stats Stats
	log   []Request
}

type fault struct {
	n          int
	status     int
	retryAfter time.Duration
}

// New returns a simulator with time tracking on and no accounts, projects or issues.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	clock := opts.Clock
	if clock == nil {
		clock = realClock{}
	}
	return &Server{
		opts:            opts,
		clock:           clock,
		burst:           limit{rate: opts.BurstRate, size: opts.BurstSize},
		write:           limit{rate: opts.IssueWriteRate, size: opts.IssueWriteBurst},
		changesPageSize: 1000,
		timeTracking:    true,
		accounts:        map[string]*account{},
		accountsByID:    map[string]*account{},
		projects:        map[string]*project{},
		issues:          map[string]*issue{},
		issuesByID:      map[int64]*issue{},
		worklogs:        map[int64]*worklog{},
		nextProjectID:   10000,
		nextIssueID:     10000,
		nextWorklogID:   100000, // apart from issue ids, so that mixing them up shows
		burstBuckets:    map[string]*bucket{},
		issueBuckets:    map[int64]*bucket{},
		stats:           newStats(),
	}
}

// FailNext makes the next n requests, of any kind and before authentication, answer status
// without doing anything, with Retry-After in whole seconds (rounded up) when retryAfter > 0.
// Calls queue up: FailNext(2, 503, 0) then FailNext(1, 429, time.Second) fails three requests.
// A status outside 100-599 is answered as 500.
func (s *Server) FailNext(n int, status int, retryAfter time.Duration) {
	if n <= 0 {
		return
	}
	if status < 100 || status > 599 {
		status = http.StatusInternalServerError
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{n: n, status: status, retryAfter: retryAfter})
}

// LoseNextResponse makes the next n successful write requests (those that change state and
// answer 2xx) take effect and then close the connection without a response, like a timeout
// after the commit. Requests that fail (400, 404, 429 ...) do not use it up. Under HTTP/1 the
// connection is hijacked and closed; where that is impossible the handler aborts with
// http.ErrAbortHandler.
func (s *Server) LoseNextResponse(n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose += n
}

// Stats counts the requests the simulator has answered.
type Stats struct {
	// Total counts every request, lost responses included.
	Total int
	// ByRoute counts requests by "METHOD /route/{template}", for example
	// "POST /rest/api/3/issue/{issueIdOrKey}/worklog". Unknown paths count as "METHOD (unknown)".
	ByRoute map[string]int
	// ByStatus counts requests by the status answered (or, for a lost response, the status that
	// would have been).
	ByStatus map[int]int
	// ByRouteStatus counts requests by route, then status.
	ByRouteStatus map[string]map[int]int
	// TooManyRequests counts every 429, injected ones included.
	TooManyRequests int
	// BurstLimited and IssueWriteLimited count the 429s of each limiter.
	BurstLimited      int
	IssueWriteLimited int
	// Injected counts answers made by FailNext.
	Injected int
	// Lost counts responses dropped by LoseNextResponse.
	Lost int
	// Notifications counts successful single-worklog writes that would have emailed watchers
	// (notifyUsers not false).
	Notifications int
}

func newStats() Stats {
	return Stats{ByRoute: map[string]int{}, ByStatus: map[int]int{}, ByRouteStatus: map[string]map[int]int{}}
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.stats
	out.ByRoute = maps.Clone(s.stats.ByRoute)
	out.ByStatus = maps.Clone(s.stats.ByStatus)
	out.ByRouteStatus = make(map[string]map[int]int, len(s.stats.ByRouteStatus))
	for k, v := range s.stats.ByRouteStatus {
		out.ByRouteStatus[k] = maps.Clone(v)
	}
	return out
}

// Request is one entry of the request log.
type Request struct {
	Time   time.Time
	Method string
	Path   string
	// Query is the raw query string.
	Query string
	// Route is "METHOD /route/{template}" as in Stats.ByRoute.
	Route  string
	Status int
	// AccountID is the authenticated account, empty when authentication failed or did not run.
	AccountID string
	// Reason is the RateLimit-Reason of a limiter's 429, "injected" for a FailNext answer.
	Reason string
	// Lost says the response was dropped by LoseNextResponse.
	Lost bool
}

// Requests returns the request log, oldest first (at most Options.MaxRequestLog entries).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log[max(0, len(s.log)-s.opts.MaxRequestLog):])
}

// reply is a response built under the lock and written after it.
type reply struct {
	status int
	header http.Header
	body   []byte
	// reason is a limiter's RateLimit-Reason or "injected".
	reason string
}

// errorCollection is the spec's ErrorCollection.
type errorCollection struct {
	ErrorMessages []string          `json:"errorMessages"`
	Errors        map[string]string `json:"errors"`
	Status        int               `json:"status"`
}

func errorReply(status int, messages []string, fields map[string]string) *reply {
	if messages == nil {
		messages = []string{}
	}
	if fields == nil {
		fields = map[string]string{}
	}
	return jsonReply(status, errorCollection{ErrorMessages: messages, Errors: fields, Status: status})
}

func errorf(status int, format string, args ...any) *reply {
	return errorReply(status, []string{fmt.Sprintf(format, args...)}, nil)
}

// jsonReply encodes v indented, so that the API reads well in a browser.
func jsonReply(status int, v any) *reply {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return &reply{status: http.StatusInternalServerError, header: http.Header{},
			body: []byte(`{"errorMessages":["jirasim: encode response"],"errors":{}}`)}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json;charset=UTF-8")
	return &reply{status: status, header: h, body: buf.Bytes()}
}

func emptyReply(status int) *reply { return &reply{status: status, header: http.Header{}} }

// call is one request on its way through dispatch.
type call struct {
	r      *http.Request
	route  *route
	params map[string]string
	query  url.Values
	body   []byte
	acct   *account
	now    time.Time
	base   string
	// hdr holds quota headers for the response.
	hdr http.Header
}

// maxBody bounds request bodies.
const maxBody = 4 << 20

// ServeHTTP answers one request like Jira Cloud would.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, params, allowed := matchRoute(r.Method, r.URL.EscapedPath())
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	c := &call{r: r, route: rt, params: params, query: r.URL.Query(), body: body, hdr: http.Header{}}

	s.mu.Lock()
	c.now = s.clock.Now()
	c.base = s.baseURL(r)
	var rep *reply
	switch {
	case err != nil:
		rep = errorf(http.StatusBadRequest, "Could not read the request body.")
	case len(body) > maxBody:
		rep = errorf(http.StatusRequestEntityTooLarge, "The request body is too large.")
	default:
		rep = s.dispatch(c, allowed)
	}
	for k, v := range c.hdr {
		if _, ok := rep.header[k]; !ok {
			rep.header[k] = v
		}
	}
	lost := false
	if rt != nil && rt.write && rep.status/100 == 2 && s.lose > 0 {
		s.lose--
		lost = true
	}
	s.record(c, rep, lost)
	s.mu.Unlock()

	if lost {
		abortConnection(w)
		return
	}
	maps.Copy(w.Header(), rep.header)
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body) // the client may have gone; nothing to do about it
}

// abortConnection closes the connection without writing a response.
func abortConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close() // closing is the point; an error changes nothing
		return
	}
	panic(http.ErrAbortHandler)
}

func (s *Server) baseURL(r *http.Request) string {
	if s.opts.BaseURL != "" {
		return s.opts.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// dispatch runs the request through faults, authentication, routing, the burst limiter, the
// time-tracking switch and the content type check, then the route's handler.
func (s *Server) dispatch(c *call, allowed []string) *reply {
	if rep := s.takeFault(); rep != nil {
		return rep
	}
	c.acct = s.authenticate(c.r)
	if c.acct == nil {
		rep := errorf(http.StatusUnauthorized, "Client must be authenticated to access this resource.")
		rep.header.Set("WWW-Authenticate", `Basic realm="jirasim"`)
		return rep
	}
	if c.route == nil {
		if len(allowed) > 0 {
			rep := errorf(http.StatusMethodNotAllowed, "Method %s is not allowed here.", c.r.Method)
			rep.header.Set("Allow", strings.Join(allowed, ", "))
			return rep
		}
		return errorf(http.StatusNotFound, "No resource at %s.", c.r.URL.Path)
	}
	if s.burst.enabled() {
		key := c.r.Method + " " + c.route.pattern + " " + c.acct.id
		b, ok := s.burstBuckets[key]
		if !ok {
			b = newBucket(s.burst, c.now)
			s.burstBuckets[key] = b
		}
		if wait := b.take(s.burst, c.now); wait > 0 {
			return tooManyRequests(c.now, wait, ReasonBurst, s.burst, b)
		}
		setQuotaHeaders(c.hdr, s.burst, b)
	}
	if c.route.worklog && !s.timeTracking {
		return errorf(http.StatusNotFound, "Time tracking is disabled.")
	}
	if c.route.body {
		mt, _, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			return errorf(http.StatusUnsupportedMediaType, "Content-Type must be application/json.")
		}
	}
	return c.route.handle(s, c)
}

func (s *Server) takeFault() *reply {
	if len(s.faults) == 0 {
		return nil
	}
	f := &s.faults[0]
	f.n--
	status, wait := f.status, f.retryAfter
	if f.n == 0 {
		s.faults = s.faults[1:]
	}
	rep := errorf(status, "%s (injected fault).", http.StatusText(status))
	rep.reason = "injected"
	if wait > 0 {
		rep.header.Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	}
	return rep
}

func (s *Server) authenticate(r *http.Request) *account {
	email, token, ok := r.BasicAuth()
	if !ok {
		return nil
	}
	a, ok := s.accounts[strings.ToLower(email)]
	if !ok || subtle.ConstantTimeCompare([]byte(a.token), []byte(token)) != 1 {
		return nil
	}
	return a
}

// limitIssueWrite spends one token of the issue's write limiter; it returns a 429 when empty.
func (s *Server) limitIssueWrite(c *call, iss *issue) *reply {
	if !s.write.enabled() {
		return nil
	}
	b, ok := s.issueBuckets[iss.id]
	if !ok {
		b = newBucket(s.write, c.now)
		s.issueBuckets[iss.id] = b
	}
	if wait := b.take(s.write, c.now); wait > 0 {
		return tooManyRequests(c.now, wait, ReasonPerIssueWrite, s.write, b)
	}
	if b.nearLimit(s.write) {
		c.hdr.Set("X-RateLimit-NearLimit", "true")
	}
	return nil
}

func (s *Server) record(c *call, rep *reply, lost bool) {
	route := c.r.Method + " (unknown)"
	if c.route != nil {
		route = c.r.Method + " " + c.route.pattern
	}
	st := &s.stats
	st.Total++
	st.ByRoute[route]++
	st.ByStatus[rep.status]++
	if st.ByRouteStatus[route] == nil {
		st.ByRouteStatus[route] = map[int]int{}
	}
	st.ByRouteStatus[route][rep.status]++
	if rep.status == http.StatusTooManyRequests {
		st.TooManyRequests++
	}
	switch rep.reason {
	case ReasonBurst:
		st.BurstLimited++
	case ReasonPerIssueWrite:
		st.IssueWriteLimited++
	case "injected":
		st.Injected++
	}
	if lost {
		st.Lost++
	}
	req := Request{
		Time: c.now, Method: c.r.Method, Path: c.r.URL.Path, Query: c.r.URL.RawQuery,
		Route: route, Status: rep.status, Reason: rep.reason, Lost: lost,
	}
	if c.acct != nil {
		req.AccountID = c.acct.id
	}
	s.log = append(s.log, req)
	// Trim in batches so that a long-running server does not shift the log on every request.
	if keep := s.opts.MaxRequestLog; len(s.log) >= 2*keep {
		s.log = slices.Clone(s.log[len(s.log)-keep:])
	}
}
