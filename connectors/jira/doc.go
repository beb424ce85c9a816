// Package jira writes records as Jira Cloud worklogs (REST API v3): POST to create, PUT to
// update, DELETE to remove. Each worklog carries a "sluice" worklog property naming the
// workflow and the source entry, so that a create whose answer was lost is found again
// (Find) instead of being made twice. The simulator lives in jirasim.
package jira
