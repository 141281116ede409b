package workers

import (
	"context"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

// HandleListing runs the listing handler for url in the sweep directly, as
// the queue would.
func HandleListing(ctx context.Context, w *Worker, sweepID, url string) error {
	return w.handlers().listing(ctx, payload{Sweep: sweepID, Key: taskKey(wildwatch.PageListing, url), URL: url})
}

// AddListingTask records a pending listing task without queueing it.
func AddListingTask(ctx context.Context, c *storage.Catalog, sweepID, url string) error {
	_, err := c.AddTask(ctx, storage.SweepTask{SweepID: sweepID, Key: taskKey(wildwatch.PageListing, url), Kind: wildwatch.PageListing, URL: url})
	return err
}
