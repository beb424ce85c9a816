// Package connectors is the contract between the sluice engine and the services it talks to.
//
// A connector is a package that calls Register from init with a Spec: its name (the `type:` of a
// connection in sluice.yaml), the fields its connection, source and sink take, the sink's map
// fields with their types and default expressions, and constructors. The engine validates
// configuration against the Spec, builds one HTTP client per connection (quota, backoff and
// auditing applied) and hands it to the constructors through Deps.
//
// This package imports only the standard library. The engine imports it and never a concrete
// connector; only connectors/all and cmd/sluice name concrete connectors.
package connectors
