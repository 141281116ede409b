package workers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/rules"
	"github.com/wildwatch/wildwatch/storage"
)

// MatcherSource gives the matcher a task should use now.
type MatcherSource interface {
	Matcher(ctx context.Context) (wildwatch.Matcher, error)
}

// StaticMatcher is a MatcherSource that never changes.
type StaticMatcher struct{ M wildwatch.Matcher }

// Matcher implements MatcherSource.
func (s StaticMatcher) Matcher(context.Context) (wildwatch.Matcher, error) { return s.M, nil }

// ActiveRules follows the catalog's active rule set: a worker picks up a
// newly activated version within Refresh, without a restart. Each version is
// compiled once. Until a rule set is active, Fallback is used.
type ActiveRules struct {
	Catalog  *storage.Catalog
	Fallback wildwatch.Matcher
	// Refresh is how long a looked-up version is trusted (default 5s).
	Refresh time.Duration
	Logger  *slog.Logger

	mu      sync.Mutex
	checked time.Time
	sha     string
	current wildwatch.Matcher
}

var _ MatcherSource = (*ActiveRules)(nil)

// Matcher implements MatcherSource.
func (a *ActiveRules) Matcher(ctx context.Context) (wildwatch.Matcher, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	refresh := a.Refresh
	if refresh == 0 {
		refresh = 5 * time.Second
	}
	if a.current != nil && time.Since(a.checked) < refresh {
		return a.current, nil
	}
	v, err := a.Catalog.ActiveRuleSet(ctx)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		a.checked, a.current, a.sha = time.Now(), a.Fallback, ""
		return a.current, nil
	case err != nil:
		if a.current != nil {
			// Keep matching with the rules we have; the catalog is checked
			// again on the next task.
			return a.current, nil
		}
		return nil, fmt.Errorf("loading active rule set: %w", err)
	}
	a.checked = time.Now()
	if v.SHA256 == a.sha && a.current != nil {
		return a.current, nil
	}
	m, err := rules.CompileVersion(v.Name, v.Version, v.Source)
	if err != nil {
		return nil, err
	}
	if a.Logger != nil {
		a.Logger.InfoContext(ctx, "rule set activated", "rules", m.Version())
	}
	a.sha, a.current = v.SHA256, m
	return m, nil
}
