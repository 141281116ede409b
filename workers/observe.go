package workers

import (
	"time"

	"github.com/wildwatch/wildwatch"
)

// Observer is told what a Worker's task handlers do, for metrics. Its
// methods are called from many goroutines and must return at once.
type Observer interface {
	// PageFetched reports one page of target fetched statically (mode
	// wildwatch.RenderStatic) or rendered (wildwatch.RenderBrowser),
	// taking d, politeness waits included. c is nil when no response came;
	// err is the fetch's error, if any.
	PageFetched(target, mode string, c *wildwatch.Capture, err error, d time.Duration)
	// FlagRaised reports a new flag.
	FlagRaised(target, category string)
	// SweepError reports a step that failed for good and was recorded on
	// its sweep, by error kind (wildwatch.ErrKind…).
	SweepError(kind string)
}

// nopObserver is the Observer of a Worker configured without one.
type nopObserver struct{}

func (nopObserver) PageFetched(string, string, *wildwatch.Capture, error, time.Duration) {}
func (nopObserver) FlagRaised(string, string)                                            {}
func (nopObserver) SweepError(string)                                                    {}

// observer returns the handlers' Observer, never nil.
func (h *handlers) observer() Observer {
	if h.obs == nil {
		return nopObserver{}
	}
	return h.obs
}

// fetched starts timing a page fetch and returns the func that reports it
// and passes its result through, so that a call site reads
//
//	c, err := h.fetched(t.Name, wildwatch.RenderStatic)(h.fetcher.Fetch(ctx, t, u))
//
// (fetched runs, and the clock starts, before Fetch).
func (h *handlers) fetched(target, mode string) func(*wildwatch.Capture, error) (*wildwatch.Capture, error) {
	start := time.Now()
	return func(c *wildwatch.Capture, err error) (*wildwatch.Capture, error) {
		h.observer().PageFetched(target, mode, c, err, time.Since(start))
		return c, err
	}
}
