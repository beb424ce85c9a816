// Package toggl reads time entries from Toggl Track: the token owner's entries through
// GET /api/v9/me/time_entries (incrementally, with since=, deletions included), or a whole
// workspace's through the Reports API v3 detailed search, page by page.
//
// It also tells the engine how Toggl meters its API (quota.go): which bucket a request
// spends and what the X-Toggl-Quota-* headers say. The simulator lives in togglsim.
package toggl
