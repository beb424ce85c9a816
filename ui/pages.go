package ui

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sluicehq/sluice/engine/audit"
	"github.com/sluicehq/sluice/engine/httpx"
	"github.com/sluicehq/sluice/engine/quota"
	"github.com/sluicehq/sluice/engine/serve"
)

// refreshEvery is how often a page reloads itself while a run is in progress, in seconds.
const refreshEvery = 5

// base is what every page's layout shows.
type base struct {
	Title, Nav, Version string
	// CSRF is the token the page's forms repeat.
	CSRF string
	Now  time.Time
	// Refresh, when positive, has the page reload itself after that many seconds.
	Refresh int
}

func (h *handler) version() string {
	if h.o.Version == "" {
		return "dev"
	}
	return h.o.Version
}

// base starts a page's data, with the CSRF token its forms carry.
func (h *handler) base(c *gin.Context, nav, title string) base {
	return base{Title: title, Nav: nav, Version: h.version(), CSRF: h.csrf, Now: h.now()}
}

// workflowsPage is the data of workflows.html.
type workflowsPage struct {
	base
	Workflows []serve.WorkflowState
	// Invalid counts the workflows whose file failed to reload.
	Invalid int
}

func (h *handler) workflowsPage(c *gin.Context) {
	ws, err := h.b.Workflows(c.Request.Context())
	if err != nil {
		h.backendError(c, err)
		return
	}
	p := workflowsPage{base: h.base(c, "workflows", "Workflows"), Workflows: ws}
	for _, w := range ws {
		if w.Running {
			p.Refresh = refreshEvery
		}
		if w.ReloadError != "" {
			p.Invalid++
		}
	}
	h.render(c, http.StatusOK, "workflows.html", p)
}

// workflowPage is the data of workflow.html.
type workflowPage struct {
	base
	W serve.WorkflowDetail
	// More links to a longer history when the page may not show every run.
	More bool
}

// workflowDetail reads the ?runs= limit and asks the backend for the workflow :name,
// answering the request itself (4xx or 5xx) when either fails.
func (h *handler) workflowDetail(c *gin.Context) (serve.WorkflowDetail, int, bool) {
	limit, err := parseRuns(c.Query("runs"))
	if err != nil {
		h.fail(c, http.StatusBadRequest, err.Error())
		return serve.WorkflowDetail{}, 0, false
	}
	d, err := h.b.Workflow(c.Request.Context(), c.Param("name"), limit)
	if err != nil {
		h.backendError(c, err)
		return serve.WorkflowDetail{}, 0, false
	}
	return d, limit, true
}

func (h *handler) workflowPage(c *gin.Context) {
	d, limit, ok := h.workflowDetail(c)
	if !ok {
		return
	}
	p := workflowPage{base: h.base(c, "workflows", d.Name), W: d, More: len(d.Runs) >= limit && limit < 100}
	if d.Running {
		p.Refresh = refreshEvery
	}
	h.render(c, http.StatusOK, "workflow.html", p)
}

// formSetEnabled answers the toggle form.
func (h *handler) formSetEnabled(on bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h.b.SetEnabled(c.Request.Context(), c.Param("name"), on); err != nil {
			h.backendError(c, err)
			return
		}
		h.redirectBack(c)
	}
}

// formRunNow answers the run-now form.
func (h *handler) formRunNow(c *gin.Context) {
	if err := h.b.RunNow(c.Request.Context(), c.Param("name")); err != nil {
		h.backendError(c, err)
		return
	}
	h.redirectBack(c)
}

// redirectBack sends the browser back where the form was (303 See Other): the workflow's
// page when the form says so, else the list. No other target is followed.
func (h *handler) redirectBack(c *gin.Context) {
	target := "/workflows"
	if rt, own := c.Request.PostForm.Get("return_to"), detailPath(c.Param("name")); rt == own {
		target = own
	}
	c.Redirect(http.StatusSeeOther, target)
}

// quotaPage is the data of quota.html.
type quotaPage struct {
	base
	Report         serve.QuotaReport
	Connections    []connectionView
	ExternalAdvice string
}

// connectionView is one connection's buckets and health.
type connectionView struct {
	Name   string
	Health httpx.HealthState
	// State is ok, bad-credentials, circuit-open or failing.
	State   string
	Buckets []bucketView
}

type bucketView struct {
	serve.BucketReport
	Meter meterView
	Chart chartView
}

