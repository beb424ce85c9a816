package ui

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sluicehq/sluice/engine/httpx"
	"github.com/sluicehq/sluice/engine/serve"
	"github.com/sluicehq/sluice/engine/store"
)

// The API's bodies. Keys are snake_case, times RFC 3339 in UTC (null when there is none),
// durations in seconds. API.md documents them; change both together.
type (
	apiWorkflow struct {
		Name              string     `json:"name"`
		Description       string     `json:"description"`
		File              string     `json:"file"`
		Source            string     `json:"source"`
		Sink              string     `json:"sink"`
		Schedule          string     `json:"schedule"`
		EffectiveSchedule string     `json:"effective_schedule"`
		PlanWarning       string     `json:"plan_warning"`
		Priority          string     `json:"priority"`
		Enabled           bool       `json:"enabled"`
		EnabledInFile     bool       `json:"enabled_in_file"`
		Running           bool       `json:"running"`
		NextRun           *time.Time `json:"next_run"`
		LastRun           *apiRun    `json:"last_run"`
		Calls24h          int        `json:"calls_24h"`
		CacheHits24h      int        `json:"cache_hits_24h"`
		ReloadError       string     `json:"reload_error"`
	}
	apiWorkflowDetail struct {
		apiWorkflow
		YAML string         `json:"yaml"`
		Runs []apiRunDetail `json:"runs"`
	}
	apiRun struct {
		ID              int64      `json:"id"`
		Workflow        string     `json:"workflow"`
		Trigger         string     `json:"trigger"`
		Status          string     `json:"status"`
		StartedAt       *time.Time `json:"started_at"`
		FinishedAt      *time.Time `json:"finished_at"`
		DurationSeconds *float64   `json:"duration_seconds"`
		Read            int        `json:"read"`
		Created         int        `json:"created"`
		Updated         int        `json:"updated"`
		Deleted         int        `json:"deleted"`
		Skipped         int        `json:"skipped"`
		Failed          int        `json:"failed"`
		APICalls        int        `json:"api_calls"`
		Error           string     `json:"error"`
	}
	apiRunDetail struct {
		apiRun
		Failures []apiFailure `json:"failures"`
	}
	apiFailure struct {
		Key   string `json:"key"`
		Title string `json:"title"`
		Op    string `json:"op"`
		Error string `json:"error"`
	}
	apiSwitched struct {
		Name    string `json:"name"`
		Enabled bool   `json:"enabled"`
	}
	apiStarted struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	}
	apiQuota struct {
		Now           time.Time     `json:"now"`
		ConfigError   string        `json:"config_error"`
		Buckets       []apiBucket   `json:"buckets"`
		ExternalUsage []apiExternal `json:"external_usage"`
	}
	apiBucket struct {
		Connection      string       `json:"connection"`
		Bucket          string       `json:"bucket"`
		Known           bool         `json:"known"`
		Total           int          `json:"total"`
		Used            int          `json:"used"`
		Remaining       int          `json:"remaining"`
		Reserve         int          `json:"reserve"`
		ResetsInSeconds *float64     `json:"resets_in_seconds"`
		ResetsAt        *time.Time   `json:"resets_at"`
		Level           string       `json:"level"`
		Advice          string       `json:"advice"`
		Hourly          []int        `json:"hourly"`
		ExternalCalls   int          `json:"external_calls"`
		Spenders        []apiSpender `json:"spenders"`
		Health          apiHealth    `json:"health"`
	}
	apiSpender struct {
		Workflow  string `json:"workflow"`
		Calls     int    `json:"calls"`
		CacheHits int    `json:"cache_hits"`
	}
	apiHealth struct {
		Failures         int        `json:"failures"`
		CircuitOpenUntil *time.Time `json:"circuit_open_until"`
		BadCredentials   bool       `json:"bad_credentials"`
		RefusedAt        *time.Time `json:"refused_at"`
		RefusedStatus    int        `json:"refused_status"`
	}
	apiExternal struct {
		Connection     string     `json:"connection"`
		Bucket         string     `json:"bucket"`
		At             time.Time  `json:"at"`
		Calls          int        `json:"calls"`
		WindowResetsAt *time.Time `json:"window_resets_at"`
	}
)

// optTime is t in UTC, or nil when it is zero.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func seconds(d time.Duration) float64 { return d.Seconds() }

func toAPIWorkflow(s serve.WorkflowState) apiWorkflow {
	w := apiWorkflow{Name: s.Name, Description: s.Description, File: s.File, Source: s.Source, Sink: s.Sink,
		Schedule: s.Wished, EffectiveSchedule: s.Effective, PlanWarning: s.PlanWarning, Priority: s.Priority,
		Enabled: s.Enabled, EnabledInFile: s.EnabledInFile, Running: s.Running, NextRun: optTime(s.NextRun),
		Calls24h: s.Calls24h, CacheHits24h: s.CacheHits24h, ReloadError: s.ReloadError}
	if s.LastRun != nil {
		r := toAPIRun(*s.LastRun)
		w.LastRun = &r
	}
	return w
}

