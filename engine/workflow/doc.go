// Package workflow loads sluice's configuration: sluice.yaml (store, connections, where the
// workflows live) and each workflow file (source -> filter -> map -> sink).
//
// Files are decoded from yaml.Node trees so that every problem carries its file, line and
// column, and all problems of a load are reported together as Diagnostics. Expressions are
// compiled here, once, against a typed environment (see Env and the helper functions in
// funcs.go), so a typo fails `sluice validate` instead of a run. Connector fields are checked
// against the connectors' Specs.
//
// The package imports the connector contract, expr and the YAML decoder; it never imports a
// concrete connector, the store or the runner.
package workflow
