// Package connectortest holds what connector tests share. So far that is the OpenAPI request
// checker, which proves that every request our simulators accept, and every request our
// connectors send, is one the vendor's API would accept: a request the real API would reject
// must fail in our tests too.
//
// LoadSpec loads vendor documents (Toggl Track v9, Toggl Reports v3, Jira platform v3) kept
// unmodified in testdata/openapi, and Spec.Check wraps a handler, typically a simulator served
// by httptest.NewServer:
//
//	spec := connectortest.LoadSpec(t, connectortest.Jira)
//	checked := spec.Check(sim)
//	checked.RequireValid(t) // the connector under test sends only valid requests
//	srv := httptest.NewServer(checked)
//
// Each request is checked (operation, path and query parameters, the form of its credentials,
// its JSON body), then handed to the handler unchanged. Checked records the verdicts with the
// handler's status codes: RequireValid fails a test on any invalid or unknown request,
// RequireSimulatorStrict fails it when the handler answered 2xx to one. Responses are not
// checked; ResponseFields, SchemaFields and MissingFields help test their shape by hand.
//
// The documents are patched in memory where they disagree with the real APIs; overlay.go and
// testdata/openapi/SOURCES.md list each patch with its reason.
//
// The package is for tests only: only _test.go files import it. It imports kin-openapi and
// the standard library, never a concrete connector.
package connectortest
