package connectortest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// Finding is one request as the checker saw it.
type Finding struct {
	// Method and Path are the request's; Path includes the query string.
	Method, Path string
	// Route is the path template of the operation the request matched, with the document's
	// base path (e.g. "/api/v9/me/time_entries"); empty when it matched none.
	Route string
	// Status is the status code the handler answered with; 0 if it panicked before writing.
	Status int
	// Reason says why the spec rejects the request; empty when it accepts it.
	Reason string
}

func (f Finding) String() string {
	s := fmt.Sprintf("%s %s -> %d", f.Method, f.Path, f.Status)
	if f.Reason != "" {
		s += ": " + f.Reason
	}
	return s
}

// verdict is what the spec says of a request.
type verdict int

const (
	valid verdict = iota
	invalid
	unknown
)

type record struct {
	Finding
	verdict verdict
}

// Checked is an http.Handler that checks each request against a Spec before passing it on.
// It is safe for concurrent use.
type Checked struct {
	spec *Spec
	next http.Handler

	mu      sync.Mutex
	records []record
}

// Check wraps h: every request is checked against the spec (operation, path and query
// parameters, credentials, JSON body), then passed to h unchanged, body included, whatever
// the verdict. The request, the verdict and h's status code are recorded. Responses are not
// checked.
func (s *Spec) Check(h http.Handler) *Checked {
	return &Checked{spec: s, next: h}
}

// ServeHTTP checks r, records it and passes it on to the wrapped handler.
func (c *Checked) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := record{Finding: Finding{Method: r.Method, Path: r.URL.RequestURI()}}
	body, readErr := readBody(r)
	if readErr != nil {
		rec.verdict, rec.Reason = invalid, "reading the body: "+readErr.Error()
	} else {
		rec.verdict, rec.Route, rec.Reason = c.spec.verdict(r, body)
	}

	sw := &statusWriter{ResponseWriter: w}
	returned := false
	defer func() {
		rec.Status = sw.status
		if rec.Status == 0 && returned {
			rec.Status = http.StatusOK // net/http's answer when a handler writes nothing
		}
		c.mu.Lock()
		c.records = append(c.records, rec)
		c.mu.Unlock()
	}()
	c.next.ServeHTTP(sw, r)
	returned = true
}

// readBody reads r's body and puts an unread copy back. The server closes the original.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, err
}

// verdict checks a request whose body has been read into body. It validates a copy of the
// request, since the validator consumes the body and may rewrite it.
func (s *Spec) verdict(r *http.Request, body []byte) (verdict, string, string) {
	d, route, params := s.route(r)
	if route == nil {
		return unknown, "", s.unknownReason(r)
	}
	template := d.base + route.Path
	req := r.Clone(r.Context())
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body)) // the handler keeps r.Body's copy
	}
	err := openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options:    d.options,
	})
	if err != nil {
		return invalid, template, err.Error()
	}
	return valid, template, ""
}

// statusWriter records the status code a handler answers with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets handlers that stream use http.Flusher.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Count returns how many requests the checker has seen.
func (c *Checked) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.records)
}

// Requests returns every request seen, in order of completion; Reason is empty for valid ones.
func (c *Checked) Requests() []Finding {
	return c.filter(func(record) bool { return true })
}

// Invalid returns the requests that matched an operation and broke its rules, whatever the
// handler answered.
func (c *Checked) Invalid() []Finding {
	return c.filter(func(r record) bool { return r.verdict == invalid })
}

// AcceptedInvalid returns the invalid requests the handler answered with a 2xx status. For a
// simulator each is a bug: the real API would have refused the request.
func (c *Checked) AcceptedInvalid() []Finding {
	return c.filter(func(r record) bool { return r.verdict == invalid && success(r.Status) })
}

// Unknown returns the requests that matched no operation of the spec: an unknown path, or a
// method the path does not have.
func (c *Checked) Unknown() []Finding {
	return c.filter(func(r record) bool { return r.verdict == unknown })
}

// RequireValid makes tb fail when it ends if any request the checker saw was invalid or
// unknown, listing each. Use it where our own client sends the requests.
func (c *Checked) RequireValid(tb testing.TB) {
	tb.Helper()
	tb.Cleanup(func() {
		if bad := c.filter(func(r record) bool { return r.verdict != valid }); len(bad) > 0 {
			tb.Errorf("connectortest: %d of %d requests break the vendor's spec:\n%s", len(bad), c.Count(), list(bad))
		}
	})
}

// RequireSimulatorStrict makes tb fail when it ends if the handler answered 2xx to a request
// the spec rejects: an invalid request, or one matching no operation (the real API answers
// those with an error too). Use it where a test sends bad requests on purpose to a simulator.
func (c *Checked) RequireSimulatorStrict(tb testing.TB) {
	tb.Helper()
	tb.Cleanup(func() {
		if bad := c.filter(func(r record) bool { return r.verdict != valid && success(r.Status) }); len(bad) > 0 {
			tb.Errorf("connectortest: the simulator accepted %d requests the vendor's spec rejects:\n%s", len(bad), list(bad))
		}
	})
}

func (c *Checked) filter(keep func(record) bool) []Finding {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Finding
	for _, r := range c.records {
		if keep(r) {
			out = append(out, r.Finding)
		}
	}
	return out
}

func success(status int) bool { return status >= 200 && status < 300 }

func list(fs []Finding) string {
	lines := make([]string, len(fs))
	for i, f := range fs {
		lines[i] = "\t" + f.String()
	}
	return strings.Join(lines, "\n")
}
