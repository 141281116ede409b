package metrics

import (
	"context"
	"net"
	"strings"
	"sync"
)

// otherHost labels every host that is not an allowed host of a target.
const otherHost = "other"

// hostSet is the set of host names that may be labels.
type hostSet struct {
	mu    sync.RWMutex
	names map[string]bool
}

// label returns the label of a limiter host ("host" or "host:port"): its
// lower-cased host name when that is allowed, otherHost otherwise. Ports
// are dropped, so that links to many ports of one host stay one label.
func (s *hostSet) label(host string) string {
	name := strings.ToLower(host)
	if h, _, err := net.SplitHostPort(name); err == nil {
		name = h
	}
	name = strings.Trim(name, "[]")
	s.mu.RLock()
	ok := s.names[name]
	s.mu.RUnlock()
	if !ok {
		return otherHost
	}
	return name
}

func (s *hostSet) set(names []string) {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[strings.Trim(strings.ToLower(n), "[]")] = true
	}
	s.mu.Lock()
	s.names = m
	s.mu.Unlock()
}

// RefreshHosts asks Config.Hosts for the host names that may be labels.
// Call it once at start; the handler calls it on every scrape. On failure
// the names known before are kept.
func (m *Metrics) RefreshHosts(ctx context.Context) {
	if m.cfg.Hosts == nil {
		return
	}
	names, err := m.cfg.Hosts(ctx)
	if err != nil {
		m.scrapeErrors.WithLabelValues("hosts").Inc()
		m.cfg.Logger.WarnContext(ctx, "metrics: reading the targets' hosts", "err", err)
		return
	}
	m.hosts.set(names)
}
