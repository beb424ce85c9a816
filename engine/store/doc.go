// Package store defines what sluice keeps between runs — per-workflow cursors, the dedup
// ledger, run history, the audit of API calls and the last quota seen per bucket — and the
// Store interface that each database implements (engine/store/sqlite, the default).
//
// Types here are plain data. Consumers declare the narrow interfaces they need where they
// use them; Store is the union every implementation provides.
package store
