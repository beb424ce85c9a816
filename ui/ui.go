package ui

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sluicehq/sluice/engine/audit"
	"github.com/sluicehq/sluice/engine/serve"
)

//go:embed templates static
var files embed.FS

// Backend is what the UI shows and acts on; engine/serve's *Server implements it. Its
// methods are called concurrently, one goroutine per request, with the request's context:
// they must return when it ends.
type Backend interface {
	// Workflows returns every workflow's state, in name order.
	Workflows(ctx context.Context) ([]serve.WorkflowState, error)
	// Workflow returns a workflow with its latest runs (at most limit); an unknown name is
	// an error that wraps serve.ErrUnknownWorkflow.
	Workflow(ctx context.Context, name string, limit int) (serve.WorkflowDetail, error)
	// SetEnabled turns a workflow on or off.
	SetEnabled(ctx context.Context, name string, on bool) error
	// RunNow starts a run in the background; serve.ErrBusy when one is running already.
	RunNow(ctx context.Context, name string) error
	// Quota returns the quota page's report.
	Quota(ctx context.Context) (serve.QuotaReport, error)
	// Audit builds a report; an invalid query is an *audit.QueryError.
	Audit(ctx context.Context, q audit.Query) (audit.Report, error)
	// WriteMetrics writes the metrics in Prometheus' text format.
	WriteMetrics(ctx context.Context, w io.Writer) error
	// Ready reports whether the backend can answer.
	Ready(ctx context.Context) error
}

// The server that `sluice serve` runs is the Backend.
var _ Backend = (*serve.Server)(nil)

// Options configure the handler New returns.
type Options struct {
	// Token, when set, is required on every request except /healthz: as
	// `Authorization: Bearer <token>`, or as the password of HTTP Basic auth (any user
	// name) so that a browser can log in. It is compared in constant time.
	Token string
	// Log receives one Debug line per request and the errors the backend returned; nothing
	// is logged when nil.
	Log *slog.Logger
	// Version is shown in every page's header.
	Version string
	// Clock gives the time for "resets in" and "next run in"; time.Now when nil.
	Clock func() time.Time
}

// Limits on what a request may ask for.
const (
	defaultRuns = 20
	maxRuns     = 500
	// maxFormBytes bounds a form's body; ours carry two short fields.
	maxFormBytes = 64 << 10
	// maxAuditRows is how many rows the audit page shows; the downloads have them all.
	maxAuditRows = 2000
)

// handler holds what the routes share.
type handler struct {
	b     Backend
	o     Options
	pages *template.Template
	cop   *http.CrossOriginProtection
	// csrf is the token every form carries.
	csrf string
}

// New builds the UI and API handler. It parses the embedded templates once and fails when
// one is broken. The caller picks gin's mode (gin.SetMode(gin.ReleaseMode) in production);
// New changes no global state.
func New(b Backend, o Options) (http.Handler, error) {
	if b == nil {
		return nil, errors.New("ui: no backend")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	pages, err := parseTemplates(files)
	if err != nil {
		return nil, err
	}
	h := &handler{b: b, o: o, pages: pages, cop: http.NewCrossOriginProtection(), csrf: newCSRFToken()}

	r := gin.New()
	// Every answer goes through the middleware below: no redirect is made before it runs.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	// Match on the escaped path so that a name holding %2F stays one path segment.
	r.UseRawPath = true
	r.UnescapePathValues = true
	if err := r.SetTrustedProxies(nil); err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	r.SetHTMLTemplate(pages)
	r.Use(h.logRequests, h.recovery(), h.secureHeaders, h.authenticate, h.crossOrigin)
	r.NoRoute(h.notFound)
	r.NoMethod(h.methodNotAllowed)

	r.GET("/healthz", h.healthz)
	r.HEAD("/healthz", h.healthz)
	r.GET("/metrics", h.metrics)
	if err := h.static(r); err != nil {
		return nil, err
	}

	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/workflows") })
	r.GET("/workflows", h.workflowsPage)
	r.GET("/workflows/:name", h.workflowPage)
	r.POST("/workflows/:name/enable", h.checkCSRF, h.formSetEnabled(true))
	r.POST("/workflows/:name/disable", h.checkCSRF, h.formSetEnabled(false))
	r.POST("/workflows/:name/run", h.checkCSRF, h.formRunNow)
	r.GET("/quota", h.quotaPage)
	r.GET("/audit", h.auditPage)
	r.GET("/audit.csv", h.auditDownload("csv"))
	r.GET("/audit.json", h.auditDownload("json"))

	api := r.Group("/api/v1")
	api.GET("/workflows", h.apiWorkflows)
	api.GET("/workflows/:name", h.apiWorkflow)
	api.POST("/workflows/:name/enable", h.apiSetEnabled(true))
	api.POST("/workflows/:name/disable", h.apiSetEnabled(false))
	api.POST("/workflows/:name/run", h.apiRunNow)
	api.GET("/quota", h.apiQuota)
	api.GET("/audit", h.apiAudit)
	return r, nil
}

// static serves each embedded static file at /static/<name>; directories are not listed.
func (h *handler) static(r *gin.Engine) error {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		return fmt.Errorf("ui: static files: %w", err)
	}
	return fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		r.StaticFileFS("/static/"+p, p, http.FS(sub))
		return nil
	})
}

// now is the time by the injected clock.
func (h *handler) now() time.Time { return h.o.Clock() }

// healthz answers 200 "ok" when the backend is ready and 503 otherwise; it needs no token.
func (h *handler) healthz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
	defer cancel()
	if err := h.b.Ready(ctx); err != nil {
		h.o.Log.Warn("not ready", "error", err)
		c.Data(http.StatusServiceUnavailable, "text/plain; charset=utf-8", []byte("unavailable\n"))
		return
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte("ok\n"))
}

// metrics passes the backend's Prometheus text through.
func (h *handler) metrics(c *gin.Context) {
	var buf bytes.Buffer
	if err := h.b.WriteMetrics(c.Request.Context(), &buf); err != nil {
		h.backendError(c, err)
		return
	}
	c.Data(http.StatusOK, "text/plain; version=0.0.4; charset=utf-8", buf.Bytes())
}
