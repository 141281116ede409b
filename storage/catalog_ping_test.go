package storage

import (
	"path/filepath"
	"testing"

	"github.com/wildwatch/wildwatch/internal/pgtest"
)

// TestCatalogPing checks that Ping answers on both databases while they
// are open, and fails once the catalog is closed.
func TestCatalogPing(t *testing.T) {
	t.Parallel()
	dsns := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "wildwatch.db") },
		"postgres": func(t *testing.T) string { return pgtest.New(t) },
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := OpenCatalog(t.Context(), CatalogConfig{DSN: dsn(t)})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Ping(t.Context()); err != nil {
				t.Errorf("Ping on an open catalog: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if err := c.Ping(t.Context()); err == nil {
				t.Error("Ping on a closed catalog succeeded")
			}
		})
	}
}
