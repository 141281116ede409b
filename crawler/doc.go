// Package crawler fetches marketplace pages and reads listings from them.
//
// Fetching goes through a Fetcher: one colly collector per target, robots.txt
// obeyed unless the target turns it off, per-host politeness (requests per
// second and requests in flight) shared by every Fetch call of the process,
// bounded bodies, redirects and time, and an address guard that refuses
// loopback, private, link-local and other non-public addresses when a
// connection is made, redirects and robots.txt requests included. A Fetch
// returns a wildwatch.Capture holding the request as sent and the response as
// received, decoded to UTF-8 from its declared or sniffed charset.
//
// Extraction reads index pages (ExtractLinks) and listing pages
// (ExtractListing) with the CSS selectors of a target. Targets are written as
// YAML and read with ParseTarget, which reports errors by file, line and
// field.
package crawler
