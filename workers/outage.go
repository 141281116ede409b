package workers

import (
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
)

// serviceOutage reports an error that comes from a service of wildwatch's
// own being out of reach (the catalog's database, the evidence store, the
// queue) rather than from the page or the step: a refused or reset
// connection, a dropped one, a database that cannot be reached. Such a step
// is retried without counting the try, so that an outage longer than the
// retries of a step does not leave the step given up while the catalog
// still counts it pending (a sweep that never ends). Errors of fetches
// (crawler.FetchError) are about the site and always count.
func serviceOutage(err error) bool {
	if err == nil {
		return false
	}
	var fe *crawler.FetchError
	if errors.As(err, &fe) {
		return false
	}
	var oe *net.OpError
	return storage.Unavailable(err) || errors.As(err, &oe) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}
