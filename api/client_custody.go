package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/wildwatch/wildwatch/storage"
)

// Custody lists custody log entries; q holds the filters (object, prefix,
// actor, action, link, after, limit, newest).
func (c *Client) Custody(ctx context.Context, q url.Values) ([]storage.CustodyEntry, error) {
	var es []storage.CustodyEntry
	return es, c.do(ctx, http.MethodGet, "/api/v1/custody?"+q.Encode(), nil, "", &es)
}

// VerifyCustody checks the custody log's chain and stored entries.
func (c *Client) VerifyCustody(ctx context.Context) (storage.CustodyReport, error) {
	var rep storage.CustodyReport
	return rep, c.do(ctx, http.MethodGet, "/api/v1/custody/verify", nil, "", &rep)
}

// CreateLink makes a share link to one evidence object.
func (c *Client) CreateLink(ctx context.Context, req LinkRequest) (ShareLink, error) {
	var l ShareLink
	return l, c.postJSON(ctx, "/api/v1/links", req, &l)
}
