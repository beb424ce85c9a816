// Package workflows holds sluice's example workflows. They are documentation, the demo's
// workflows (embedded in the binary), and test fixtures; testdata/ holds broken ones with
// the diagnostics `sluice validate` must print for them.
package workflows

import "embed"

// Examples are the example workflow files.
//
//go:embed *.yaml
var Examples embed.FS
