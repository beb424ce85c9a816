package jira

import (
	"time"

	"github.com/sluicehq/sluice/connectors"
)

func init() {
	connectors.Register(Spec)
}

// Spec describes the jira connector.
var Spec = connectors.Spec{
	Name: "jira",
	Doc:  "Jira Cloud worklogs (sink)",
	Connection: []connectors.Field{
		{Name: "email", Type: connectors.String, Required: true, Doc: "the Atlassian account's email"},
		{Name: "api_token", Type: connectors.String, Required: true, Secret: true,
			Doc: "an Atlassian API token of that account; use ${JIRA_API_TOKEN}"},
	},
	Sink: []connectors.Field{
		{Name: "notify_users", Type: connectors.Bool, Default: "false", Doc: "let Jira notify watchers of each worklog"},
		{Name: "adjust_estimate", Type: connectors.String, Default: "auto", Enum: []string{"auto", "leave"},
			Doc: "auto: Jira reduces the remaining estimate; leave: it stays"},
		{Name: "timezone", Type: connectors.String, Default: "UTC", Doc: "the time zone worklog start times are written in"},
	},
	Map: []connectors.Field{
		{Name: "issue", Type: connectors.String, Required: true, Default: "jiraKey(entry.description)",
			Doc: "the issue key; entries without one are skipped"},
		{Name: "started", Type: connectors.Time, Required: true, Default: "entry.start", Doc: "when the work started"},
		{Name: "time_spent_seconds", Type: connectors.Int, Required: true, Default: "entry.duration",
			Doc: "seconds worked; under a minute is logged as one minute"},
		{Name: "comment", Type: connectors.String, Default: "entry.description", Doc: "the worklog's comment"},
	},
	CheckSink: func(v connectors.Values) []connectors.FieldError {
		if _, err := time.LoadLocation(v.String("timezone")); err != nil {
			return []connectors.FieldError{{Field: "timezone", Msg: "unknown time zone " + `"` + v.String("timezone") + `"`}}
		}
		return nil
	},
	NewSink: newSink,
}
