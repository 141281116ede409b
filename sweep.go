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
type SweepCounts struct {
	Pages    int `json:"pages"`
	Listings int `json:"listings"`
	Captures int `json:"captures"`
	Flags    int `json:"flags"`
	Errors   int `json:"errors"`
	Pending  int `json:"pending"`
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
)
