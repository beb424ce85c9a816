// Package togglsim simulates the Toggl Track API v9 and the Reports API v3 closely enough to
// test the sluice Toggl connector and its quota handling over real HTTP, and to run
// `sluice demo` and `sluice sim toggl` without a Toggl account.
//
// A *Server is an http.Handler: mount it with httptest.NewServer(sim) or http.ListenAndServe.
// It keeps organizations, workspaces, users, clients, projects, tasks, tags and time entries
// in memory behind one mutex, so it is safe for concurrent clients. All time comes from
// Options.Clock, so under a fake clock it is deterministic and a day of quota windows passes
// in milliseconds. It imports only the standard library and nothing from sluice.
//
// # Endpoints
//
// Track v9, under /api/v9: GET /me (with_related_data), /me/quota, /me/workspaces,
// /me/organizations, /me/time_entries (since, before, start_date, end_date, meta,
// include_sharing), /me/time_entries/current, /me/time_entries/{time_entry_id},
// /organizations/{organization_id}, /workspaces/{workspace_id}, and
// /workspaces/{workspace_id}/projects, /clients, /tags, /tasks; POST
// /workspaces/{workspace_id}/time_entries; PUT and DELETE
// /workspaces/{workspace_id}/time_entries/{time_entry_id}; PATCH
// /workspaces/{workspace_id}/time_entries/{time_entry_id}/stop.
// Reports v3: POST /reports/api/v3/workspace/{workspace_id}/search/time_entries.
// Paths, parameter names and JSON field names follow the swagger files in
// shared/openapi; bodies of errors are JSON strings, as in Toggl's spec.
//
// # What is enforced
//
//   - Auth: HTTP Basic with user name = API token and password "api_token". A missing or wrong
//     token gets Options.AuthFailureStatus (403, or 401) and "Incorrect username and/or
//     password", without quota headers and without charge.
//   - Quota: each user has one bucket per organization (size by the organization's plan:
//     free 30, starter 240, premium 600, enterprise 2000 per hour) charged by
//     /api/v9/workspaces/{wid}/…, /api/v9/organizations/{oid}/… and Reports paths, and one user
//     bucket (Options.UserQuota, 30) charged by every other path, all /me… paths included.
//     A bucket's window is fixed: it opens at its first charged request and resets 60 minutes
//     later. Each response except auth failures and refused access carries
//     X-Toggl-Quota-Remaining and X-Toggl-Quota-Resets-In (whole seconds, rounded up) for the
//     bucket the request was (or would have been) charged to. A request over the limit gets 402
//     "Quota exceeded: You've used 31 / 30 requests from user specific requests quota" (or
//     "… requests in <org> (<Plan>)"), Remaining 0, and is neither performed nor counted.
//     With Options.QuotaNotEnforced nothing is refused and Remaining goes negative.
//     GET /me/quota lists one item per organization plus the organization_id null item.
//   - Throttle: a leaky bucket per API token and client IP (Options.ThrottleRate per second,
//     Options.ThrottleBurst deep) answers 429 with Retry-After before the quota is looked at;
//     a 429 consumes no quota and does not fill the leaky bucket.
//   - Premium features: a Reports billable filter on a Free or Starter organization gets 402
//     "Workspace needs to have this feature enabled" with normal (positive) quota headers; the
//     request is charged like any other answered request.
//   - Time entries: every entry carries server_deleted_at, at, the legacy wid/pid/tid/uid
//     mirrors and duronly true; a running entry has stop null and a negative duration
//     (Options.RunningDuration). /me/time_entries returns a bare array newest first, capped at
//     Options.MeEntriesCap rows and Options.MeEntriesMaxAge; since (unix seconds) returns the
//     entries whose at is >= since, deleted ones included as tombstones, and without since
//     deleted entries are left out; start_date and end_date are accepted only together.
//     Create needs created_with, a workspace_id equal to the path's, and start; stop and
//     duration must agree. Every change bumps at. One entry runs per user: starting one stops
//     the previous. Stopping a stopped entry gets 409.
//   - Reports: the body is decoded strictly (unknown fields: 400); an empty body or {} gets
//     400 "At least one parameter must be set"; dates are YYYY-MM-DD and end_date must be after
//     start_date; page_size defaults to 50; X-Next-ID and X-Next-Row-Number are sent only when
//     another page exists and are accepted back as first_id and first_row_number; X-Range-Start
//     and X-Range-End give the dates used. Only live, stopped entries of current workspace
//     members are reported, one inner time entry per row unless grouped is true. A user who
//     is not a member of the workspace gets 403 "Workspace not found/accessible".
//   - The Date header comes from the Clock, so clients see simulated time.
//
// # Simulator choices where Toggl's behaviour is UNCONFIRMED
//
//   - Bucket routing: only /me is documented as user-bucket; every path outside a workspace
//     or organization (unknown ones too) is charged to the user bucket, and GET /me/quota
//     costs 1 from it. Unknown routes answer 404 "Not Found" (405 for a wrong method) after the
//     charge.
//   - A workspace or organization id the user cannot see is refused with 403 (Track: "User
//     does not have access to this resource.") before any bucket is chosen: no charge, no quota
//     headers. A non-numeric id gets 400 the same way.
//   - An idle bucket (no window open) reports resets_in_secs 0 and its full size.
//   - Quota 402 wording is modelled on messages users reported; Retry-After is not sent on 402
//     (use X-Toggl-Quota-Resets-In). X-Toggl-Quota-Total is not sent.
//   - 429 carries Retry-After in whole seconds (the time until one more request fits, at least
//     1) because sluice's HTTP client honours it; Toggl does not document it.
//   - Enterprise organizations get 2000 requests per hour ("custom" in Toggl's table).
//   - The Reports page size is capped at MaxReportPageSize (1000); more is 400.
//   - Reports end_date is inclusive and must be strictly after start_date (the spec says
//     "greater"), so a one-day report is refused. Missing dates default to today (end) and
//     end minus 6 days (start). Default order is date ascending; ties break by start then id.
//     first_row_number positions the page; when the row there has a different id than
//     first_id and first_id is elsewhere, the page starts at first_id. X-Next-Timestamp and
//     first_timestamp are not used. Running entries are not reported. group_ids, rounding and
//     hide_amounts are accepted and have no effect; amounts are null, currency is USD, users
//     are in UTC (at_tz equals at).
//   - Reports rows carry project_name, project_color, project_hex, client_name, task_name and
//     tag_names only with enrich_response true, as captured real rows lack them otherwise.
//   - /me/time_entries: the cap keeps the newest MeEntriesCap entries by start; the age cap
//     applies to every query, since included. start_date and end_date are YYYY-MM-DD (midnight
//     UTC) or RFC 3339; end_date is exclusive and must be after start_date. before is exclusive.
//   - Create: an absent duration with no stop reads as 0 (a zero-length stopped entry), not as
//     running; a negative duration starts a timer. user_id other than the caller's is 403
//     (no admin rights are simulated). Billable needs no premium plan on entries.
//   - Update (PUT) changes only the fields sent; changing start keeps the stop (the duration
//     changes); workspace_id cannot change. tag_action add/delete edits the tags, otherwise
//     tags and tag_ids replace them; unknown tag names are created.
//   - GET /me/time_entries/current answers 404 "Resource can not be found" when nothing runs
//     (the spec), or 200 null with Options.CurrentEntryNone = CurrentNoneNull.
//   - Validation messages other than those marked in track.go and reports.go are the
//     simulator's own wording.
//
// # Seeding
//
// Seed through Go; seeding and inspection cost no quota and do not show in Stats:
//
//	sim := togglsim.New(togglsim.Options{Clock: clock})
//	org := sim.AddOrganization("Acme", togglsim.PlanStarter)
//	ws := sim.AddWorkspace(org, "Acme")
//	uid := sim.AddUser("Ann", "ann@example.com", "token-ann")
//	sim.AddMember(ws, uid)
//	p := sim.AddProject(ws, sim.AddClient(ws, "Client"), "Website", true)
//	id := sim.AddEntry(togglsim.NewEntry{UserID: uid, WorkspaceID: ws, ProjectID: p,
//		Start: clock.Now().Add(-time.Hour), Duration: 30 * time.Minute})
//	srv := httptest.NewServer(sim)
//
// UpdateEntry, DeleteEntry and StopEntry change data as the Toggl app would (bumping at);
// SpendQuota makes another application use quota on the same token; Entry, Quota, Stats and
// Requests inspect the state. The Add… methods panic on ids that do not exist: that is a bug
// in the set-up, not a runtime condition.
//
// Not simulated: webhooks, the bulk PATCH of time entries, writes to projects, clients, tags
// and tasks, email:password auth, user time zones, rates and amounts, data retention limits.
package togglsim
