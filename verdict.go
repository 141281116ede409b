package wildwatch

// Verdict is what detection decided about one listing, with the reasons.
type Verdict struct {
	// Flagged reports Score ≥ the rule set's flag threshold.
	Flagged bool `json:"flagged"`
	// Review reports a score between the review and flag thresholds: a person
	// should look, but the listing is not flagged.
	Review bool    `json:"review,omitempty"`
	Score  float64 `json:"score"`
	// Category is the category with the highest score ("" when none matched).
	Category string `json:"category,omitempty"`
	// Matches are the terms and patterns that matched, in field and offset
	// order.
	Matches []Match `json:"matches"`
	// Exclusions are the exclusions that cancelled a match.
	Exclusions []Match `json:"exclusions,omitempty"`
	// RuleSet is the name and version of the rule set, "default@3".
	RuleSet string `json:"rule_set"`
}

// Match is one place in a listing's text where a rule matched. Start and End
// are byte offsets into the original (not normalised) field value.
type Match struct {
	Rule     string  `json:"rule"`
	Category string  `json:"category,omitempty"`
	Field    string  `json:"field"`
	Start    int     `json:"start"`
	End      int     `json:"end"`
	Text     string  `json:"text"`
	Weight   float64 `json:"weight,omitempty"`
}

// Matcher decides about listings. rules.Matcher implements it.
type Matcher interface {
	Match(l Listing) Verdict
	// Version is the rule set's "name@version".
	Version() string
}
