package wildwatch

import "time"

// Flag statuses. A new flag is "new"; a review decision moves it:
// confirmed, dismissed, or "review" (sent on for a second look by someone
// with more expertise; neither confirmed nor dismissed).
const (
	FlagNew       = "new"
	FlagConfirmed = "confirmed"
	FlagDismissed = "dismissed"
	FlagReview    = "review"
)

// ValidDecision reports whether d is a review decision.
func ValidDecision(d string) bool {
	return d == FlagConfirmed || d == FlagDismissed || d == FlagReview
}

// Flag is a listing that detection flagged, waiting for or past review.
type Flag struct {
	ID        string    `json:"id"`
	SweepID   string    `json:"sweep_id"`
	CaptureID string    `json:"capture_id"`
	Target    string    `json:"target"`
	URL       string    `json:"url"`
	Category  string    `json:"category"`
	Score     float64   `json:"score"`
	Status    string    `json:"status"`
	RuleSet   string    `json:"rule_set"`
	CreatedAt time.Time `json:"created_at"`
	Listing   Listing   `json:"listing"`
	Verdict   Verdict   `json:"verdict"`
	Reviews   []Review  `json:"reviews,omitempty"`
}

// Review is one person's decision on a flag.
type Review struct {
	FlagID   string    `json:"flag_id"`
	Decision string    `json:"decision"`
	Note     string    `json:"note,omitempty"`
	Reviewer string    `json:"reviewer"`
	At       time.Time `json:"at"`
}
