// Package audit turns the audited API calls that the store keeps into reports: calls per
// period, workflow, connection, route, method and status, with cache hits, retries and
// errors counted apart, written as a table, CSV or JSON (`sluice audit`), plus the hourly
// series and the per-workflow spenders that the quota page draws.
//
// A store.Call with CacheHit set is a read answered from sluice's own cache: it cost no
// quota and is never counted as a call. A call with Status 0 got no answer (network error or
// timeout). Periods are UTC hours or days.
//
// The package reads calls through the small Source interface, which every store implements.
// It imports engine/store for its types only, and must not import a concrete store,
// engine/httpx, engine/quota or any connector.
package audit
