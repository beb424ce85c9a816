package connectortest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// validationOptions are the openapi3filter options for one document. formats holds the
// document's own string formats (see jiraOverlay); they apply to its validations only, not
// to kin-openapi's process-wide table.
func validationOptions(formats map[string]openapi3.StringFormatValidator) *openapi3filter.Options {
	schemaOpts := []openapi3.SchemaValidationOption{
		// Reasons name the failing field, not the whole schema and value: Jira's schemas run
		// to pages.
		openapi3.DisableSchemaErrorDetails(),
	}
	if formats != nil {
		schemaOpts = append(schemaOpts, openapi3.WithStringFormatValidators(formats))
	}
	return &openapi3filter.Options{
		// Every problem of a request, not only the first.
		MultiError: true,
		// The request is checked as sent: no defaults are written into its query or body.
		SkipSettingDefaults: true,
		// Responses are not validated; see ResponseFields.
		ExcludeResponseBody:     true,
		AuthenticationFunc:      checkCredentialsForm,
		SchemaValidationOptions: schemaOpts,
	}
}

// checkCredentialsForm checks that a request carries credentials of the form the security
// scheme asks for. It never checks the credentials themselves: that is the simulator's job.
func checkCredentialsForm(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r := in.RequestValidationInput.Request
	s := in.SecurityScheme
	switch {
	case s.Type == "http" && strings.EqualFold(s.Scheme, "basic"):
		if err := checkBasic(r.Header.Get("Authorization")); err != nil {
			return fmt.Errorf("%s: %w", in.SecuritySchemeName, err)
		}
		return nil
	case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"), s.Type == "oauth2", s.Type == "openIdConnect":
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return fmt.Errorf("%s: the Authorization header is not \"Bearer <token>\"", in.SecuritySchemeName)
		}
		return nil
	case s.Type == "apiKey":
		if apiKey(r, s.In, s.Name) == "" {
			return fmt.Errorf("%s: no %s %q", in.SecuritySchemeName, s.In, s.Name)
		}
		return nil
	}
	return fmt.Errorf("%s: unsupported security scheme type %q", in.SecuritySchemeName, s.Type)
}

// checkBasic checks that header is "Basic " and the base64 of "user:password" with a
// non-empty user (RFC 7617).
func checkBasic(header string) error {
	if header == "" {
		return errors.New("no Authorization header")
	}
	scheme, token, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return fmt.Errorf("the Authorization scheme is %q, not Basic", scheme)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		return errors.New("the Basic credentials are not base64")
	}
	if user, _, ok := strings.Cut(string(raw), ":"); !ok || user == "" {
		return errors.New("the Basic credentials are not user:password")
	}
	return nil
}

// apiKey returns the API key a request carries in the place an apiKey scheme names.
func apiKey(r *http.Request, in, name string) string {
	switch in {
	case "header":
		return r.Header.Get(name)
	case "query":
		return r.URL.Query().Get(name)
	case "cookie":
		if c, err := r.Cookie(name); err == nil {
			return c.Value
		}
	}
	return ""
}

// jiraDateTimeForm is Jira's yyyy-MM-dd'T'HH:mm:ss.SSSZ: milliseconds, and a numeric offset
// without a colon.
var jiraDateTimeForm = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}$`)

// checkJiraDateTime accepts exactly the form Jira documents, e.g. 2021-01-17T12:34:00.000+0000.
func checkJiraDateTime(v string) error {
	if !jiraDateTimeForm.MatchString(v) {
		return errors.New(`not of Jira's form yyyy-MM-dd'T'HH:mm:ss.SSSZ, e.g. "2021-01-17T12:34:00.000+0000"`)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000-0700", v); err != nil {
		return fmt.Errorf("not a valid time: %w", err)
	}
	return nil
}
