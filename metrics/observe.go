package metrics

import (
	"time"

	"github.com/wildwatch/wildwatch"
)

// PageFetched counts a page and its fetch or render time (workers.Observer).
func (m *Metrics) PageFetched(target, mode string, c *wildwatch.Capture, _ error, d time.Duration) {
	m.pages.WithLabelValues(target, mode, statusLabel(c)).Inc()
	if mode == wildwatch.RenderBrowser {
		m.renderSeconds.WithLabelValues(target).Observe(d.Seconds())
	} else {
		m.fetchSeconds.WithLabelValues(target).Observe(d.Seconds())
	}
}

// FlagRaised counts a new flag (workers.Observer).
func (m *Metrics) FlagRaised(target, category string) {
	m.flags.WithLabelValues(target, category).Inc()
}

// SweepError counts a step that failed for good (workers.Observer).
func (m *Metrics) SweepError(kind string) {
	m.sweepErrors.WithLabelValues(kind).Inc()
}

// LimiterWaited records a request's wait for its turn
// (crawler.LimiterObserver).
func (m *Metrics) LimiterWaited(host string, d time.Duration) {
	m.limiterWait.WithLabelValues(m.hosts.label(host)).Observe(d.Seconds())
}

// LimiterHeld records how long a request held its turn
// (crawler.LimiterObserver).
func (m *Metrics) LimiterHeld(host string, d time.Duration) {
	m.requestSeconds.WithLabelValues(m.hosts.label(host)).Observe(d.Seconds())
}

// LimiterRefused counts a request not sent because its host asked for a
// pause (crawler.LimiterObserver).
func (m *Metrics) LimiterRefused(host string, _ time.Duration) {
	m.throttled.WithLabelValues(m.hosts.label(host)).Inc()
}

// HostBackedOff counts a pause asked for by a host
// (crawler.LimiterObserver).
func (m *Metrics) HostBackedOff(host string, d time.Duration) {
	h := m.hosts.label(host)
	m.backoffs.WithLabelValues(h).Inc()
	m.backoffSeconds.WithLabelValues(h).Add(d.Seconds())
}
