package crawler

import (
	"context"
	"net/http"
	"sync/atomic"
)

// conditionalKey keys the validators of a conditional Fetch in its context.
type conditionalKey struct{}

type conditional struct {
	header http.Header
	sent   atomic.Bool
}

// WithConditional returns a context under which a Fetch sends header
// (If-None-Match, If-Modified-Since) with its page request: the first
// request it makes for the page, not robots.txt and not the hops of a
// redirect. A server that finds the page unchanged answers 304 Not
// Modified, which Fetch returns as a Capture of Status 304 (and no body)
// with an ErrKindHTTP error that is not retryable.
func WithConditional(ctx context.Context, header http.Header) context.Context {
	if len(header) == 0 {
		return ctx
	}
	return context.WithValue(ctx, conditionalKey{}, &conditional{header: header.Clone()})
}

// addConditional copies the validators WithConditional put in req's
// context onto out, the request sent, when req is the first page request
// of its Fetch. colly sends robots.txt requests without the Fetch's
// context, so they never carry them.
func addConditional(req, out *http.Request) {
	c, ok := req.Context().Value(conditionalKey{}).(*conditional)
	if !ok || isRobotsRequest(req) || !c.sent.CompareAndSwap(false, true) {
		return
	}
	for k, vs := range c.header {
		out.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
}
