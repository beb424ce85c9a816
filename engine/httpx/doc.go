// Package httpx builds the one *http.Client each connection uses. Its transport audits every
// request (who made it, which route, status, duration, quota left), records the quota the
// service reports, and counts calls per run.
//
// Connectors never build their own client: they get this one through connectors.Deps.
package httpx
