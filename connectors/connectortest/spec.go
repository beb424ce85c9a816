package connectortest

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Names of the vendor documents in testdata/openapi, for LoadSpec.
const (
	// TogglTrack is Toggl Track API v9 (Swagger 2.0); its paths start with /api/v9.
	TogglTrack = "toggl-track-v9.swagger.json"
	// TogglReports is Toggl Reports API v3 (Swagger 2.0); its paths start with /reports/api/v3
	// (and a few with /insights/api/v1).
	TogglReports = "toggl-reports-v3.swagger.json"
	// Jira is the Jira Cloud platform REST API v3 (OpenAPI 3.0.1); its paths start with /rest/api/3.
	Jira = "jira-platform-v3.json"
)

// The documents are embedded so that tests of any package find them, whatever their working
// directory. They are the vendors' files, byte for byte; see testdata/openapi/SOURCES.md.
//
//go:embed testdata/openapi/*.json
var documents embed.FS

// Spec checks requests against one or more vendor documents. It is read-only after LoadSpec
// and safe for concurrent use.
type Spec struct {
	docs []*document
}

// document is one loaded vendor document with its overlay applied.
type document struct {
	name string
	doc  *openapi3.T
	// base is prefixed to every path of the document: the path of its only server.
	base string
	// routes has one router per HTTP method (see newRoutes).
	routes map[string]routers.Router
	// options are the validation options, shared by every request checked against doc.
	options *openapi3filter.Options
}

var (
	cacheMu sync.Mutex
	cache   = map[string]func() (*document, error){}
)

// LoadSpec returns a Spec for the named documents (TogglTrack, TogglReports, Jira). Several
// names give one Spec that routes each request to the first document having an operation
// for it, as one simulator serving Toggl Track and Reports needs.
//
// Each document is read from the embedded testdata/openapi, converted to OpenAPI 3 when it
// is Swagger 2.0, patched by its overlay (overlay.go) and served at any host: Toggl Track
// under /api/v9, Reports and Jira at the root, their paths already carrying /reports/api/v3
// and /rest/api/3. A document is loaded once per process, however many tests ask for it and
// in parallel; LoadSpec fails tb if a name is unknown or a document cannot be loaded.
func LoadSpec(tb testing.TB, names ...string) *Spec {
	tb.Helper()
	if len(names) == 0 {
		tb.Fatal("connectortest: LoadSpec needs at least one document name")
	}
	s := &Spec{}
	for _, name := range names {
		d, err := cachedDocument(name)
		if err != nil {
			tb.Fatalf("connectortest: load %s: %v", name, err)
		}
		s.docs = append(s.docs, d)
	}
	return s
}

// cachedDocument loads name on the first call and returns the same document (or error) after.
func cachedDocument(name string) (*document, error) {
	cacheMu.Lock()
	load, ok := cache[name]
	if !ok {
		load = sync.OnceValues(func() (*document, error) { return loadDocument(name) })
		cache[name] = load
	}
	cacheMu.Unlock()
	return load()
}

// loadDocument parses, converts and patches one document and builds its routers.
func loadDocument(name string) (*document, error) {
	data, err := documents.ReadFile("testdata/openapi/" + name)
	if err != nil {
		return nil, fmt.Errorf("unknown document (want %s, %s or %s): %w", TogglTrack, TogglReports, Jira, err)
	}
	d := &document{name: name}
	switch name {
	case TogglTrack, TogglReports:
		var v2 openapi2.T
		if err := json.Unmarshal(data, &v2); err != nil {
			return nil, fmt.Errorf("parse swagger 2.0: %w", err)
		}
		if name == TogglReports {
			if err := reportsOverlayV2(&v2); err != nil {
				return nil, fmt.Errorf("overlay: %w", err)
			}
		}
		if d.doc, err = openapi2conv.ToV3(&v2); err != nil {
			return nil, fmt.Errorf("convert to openapi 3: %w", err)
		}
	default:
		if d.doc, err = openapi3.NewLoader().LoadFromData(data); err != nil {
			return nil, fmt.Errorf("parse openapi 3: %w", err)
		}
	}
	// Serve the paths at any host. Toggl Track's server is https://localhost:8080/api/v9 and
	// Jira's https://your-domain.atlassian.net; only Track's path part is kept. Reports has none.
	if name == TogglTrack {
		d.base = "/api/v9"
	}
	d.doc.Servers = nil
	if d.base != "" {
		d.doc.Servers = openapi3.Servers{{URL: d.base}}
	}

	var formats map[string]openapi3.StringFormatValidator
	switch name {
	case TogglTrack:
		err = togglTrackOverlay(d.doc)
	case TogglReports:
		err = reportsOverlay(d.doc)
	case Jira:
		formats, err = jiraOverlay(d.doc)
	}
	if err != nil {
		return nil, fmt.Errorf("overlay: %w", err)
	}
	d.options = validationOptions(formats)
	if d.routes, err = newRoutes(d.doc); err != nil {
		return nil, fmt.Errorf("build router: %w", err)
	}
	return d, nil
}

// newRoutes builds one gorillamux router per HTTP method, each over the paths that have an
// operation for that method. A single router takes the first path template that matches and
// gives up if it lacks the method, but Toggl Track has templates that differ only in a
// variable's name and split the methods between them: PUT .../time_entries/{time_entry_id}
// and PATCH .../time_entries/{time_entry_ids}. No document has two such templates sharing a
// method.
func newRoutes(doc *openapi3.T) (map[string]routers.Router, error) {
	byMethod := map[string]*openapi3.Paths{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if byMethod[method] == nil {
				byMethod[method] = openapi3.NewPaths()
			}
			byMethod[method].Set(path, item)
		}
	}
	routes := make(map[string]routers.Router, len(byMethod))
	for method, paths := range byMethod {
		r, err := gorillamux.NewRouter(&openapi3.T{OpenAPI: doc.OpenAPI, Servers: doc.Servers, Paths: paths})
		if err != nil {
			return nil, fmt.Errorf("%s routes: %w", method, err)
		}
		routes[method] = r
	}
	return routes, nil
}

// route finds the operation of s that r asks for. The route's Spec is the full document.
func (s *Spec) route(r *http.Request) (*document, *routers.Route, map[string]string) {
	for _, d := range s.docs {
		router := d.routes[r.Method]
		if router == nil {
			continue
		}
		route, params, err := router.FindRoute(r)
		if err != nil {
			continue
		}
		route.Spec = d.doc
		return d, route, params
	}
	return nil, nil, nil
}

// unknownReason says why no operation matched r: the path is unknown, or it is known only
// with other methods.
func (s *Spec) unknownReason(r *http.Request) string {
	var allowed, names []string
	for _, d := range s.docs {
		names = append(names, d.name)
		for method, router := range d.routes {
			if method == r.Method {
				continue
			}
			probe := r.Clone(r.Context())
			probe.Method = method
			if _, _, err := router.FindRoute(probe); err == nil {
				allowed = append(allowed, method)
			}
		}
	}
	if len(allowed) > 0 {
		slices.Sort(allowed)
		return fmt.Sprintf("method %s not allowed here; the spec has %s", r.Method, strings.Join(allowed, ", "))
	}
	return "no operation in " + strings.Join(names, ", ") + " matches this path"
}
