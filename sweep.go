package wildwatch

import "time"

// Sweep statuses. A sweep is queued until its start task runs, then
// running; paused keeps its tasks for a later resume; finished, failed and
// cancelled are final.
const (
	SweepQueued   = "queued"
	SweepRunning  = "running"
	SweepFinished = "finished"
	SweepFailed   = "failed"
	// SweepPaused: the sweep's tasks wait, unfetched, until it is resumed.
	SweepPaused = "paused"
	// SweepCancelled: the sweep was stopped; its tasks not yet run never
	// will be.
	SweepCancelled = "cancelled"
)

// SweepEnded reports whether status is final: finished, failed or
// cancelled.
func SweepEnded(status string) bool {
	return status == SweepFinished || status == SweepFailed || status == SweepCancelled
}

// SweepActive reports whether a sweep in status still holds its target:
// queued, running or paused.
func SweepActive(status string) bool {
	return status == SweepQueued || status == SweepRunning || status == SweepPaused
}

// Sweep is one pass over a target: its index pages, then each listing.
type Sweep struct {
	ID         string      `json:"id"`
	Target     string      `json:"target"`
	Status     string      `json:"status"`
	CreatedAt  time.Time   `json:"created_at"`
	FinishedAt *time.Time  `json:"finished_at,omitempty"`
	Counts     SweepCounts `json:"counts"`
	// Reason says why the sweep is paused, failed or cancelled ("blocked:
	// …", "paused by alice"); empty otherwise.
	Reason string `json:"reason,omitempty"`
}

// SweepCounts are a sweep's progress. Pending counts tasks queued or running.
// New, Changed, Unchanged and Removed split Captures by how each compares
// with the listing's capture before it (see ChangeNew); captures recorded
// before changes were tracked are in none of them. Checked counts listings
// found unchanged without a new capture (see ListingCheck), and
// ErrorsByKind splits Errors by SweepError.Kind (nil when there are none).
type SweepCounts struct {
	Pages     int `json:"pages"`
	Listings  int `json:"listings"`
	Captures  int `json:"captures"`
	Flags     int `json:"flags"`
	Errors    int `json:"errors"`
	Pending   int `json:"pending"`
	New       int `json:"new"`
	Changed   int `json:"changed"`
	Unchanged int `json:"unchanged"`
	Removed   int `json:"removed"`
	Checked   int `json:"checked"`
	// Parked counts tasks of a paused sweep set aside unrun, which resume
	// queues again; Cancelled the tasks a cancelled sweep never ran.
	Parked    int `json:"parked"`
	Cancelled int `json:"cancelled"`
	// ErrorsByKind counts the errors of each kind (ErrKindNetwork, …).
	ErrorsByKind map[string]int `json:"errors_by_kind,omitempty"`
}

// DefaultBlockedPause is how many ErrKindBlocked errors in a row, with no
// page fetched in between, pause a sweep.
const DefaultBlockedPause = 5

// ListingCheck records that a listing captured before was fetched again
// within its target's revisit interval and found unchanged, so no new
// capture was made: the server answered 304 Not Modified to a conditional
// request (Result CheckNotModified), or sent the same content again
// (CheckSameContent).
type ListingCheck struct {
	SweepID string `json:"sweep_id"`
	Target  string `json:"target"`
	URL     string `json:"url"`
	// CaptureID is the capture whose content was found unchanged: the
	// listing's last capture.
	CaptureID string    `json:"capture_id"`
	CheckedAt time.Time `json:"checked_at"`
	// Status is the HTTP status of the answer: 304, or 200 for the same
	// content.
	Status int    `json:"status"`
	Result string `json:"result"`
	// IfNoneMatch and IfModifiedSince are the validators sent, taken from
	// the capture's ETag and Last-Modified; empty when not sent.
	IfNoneMatch     string `json:"if_none_match,omitempty"`
	IfModifiedSince string `json:"if_modified_since,omitempty"`
}

// Results of a ListingCheck.
const (
	CheckNotModified = "not_modified"
	CheckSameContent = "same_content"
)

// SweepError is one failure recorded on a sweep: an unreachable host, a
// robots.txt refusal, a 404, a page that could not be stored. The sweep goes
// on.
type SweepError struct {
	SweepID string    `json:"sweep_id"`
	URL     string    `json:"url"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// Kinds of SweepError.
const (
	ErrKindNetwork = "network" // connection refused, DNS, timeout
	ErrKindRobots  = "robots"  // disallowed by robots.txt
	ErrKindHTTP    = "http"    // 4xx/5xx status
	ErrKindGuard   = "guard"   // address not allowed
	ErrKindExtract = "extract" // page did not parse as a listing
	ErrKindStorage = "storage" // evidence or catalog write failed
	ErrKindRender  = "render"  // the browser crashed or hung on the page twice
	// ErrKindThrottled: the host asked for a pause (429 or 503) that has
	// not passed; the page was not requested.
	ErrKindThrottled = "throttled"
	// ErrKindBlocked: the site answered with a block or CAPTCHA page
	// (detected by status and by the target's block patterns).
	ErrKindBlocked = "blocked"
	// ErrKindCapped: the target's daily request cap is spent; the page was
	// not requested.
	ErrKindCapped = "capped"
)
