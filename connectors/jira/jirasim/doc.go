// Package jirasim simulates the worklog part of the Jira Cloud platform REST API v3 as an
// http.Handler, for tests of sluice's Jira sink over real loopback HTTP, for `sluice demo` and
// `sluice sim jira`, and for crash-recovery tests in which a write is applied but its response
// is lost.
//
// It owns the simulated state (accounts, projects, issues, worklogs, worklog properties,
// remaining estimates, rate limiters, injected faults, counters and a request log) and imports
// only the standard library; it must not import the engine or any connector.
//
// # What is simulated
//
// Every path starts with /rest/api/3:
//
//	GET    /myself                                   accountId, emailAddress, displayName
//	GET    /issue/{issueIdOrKey}                     id, key, self, fields.summary, fields.project, fields.timetracking
//	GET    /issue/{issueIdOrKey}/worklog             getIssueWorklog: startAt, maxResults, startedAfter, startedBefore, expand
//	POST   /issue/{issueIdOrKey}/worklog             addWorklog: 201
//	DELETE /issue/{issueIdOrKey}/worklog             bulkDeleteWorklogs: body {"ids": [...]}, 204 / 200 partial
//	GET    /issue/{issueIdOrKey}/worklog/{id}        getWorklog
//	PUT    /issue/{issueIdOrKey}/worklog/{id}        updateWorklog: 200
//	DELETE /issue/{issueIdOrKey}/worklog/{id}        deleteWorklog: 204
//	GET    /issue/{issueIdOrKey}/worklog/{worklogId}/properties                getWorklogPropertyKeys
//	GET    /issue/{issueIdOrKey}/worklog/{worklogId}/properties/{propertyKey}  getWorklogProperty
//	PUT    /issue/{issueIdOrKey}/worklog/{worklogId}/properties/{propertyKey}  setWorklogProperty: 201 new, 200 updated
//	DELETE /issue/{issueIdOrKey}/worklog/{worklogId}/properties/{propertyKey}  deleteWorklogProperty: 204
//	POST   /worklog/list                             getWorklogsForIds: at most 1000 ids
//	GET    /worklog/updated                          getIdsOfWorklogsModifiedSince
//	GET    /worklog/deleted                          getIdsOfWorklogsDeletedSince
//
// Behaviour enforced (the checklist of shared/reference/jira.md, plus the spec):
//   - HTTP Basic email:apiToken on every request; otherwise 401 with an ErrorCollection body.
//   - Issues by key or numeric id; unknown issue 404; time tracking off 404 on every worklog
//     and worklog-property operation.
//   - Worklog JSON as the spec: string id and issueId, self, author and updateAuthor,
//     created, updated and started as yyyy-MM-dd'T'HH:mm:ss.SSS±hhmm, timeSpent and
//     timeSpentSeconds, the ADF comment as sent, visibility, and properties only with
//     expand=properties.
//   - Body validation, all field errors in one 400: started required on create and in the
//     form above (errors.started, with the message Jira sends); exactly one of
//     timeSpentSeconds (an integer) and timeSpent; time spent > 0 and the MinSeconds rule for
//     < 60 s (errors.timeLogged); comment an ADF doc (errors.comment); visibility type group or
//     role; inline properties with keys of 1 to 255 characters and non-null values of at most
//     32768 bytes. Malformed JSON, an empty or null body, or a non-object body is 400. Unknown
//     fields are accepted (Worklog has additionalProperties: true); read-only fields are ignored.
//   - Query validation: notifyUsers and overrideEditableFlag must be true or false;
//     adjustEstimate must be a mode the operation allows; new needs newEstimate; manual needs
//     reduceBy on add and increaseBy on delete. The remaining estimate really moves (see
//     SetRemainingEstimate and the fields.timetracking).
//   - Properties: PUT 201 when new, 200 when replaced; GET 404 when absent; a worklog id that
//     is not a number is 400 on the property operations (as the spec says).
//   - Paging: startAt, maxResults (default and maximum 5000), startedAfter (inclusive) and
//     startedBefore (exclusive) in unix ms, answered as {startAt, maxResults, total, worklogs};
//     worklogs in creation order.
//   - The per-issue worklog cap (Options.MaxWorklogsPerIssue) answers 413 on create.
//   - Two token-bucket limiters on the injected clock: a burst limiter per method, route
//     template and account, and a per-issue limiter on writes. A refusal is 429 with
//     Retry-After (whole seconds), X-RateLimit-Reset (yyyy-MM-ddTHH:mmZ, rounded up to the
//     minute), X-RateLimit-Limit, X-RateLimit-Remaining and RateLimit-Reason
//     (jira-burst-based or jira-per-issue-on-write). Retrying before Retry-After has passed
//     gets another 429 whose Retry-After is twice as long (capped at a minute, never shorter
//     than before). X-RateLimit-NearLimit: true is sent when under 20 % of a bucket is left.
//   - Faults: FailNext answers any status (503, 429 ...) with Retry-After without doing
//     anything; LoseNextResponse applies a write and then closes the connection unanswered.
//   - A JSON body with a Content-Type other than application/json is 415, as Jira's Jersey
//     stack does.
//
// # Choices where Jira's behaviour is UNCONFIRMED
//
//   - Error texts, except those marked in request.go, are the simulator's own. Bodies use
//     ErrorCollection and include "status". Errors about time spent use the key "timeLogged".
//   - Under 60 seconds: Options.MinSeconds picks reject (default), accept or round.
//   - timeSpent syntax: w, d, h and m parts (1w = 5d, 1d = 8h, Jira's defaults), each at most
//     once, decimals allowed ("1.5h"), a bare number is minutes ("90"). timeSpent is rendered
//     the same way, truncated to whole minutes, "0m" under a minute.
//   - started keeps and echoes the offset it was sent with; Jira may convert it to the user's
//     time zone. created and updated are rendered in UTC. Only the ±hhmm form is accepted;
//     "Z", "+00:00" and values without milliseconds are 400 (stricter than Jira may be).
//   - A JSON null field counts as absent. On update, absent fields keep their values and
//     inline properties are upserted, never removed.
//   - adjustEstimate=manual on update is 400 (the spec's enum lists it, but no amount
//     parameter exists). auto and manual leave an issue without a remaining estimate without
//     one; estimates never drop below zero. Deleting with auto raises the estimate by the time
//     spent (the spec's text says "reduces"; Jira's UI raises it).
//   - Validation comes before the 413 cap check; the per-issue write limiter is spent before
//     validation, once the issue is found.
//   - Bulk delete: ids that do not exist are skipped and answered 200 with
//     {message, deleted, notFound}; an id on another issue is 404 and nothing is deleted;
//     duplicate ids are 400.
//   - /worklog/updated and /worklog/deleted return changes strictly after since and at least
//     a minute old; a page never splits one millisecond; until is since on an empty page;
//     nextPage is always present (as in the spec's example).
//   - The per-issue limiter and NearLimit headers: Limit and Remaining describe the burst
//     bucket on success and the refusing bucket on a 429; NearLimit is set if either bucket is
//     under 20 %. Whether Jira sends these headers on successes is unconfirmed.
//   - Anonymous access is refused although the spec says some operations allow it; 401s carry
//     WWW-Authenticate so that browsers ask for the email and token.
//   - Issue lookup falls back to a case-insensitive key match, as getIssue describes.
//   - maxResults=0 answers an empty page with the total; a negative maxResults means the
//     default; a negative startAt means 0. total counts all matching worklogs (the spec's text
//     says "on the page").
//   - Ids: projects and issues count from 10000, worklogs from 100000 (kept apart so that a
//     client mixing them up fails); account ids are 24 hex digits derived from the email.
//   - Permissions, issue security, visibility filtering and notifications are not modelled;
//     notifyUsers is validated and counted in Stats.Notifications.
//
// Responses are indented JSON so that the API reads well in a browser.
package jirasim
