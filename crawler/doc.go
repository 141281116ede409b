// Package crawler fetches marketplace pages and reads listings from them.
//
// Fetching goes through a Fetcher: one colly collector per target, robots.txt
// obeyed unless the target turns it off (on every redirect too), per-host
// politeness (requests per second and requests in flight, spaced further by
// a robots.txt Crawl-delay), bounded bodies, redirects and time, and an
// address guard that refuses loopback, private, link-local and other
// non-public addresses when a connection is made, redirects and robots.txt
// requests included. A Fetch returns a wildwatch.Capture holding the request
// as sent and the response as received, decoded to UTF-8 from its declared
// or sniffed charset.
//
// What politeness remembers is shared through small seams, each with an
// in-process implementation and one in Redis for many workers: the Limiter
// (HostLimiter, RedisLimiter), the robots.txt files, fetched once per host
// and kept as long as their responses allow (MemoryRobotsCache,
// RedisRobotsCache), and the daily request counts of targets with a cap
// (MemoryRequestCounter, RedisRequestCounter). A host that answers with a
// block or CAPTCHA page (see IsBlocked) is left alone for BlockedBackoff and
// the fetch fails with ErrKindBlocked; a spent cap fails fetches with
// ErrKindCapped until the next UTC midnight.
//
// Rendering goes through a Browser made from a Fetcher (Fetcher.NewBrowser):
// one headless Chrome, started on the first Render, with a pool of reused
// tabs. Every connection the browser makes goes through a small proxy in
// this process whose dialer is the same address guard, every request a
// page makes is intercepted to apply the target's hosts, blocked resource
// types and the shared politeness limiter, and robots.txt is obeyed before
// the browser is asked. A rendered Capture keeps the main document's bytes
// as the server sent them beside the rendered DOM and a full-page
// screenshot. Chrome is restarted when it dies, hangs or has rendered
// enough pages. NeedsRender decides, in auto mode, when a page needs it.
//
// Extraction reads index pages (ExtractLinks) and listing pages
// (ExtractListing) with the CSS selectors of a target. Targets are written as
// YAML and read with ParseTarget, which reports errors by file, line and
// field.
package crawler
