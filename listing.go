package wildwatch

// Listing is one marketplace listing as read from its page (or, for
// `wildwatch match`, from a JSON line). Text fields hold UTF-8.
type Listing struct {
	// ID identifies the listing in its input (a JSON line's "id"); empty for
	// crawled listings, which are known by URL.
	ID          string   `json:"id,omitempty"`
	URL         string   `json:"url,omitempty"`
	Platform    string   `json:"platform,omitempty"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Price       string   `json:"price,omitempty"`
	Currency    string   `json:"currency,omitempty"`
	Seller      string   `json:"seller,omitempty"`
	Location    string   `json:"location,omitempty"`
	Lang        string   `json:"lang,omitempty"`
	Images      []string `json:"images,omitempty"`
}

// Listing field names, as they appear in matches and selectors.
const (
	FieldTitle       = "title"
	FieldDescription = "description"
	FieldSeller      = "seller"
	FieldLocation    = "location"
	FieldPrice       = "price"
)

// TextFields returns the listing's text fields that detection reads, in a
// fixed order, as (name, value) pairs.
func (l Listing) TextFields() []TextField {
	return []TextField{
		{FieldTitle, l.Title},
		{FieldDescription, l.Description},
		{FieldSeller, l.Seller},
		{FieldLocation, l.Location},
	}
}

// TextField is one named text field of a listing.
type TextField struct {
	Name  string
	Value string
}
