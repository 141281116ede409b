package wildwatch

// BlockedPage describes a page a site shows in place of the one asked for
// when it takes the crawler for a bot: a CAPTCHA, a browser check, an
// "access denied" wall. A fetch that gets one fails with ErrKindBlocked and
// the host is left alone for a while.
//
// A page is a block page when its status is one of Status and it shows one
// of the markers (a phrase of Text or an element Selector selects). With no
// markers, the status alone is enough; with no statuses, a marker on a page
// of any status is.
type BlockedPage struct {
	// Status are response statuses, such as 403.
	Status []int `yaml:"status,omitempty" json:"status,omitempty"`
	// Text are phrases, matched without regard to case or runs of white
	// space in the text of the page (scripts and styles left out).
	Text []string `yaml:"text,omitempty" json:"text,omitempty"`
	// Selector is a CSS selector for an element only a block page has.
	Selector string `yaml:"selector,omitempty" json:"selector,omitempty"`
	// NoDefaults leaves DefaultBlockedPages out: only this description
	// marks a block page.
	NoDefaults bool `yaml:"no_defaults,omitempty" json:"no_defaults,omitempty"`
}

// DefaultBlockedPages are the block pages recognised for every target
// unless its Politeness.Blocked says NoDefaults: first the challenge and
// bot-check pages of the common bot walls, whatever their status; then
// refusals and CAPTCHA widgets, on a 403, 429 or 503 only, since a working
// page may well hold a CAPTCHA in a contact form.
var DefaultBlockedPages = []BlockedPage{
	{
		Text: []string{
			"verify you are human",
			"verifying you are human",
			"confirm you are a human",
			"checking your browser before accessing",
			"checking if the site connection is secure",
			"enable javascript and cookies to continue",
			"please complete the security check",
			"detected unusual traffic",
			"sorry, you have been blocked",
			"why have i been blocked",
		},
		Selector: "#challenge-form, #challenge-running, #challenge-stage, #cf-challenge-running, " +
			"#px-captcha, iframe[src*='captcha-delivery.com']",
	},
	{
		Status: []int{403, 429, 503},
		Text: []string{
			"access denied",
			"you don't have permission to access",
			"request blocked",
			"you have been blocked",
			"attention required",
			"are you a robot",
			"not a robot",
			"captcha",
			"just a moment",
			"automated access",
			"unusual traffic",
		},
		Selector: "iframe[src*='recaptcha'], iframe[src*='hcaptcha.com'], iframe[src*='challenges.cloudflare.com'], " +
			".g-recaptcha, .h-captcha, .cf-turnstile, #captcha, form[action*='captcha']",
	},
}
