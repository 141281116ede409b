package wildwatch

import (
	"net/http"
	"time"
)

// Capture is one fetched page as received: the request that was sent, the
// response bytes as they came off the wire and what was decoded from them.
// It is what evidence is made of.
type Capture struct {
	// ID is unique and stable for a (sweep, URL) pair, so a retried task
	// writes the same capture again rather than a second one.
	ID      string `json:"id"`
	SweepID string `json:"sweep_id"`
	Target  string `json:"target"`
	// URL is the URL asked for; FinalURL the one answered after redirects.
	URL      string `json:"url"`
	FinalURL string `json:"final_url"`
	// RemoteIP is the address the response came from.
	RemoteIP  string    `json:"remote_ip,omitempty"`
	StartedAt time.Time `json:"started_at"`
	// FetchedAt is when the last byte of the response was read.
	FetchedAt time.Time `json:"fetched_at"`
	Status    int       `json:"status"`
	UserAgent string    `json:"user_agent"`
	// RequestHeader is the header sent with the final request.
	RequestHeader http.Header `json:"request_header,omitempty"`
	// Header is the final response's header.
	Header http.Header `json:"header,omitempty"`
	// Proto is the response protocol, "HTTP/1.1".
	Proto string `json:"proto,omitempty"`
	// Body is the response body as received after transfer decoding and the
	// gzip decoding net/http does itself (which also drops Content-Encoding
	// and Content-Length from Header), before any charset decoding.
	Body []byte `json:"-"`
	// Truncated reports that Body was cut at the target's body limit.
	Truncated bool `json:"truncated,omitempty"`
	// Charset is the charset the body was decoded from ("utf-8", "gbk", …).
	Charset string `json:"charset,omitempty"`
	// Text is the body decoded to UTF-8.
	Text string `json:"-"`
	// Mode is how the page was fetched, RenderStatic or RenderBrowser, and
	// ModeReason why ("target renders every page", "static listing had no
	// title", …).
	Mode       string `json:"mode,omitempty"`
	ModeReason string `json:"mode_reason,omitempty"`
	// Rendered is what the browser made of the page; nil for static
	// captures. Body and Header above stay the main document's bytes and
	// headers as the server sent them.
	Rendered *Rendering `json:"rendered,omitempty"`
}

// Rendering is a page as headless Chrome showed it.
type Rendering struct {
	// DOM is the rendered document serialised as HTML (UTF-8).
	DOM []byte `json:"-"`
	// Screenshot is a full-page PNG.
	Screenshot []byte `json:"-"`
	// Viewport is the window size used.
	Viewport Viewport `json:"viewport"`
	// RenderedAt is when the DOM and screenshot were taken (UTC).
	RenderedAt time.Time `json:"rendered_at"`
	// Browser is the browser's product and version, "Chrome/131.0…".
	Browser string `json:"browser,omitempty"`
	// Warnings say what did not go as planned but did not stop the
	// capture: the wait selector never appeared, the network never went
	// idle, resources were blocked.
	Warnings []string `json:"warnings,omitempty"`
}

// Kinds of page a sweep task fetches.
const (
	PageIndex   = "index"
	PageListing = "listing"
)