func toAPIRun(r store.Run) apiRun {
	out := apiRun{ID: r.ID, Workflow: r.Workflow, Trigger: r.Trigger, Status: string(r.Status),
		StartedAt: optTime(r.StartedAt), FinishedAt: optTime(r.FinishedAt),
		Read: r.Read, Created: r.Created, Updated: r.Updated, Deleted: r.Deleted, Skipped: r.Skipped,
		Failed: r.Failed, APICalls: r.Calls, Error: r.Error}
	if !r.StartedAt.IsZero() && !r.FinishedAt.IsZero() {
		s := seconds(r.FinishedAt.Sub(r.StartedAt))
		out.DurationSeconds = &s
	}
	return out
}

func (h *handler) apiWorkflows(c *gin.Context) {
	ws, err := h.b.Workflows(c.Request.Context())
	if err != nil {
		h.backendError(c, err)
		return
	}
	out := make([]apiWorkflow, 0, len(ws))
	for _, w := range ws {
		out = append(out, toAPIWorkflow(w))
	}
	c.JSON(http.StatusOK, out)
}

func (h *handler) apiWorkflow(c *gin.Context) {
	d, _, ok := h.workflowDetail(c)
	if !ok {
		return
	}
	out := apiWorkflowDetail{apiWorkflow: toAPIWorkflow(d.WorkflowState), YAML: d.YAML, Runs: make([]apiRunDetail, 0, len(d.Runs))}
	for _, r := range d.Runs {
		rd := apiRunDetail{apiRun: toAPIRun(r.Run), Failures: make([]apiFailure, 0, len(r.Failures))}
		for _, f := range r.Failures {
			rd.Failures = append(rd.Failures, apiFailure{Key: f.Key, Title: f.Title, Op: string(f.Op), Error: f.Error})
		}
		out.Runs = append(out.Runs, rd)
	}
	c.JSON(http.StatusOK, out)
}

func (h *handler) apiSetEnabled(on bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		name := c.Param("name")
		if err := h.b.SetEnabled(c.Request.Context(), name, on); err != nil {
			h.backendError(c, err)
			return
		}
		c.JSON(http.StatusOK, apiSwitched{Name: name, Enabled: on})
	}
}

func (h *handler) apiRunNow(c *gin.Context) {
	name := c.Param("name")
	if err := h.b.RunNow(c.Request.Context(), name); err != nil {
		h.backendError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, apiStarted{Name: name, Status: "started"})
}

func (h *handler) apiQuota(c *gin.Context) {
	rep, err := h.b.Quota(c.Request.Context())
	if err != nil {
		h.backendError(c, err)
		return
	}
	now := rep.Now
	if now.IsZero() {
		now = h.now()
	}
	out := apiQuota{Now: now.UTC(), ConfigError: rep.ConfigError,
		Buckets: make([]apiBucket, 0, len(rep.Buckets)), ExternalUsage: make([]apiExternal, 0, len(rep.External))}
	for _, b := range rep.Buckets {
		ab := apiBucket{Connection: b.Connection, Bucket: b.Bucket, Known: b.Known, Total: b.Total, Used: b.Used,
			Remaining: b.Remaining, Reserve: b.Reserve, Level: b.Level, Advice: b.Advice,
			Hourly: append(make([]int, 0, len(b.Hourly)), b.Hourly...), ExternalCalls: b.External,
			Spenders: make([]apiSpender, 0, len(b.Spenders)), Health: toAPIHealth(b.Health)}
		if b.Known {
			s := seconds(max(b.ResetsIn, 0))
			ab.ResetsInSeconds, ab.ResetsAt = &s, optTime(now.Add(b.ResetsIn))
		}
		for _, sp := range b.Spenders {
			ab.Spenders = append(ab.Spenders, apiSpender{Workflow: sp.Workflow, Calls: sp.Calls, CacheHits: sp.CacheHits})
		}
		out.Buckets = append(out.Buckets, ab)
	}
	for _, e := range rep.External {
		out.ExternalUsage = append(out.ExternalUsage, apiExternal{Connection: e.Connection, Bucket: e.Bucket,
			At: e.At.UTC(), Calls: e.Calls, WindowResetsAt: optTime(e.WindowResetsAt)})
	}
	c.JSON(http.StatusOK, out)
}

func toAPIHealth(h httpx.HealthState) apiHealth {
	return apiHealth{Failures: h.Failures, CircuitOpenUntil: optTime(h.OpenUntil), BadCredentials: h.BadCredentials,
		RefusedAt: optTime(h.RefusedAt), RefusedStatus: h.RefusedStatus}
}

// apiAudit answers the audit report: JSON by default, or the CSV file with format=csv.
func (h *handler) apiAudit(c *gin.Context) {
	format := c.DefaultQuery("format", "json")
	if format != "json" && format != "csv" {
		h.fail(c, http.StatusBadRequest, "format "+strconv.Quote(clip(format))+": use json or csv")
		return
	}
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
	if format == "csv" {
		h.sendReport(c, rep, "csv")
		return
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		h.backendError(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", buf.Bytes())
}
