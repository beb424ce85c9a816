// Package all registers every connector. Import it for its side effect, from cmd/sluice and
// from tests that load real configurations.
package all

import (
	_ "github.com/sluicehq/sluice/connectors/jira"  // jira: worklogs sink
	_ "github.com/sluicehq/sluice/connectors/toggl" // toggl: time entries source
)
