package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// CreateBundle has the server make and store a case bundle.
func (c *Client) CreateBundle(ctx context.Context, req BundleRequest) (BundleCreated, error) {
	var out BundleCreated
	return out, c.postJSON(ctx, "/api/v1/bundles", req, &out)
}

// DownloadBundle copies a stored case bundle to w, byte for byte, and
// returns how many bytes it copied; a short copy is an error.
func (c *Client) DownloadBundle(ctx context.Context, id string, w io.Writer) (int64, error) {
	resp, err := c.send(ctx, http.MethodGet, "/api/v1/bundles/"+url.PathEscape(id), nil, "")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("downloading bundle %s: %w", id, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("downloading bundle %s: got %d of %d bytes", id, n, resp.ContentLength)
	}
	return n, nil
}
