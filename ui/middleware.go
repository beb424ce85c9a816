package ui

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sluicehq/sluice/engine/audit"
	"github.com/sluicehq/sluice/engine/serve"
)

// contentSecurityPolicy allows only what the pages load from this server: no inline
// script or style, no frames, forms posting only here.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// The CSRF token: a random value made when the server starts, that every form carries in a
// hidden field (or a script in the X-CSRF-Token header). A page of another site cannot read
// it. One token for the process, rather than one per browser in a cookie, so that pages
// loaded at once, or two sluice instances on one host (cookies ignore the port), never
// overwrite each other's.
const (
	csrfField  = "csrf_token"
	csrfHeader = "X-CSRF-Token"
)

// logRequests logs each request at Debug once it is answered. The query string and the
// headers are left out: nothing secret reaches the log.
func (h *handler) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	h.o.Log.LogAttrs(c.Request.Context(), slog.LevelDebug, "http request",
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", c.Writer.Status()),
		slog.Duration("duration", time.Since(start)),
		slog.Int("bytes", max(c.Writer.Size(), 0)))
}

// recovery is gin's recovery with our logger and our error answers: a panic is logged with
// its stack and answered 500.
func (h *handler) recovery() gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, rec any) {
		h.o.Log.Error("panic serving a request", "path", c.Request.URL.Path,
			"error", fmt.Sprint(rec), "stack", string(debug.Stack()))
		if c.Writer.Written() {
			c.Abort()
			return
		}
		h.fail(c, http.StatusInternalServerError, "internal error; the server log has the details")
	})
}

// secureHeaders sets the security headers on every answer, and keeps everything but the
// static files out of caches.
func (h *handler) secureHeaders(c *gin.Context) {
	hd := c.Writer.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	if strings.HasPrefix(c.Request.URL.Path, "/static/") {
		hd.Set("Cache-Control", "no-cache")
	} else {
		hd.Set("Cache-Control", "no-store")
	}
	c.Next()
}

// authenticate requires Options.Token, when set, on every request but /healthz.
func (h *handler) authenticate(c *gin.Context) {
	if h.o.Token == "" || c.Request.URL.Path == "/healthz" || h.authorized(c.Request) {
		c.Next()
		return
	}
	c.Header("WWW-Authenticate", `Basic realm="sluice", charset="UTF-8"`)
	h.fail(c, http.StatusUnauthorized,
		"authentication required: send the token as `Authorization: Bearer <token>` or as the Basic auth password")
}

// authorized reports whether r carries the token, as a bearer token or a Basic password.
// Both sides are hashed first, so the comparison takes the same time whatever the lengths.
func (h *handler) authorized(r *http.Request) bool {
	var given string
	if a := r.Header.Get("Authorization"); len(a) > len("Bearer ") && strings.EqualFold(a[:len("Bearer ")], "Bearer ") {
		given = strings.TrimSpace(a[len("Bearer "):])
	} else if _, pw, ok := r.BasicAuth(); ok {
		given = pw
	} else {
		return false
	}
	g, want := sha256.Sum256([]byte(given)), sha256.Sum256([]byte(h.o.Token))
	return subtle.ConstantTimeCompare(g[:], want[:]) == 1
}

// crossOrigin refuses state-changing requests that a browser sent from another site
// (Sec-Fetch-Site, else Origin against Host). Safe methods and requests from non-browser
// clients pass.
func (h *handler) crossOrigin(c *gin.Context) {
	if err := h.cop.Check(c.Request); err != nil {
		h.fail(c, http.StatusForbidden, "cross-origin request refused: change state only from sluice's own pages or with an API client")
		return
	}
	c.Next()
}

// checkCSRF guards the HTML forms: the form's csrf_token field (or the X-CSRF-Token
// header) must be this server's token.
func (h *handler) checkCSRF(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxFormBytes)
	if err := c.Request.ParseForm(); err != nil {
		h.fail(c, http.StatusBadRequest, "the form could not be read")
		return
	}
	given := c.Request.PostForm.Get(csrfField)
	if given == "" {
		given = c.GetHeader(csrfHeader)
	}
	if subtle.ConstantTimeCompare([]byte(h.csrf), []byte(given)) != 1 {
		h.fail(c, http.StatusForbidden, "the form's security token is missing or out of date: reload the page and try again")
		return
	}
	c.Next()
}

