package wildwatch

import "time"

// How a capture compares with the capture of the same listing before it.
const (
	// ChangeNew is the first capture of a listing.
	ChangeNew = "new"
	// ChangeChanged is a capture whose content differs from the one before.
	ChangeChanged = "changed"
	// ChangeUnchanged is a capture whose response payload (and, for a
	// rendered page, rendered DOM) equals the one before; its WARC holds a
	// revisit record instead of the response body.
	ChangeUnchanged = "unchanged"
	// ChangeRemoved is the capture of a listing's page answering that the
	// listing is gone: 404, 410 or the target's removal page.
	ChangeRemoved = "removed"
)

// Listing states.
const (
	// ListingActive is a listing whose last capture showed it.
	ListingActive = "active"
	// ListingRemoved is a listing whose last capture found it removed.
	ListingRemoved = "removed"
)

// ListingStatus is what is known of one listing of a target over time,
// from its captures.
type ListingStatus struct {
	Target string `json:"target"`
	URL    string `json:"url"`
	// ListingID is the listing's own ID when its page gives one.
	ListingID string `json:"listing_id,omitempty"`
	// State is ListingActive or ListingRemoved.
	State string `json:"state"`
	// FirstSeen is when the listing was first captured, by FirstCapture.
	FirstSeen    time.Time `json:"first_seen"`
	FirstCapture string    `json:"first_capture"`
	// LastSeen is the last capture that showed the listing, LastCapture.
	LastSeen    time.Time `json:"last_seen"`
	LastCapture string    `json:"last_capture"`
	// LastChanged is when the listing's content was last seen to change
	// (FirstSeen when it never did).
	LastChanged time.Time `json:"last_changed"`
	// RemovedAt is when the listing was found removed, by RemovedCapture;
	// nil while it is active.
	RemovedAt      *time.Time `json:"removed_at,omitempty"`
	RemovedCapture string     `json:"removed_capture,omitempty"`
	// Captures counts every capture of the listing, the removal included.
	Captures int `json:"captures"`
}
