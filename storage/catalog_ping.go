package storage

import (
	"context"
	"fmt"
)

// Ping checks that the catalog's database answers, for readiness probes.
func (c *Catalog) Ping(ctx context.Context) error {
	if err := c.db.PingContext(ctx); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}