// newCSRFToken makes the process's token: 32 random bytes, base64url.
func newCSRFToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24).
	return base64.RawURLEncoding.EncodeToString(b)
}

// answer is the form of a request's answers, by path.
type answer int

const (
	answerHTML answer = iota
	answerJSON
	answerText
)

func answerFor(c *gin.Context) answer {
	p := c.Request.URL.Path
	switch {
	case strings.HasPrefix(p, "/api/"):
		return answerJSON
	case p == "/metrics" || p == "/healthz" || strings.HasPrefix(p, "/static/"):
		return answerText
	}
	return answerHTML
}

// apiError is every API error's body.
type apiError struct {
	Error string `json:"error"`
}

// fail answers an error in the request's form (a JSON body, an HTML page or plain text)
// and stops the chain.
func (h *handler) fail(c *gin.Context, code int, msg string) {
	switch answerFor(c) {
	case answerJSON:
		c.AbortWithStatusJSON(code, apiError{Error: msg})
	case answerText:
		c.Data(code, "text/plain; charset=utf-8", []byte(msg+"\n"))
		c.Abort()
	default:
		h.renderError(c, code, msg)
	}
}

// backendError maps an error from the Backend to its answer: unknown workflow 404, busy 409,
// invalid audit query 400, anything else 500 (logged, and not shown).
func (h *handler) backendError(c *gin.Context, err error) {
	var qe *audit.QueryError
	switch {
	case errors.Is(err, serve.ErrUnknownWorkflow):
		h.fail(c, http.StatusNotFound, fmt.Sprintf("no workflow is named %q", clip(c.Param("name"))))
	case errors.Is(err, serve.ErrBusy):
		h.fail(c, http.StatusConflict, fmt.Sprintf("workflow %q is already running; try again when it is done", clip(c.Param("name"))))
	case errors.As(err, &qe):
		h.fail(c, http.StatusBadRequest, strings.Join(qe.Problems, "; "))
	case c.Request.Context().Err() != nil && errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		h.fail(c, http.StatusServiceUnavailable, "request cancelled")
	default:
		h.o.Log.Error("backend", "path", c.Request.URL.Path, "error", err)
		h.fail(c, http.StatusInternalServerError, "internal error; the server log has the details")
	}
}

// clip shortens what a request named before it is shown back.
func clip(s string) string {
	if r := []rune(s); len(r) > 80 {
		return string(r[:80]) + "…"
	}
	return s
}

// notFound answers paths no route serves; a page asked with a trailing slash is redirected.
func (h *handler) notFound(c *gin.Context) {
	switch p := c.Request.URL.Path; p {
	case "/workflows/", "/quota/", "/audit/":
		if c.Request.Method == http.MethodGet {
			c.Redirect(http.StatusMovedPermanently, strings.TrimSuffix(p, "/"))
			return
		}
	}
	h.fail(c, http.StatusNotFound, "nothing here: "+clip(c.Request.URL.Path))
}

// methodNotAllowed answers a known path asked with the wrong method; gin sets Allow.
func (h *handler) methodNotAllowed(c *gin.Context) {
	h.fail(c, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed here", clip(c.Request.Method)))
}

// render executes a page into a buffer first, so that a template error is a clean 500
// rather than half a page.
func (h *handler) render(c *gin.Context, code int, name string, data any) {
	var buf bytes.Buffer
	if err := h.pages.ExecuteTemplate(&buf, name, data); err != nil {
		h.o.Log.Error("render page", "page", name, "error", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8",
			[]byte("internal error: the page could not be drawn; the server log has the details\n"))
		c.Abort()
		return
	}
	c.Data(code, "text/html; charset=utf-8", buf.Bytes())
}

// errorPage is the data of error.html.
type errorPage struct {
	base
	Status  int
	Heading string
	Message string
}

func (h *handler) renderError(c *gin.Context, code int, msg string) {
	p := errorPage{base: base{Title: http.StatusText(code), Version: h.version(), Now: h.now()},
		Status: code, Heading: http.StatusText(code), Message: msg}
	h.render(c, code, "error.html", p)
	c.Abort()
}
