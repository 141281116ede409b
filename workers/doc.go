// Package workers turns sweeps into Asynq tasks and handles them: a sweep's
// start task fans out index-page tasks, an index page enqueues its listing
// URLs (deduplicated within the sweep by task ID), and a listing task fetches
// the page, extracts the listing, matches it against the rules, stores the
// evidence and records captures and flags in the catalog.
//
// Only this package imports asynq. Every handler is idempotent: a task that
// is retried, or run again after a worker died, neither stores evidence twice
// nor raises a second flag.
package workers
