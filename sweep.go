package wildwatch

import "time"

// Sweep statuses.
const (
	SweepQueued   = "queued"
	SweepRunning  = "running"
	SweepFinished = "finished"
	SweepFailed   = "failed"
)

// Sweep is one pass over a target: its index pages, then each listing.
type Sweep struct {
	ID         string      `json:"id"`
	Target     string      `json:"target"`
	Status     string      `json:"status"`
	CreatedAt  time.Time   `json:"created_at"`
	FinishedAt *time.Time  `json:"finished_at,omitempty"`
	Counts     SweepCounts `json:"counts"`
}

// SweepCounts are a sweep's progress. Pending counts tasks queued or running.
// New, Changed, Unchanged and Removed split Captures by how each compares
// with the listing's capture before it (see ChangeNew); captures recorded
// before changes were tracked are in none of them.
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
}

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
