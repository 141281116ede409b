// Package workers turns sweeps into Asynq tasks and handles them: a sweep's
// start task fans out index-page tasks, an index page enqueues its listing
// URLs (deduplicated within the sweep by task ID), and a listing task fetches
// the page, extracts the listing, matches it against the rules, stores the
// evidence and records captures and flags in the catalog.
//
// A sweep also checks again the target's listings that earlier sweeps
// captured and did not find removed, so that a listing gone from the index
// pages is still seen: one whose page answers 404 or 410, or is the
// target's removal page, is recorded as removed, its answer kept as
// evidence. A listing whose response payload is the same as at its last
// capture is recorded as unchanged, its WARC holding a revisit record; the
// same content of a listing is flagged once.
//
// Only this package imports asynq. Every handler is idempotent: a task that
// is retried, or run again after a worker died, neither stores evidence twice
// nor raises a second flag.
package workers