func (h *handler) quotaPage(c *gin.Context) {
	rep, err := h.b.Quota(c.Request.Context())
	if err != nil {
		h.backendError(c, err)
		return
	}
	p := quotaPage{base: h.base(c, "quota", "Quota"), ExternalAdvice: quota.ExternalAdvice}
	if rep.Now.IsZero() {
		rep.Now = p.Now
	}
	p.Report = rep
	p.Connections = connections(rep)
	h.render(c, http.StatusOK, "quota.html", p)
}

// connections groups the buckets by connection, in the report's order.
func connections(rep serve.QuotaReport) []connectionView {
	var out []connectionView
	for _, b := range rep.Buckets {
		i := slices.IndexFunc(out, func(cv connectionView) bool { return cv.Name == b.Connection })
		if i < 0 {
			out = append(out, connectionView{Name: b.Connection, Health: b.Health, State: healthState(b.Health)})
			i = len(out) - 1
		}
		out[i].Buckets = append(out[i].Buckets, bucketView{BucketReport: b,
			Meter: newMeter(b.Used, b.Reserve, b.Total), Chart: newChart(b.Hourly, rep.Now, b.Total)})
	}
	return out
}

func healthState(h httpx.HealthState) string {
	switch {
	case h.BadCredentials:
		return "bad-credentials"
	case !h.OpenUntil.IsZero():
		return "circuit-open"
	case h.Failures > 0:
		return "failing"
	}
	return "ok"
}

// auditPage is the data of audit.html.
type auditPage struct {
	base
	Form      auditParams
	Workflows []string
	// Since lists the window choices; a custom since is added.
	Since []string
	// Error is why the query was refused.
	Error  string
	Report *audit.Report
	// Rows are the rows shown: at most maxAuditRows.
	Rows            []audit.Row
	CSVURL, JSONURL string
}

func (h *handler) auditPage(c *gin.Context) {
	ws, err := h.b.Workflows(c.Request.Context())
	if err != nil {
		h.backendError(c, err)
		return
	}
	params := auditParamsOf(c.Request.URL.Query())
	p := auditPage{base: h.base(c, "audit", "Audit"), Form: params, Since: []string{"1h", "24h", "7d", "30d"}}
	if p.Form.Since == "" && p.Form.From == "" && p.Form.To == "" {
		p.Form.Since = defaultSince
	}
	if _, err := parseSince(p.Form.Since); err == nil && !slices.Contains(p.Since, p.Form.Since) {
		p.Since = append(p.Since, p.Form.Since)
	}
	for _, w := range ws {
		p.Workflows = append(p.Workflows, w.Name)
	}
	if p.Form.Workflow != "" && !slices.Contains(p.Workflows, p.Form.Workflow) {
		p.Workflows = append(p.Workflows, p.Form.Workflow)
	}
	q, err := params.query(p.Now)
	if err == nil {
		var rep audit.Report
		rep, err = h.b.Audit(c.Request.Context(), q)
		if err == nil {
			p.Report = &rep
			p.Rows = rep.Rows[:min(len(rep.Rows), maxAuditRows)]
			v := queryValues(rep.Query).Encode()
			p.CSVURL, p.JSONURL = "/audit.csv?"+v, "/audit.json?"+v
			h.render(c, http.StatusOK, "audit.html", p)
			return
		}
	}
	var ie *inputError
	var qe *audit.QueryError
	switch {
	case errors.As(err, &ie):
		p.Error = ie.msg
	case errors.As(err, &qe):
		p.Error = strings.Join(qe.Problems, "; ")
	default:
		h.backendError(c, err)
		return
	}
	h.render(c, http.StatusBadRequest, "audit.html", p)
}

// auditDownload serves a report as a file, in the form of `sluice audit --format csv|json`.
func (h *handler) auditDownload(format string) gin.HandlerFunc {
	return func(c *gin.Context) {
		q, err := auditParamsOf(c.Request.URL.Query()).query(h.now())
		if err != nil {
			h.fail(c, http.StatusBadRequest, err.Error())
			return
		}
		rep, err := h.b.Audit(c.Request.Context(), q)
		if err != nil {
			h.backendError(c, err)
			return
		}
		h.sendReport(c, rep, format)
	}
}

// sendReport writes a report as a CSV or JSON attachment.
func (h *handler) sendReport(c *gin.Context, rep audit.Report, format string) {
	var buf bytes.Buffer
	write, ctype := rep.WriteJSON, "application/json; charset=utf-8"
	if format == "csv" {
		write, ctype = rep.WriteCSV, "text/csv; charset=utf-8"
	}
	if err := write(&buf); err != nil {
		h.backendError(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="`+downloadName(rep.Query, format)+`"`)
	c.Data(http.StatusOK, ctype, buf.Bytes())
}
