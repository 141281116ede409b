package api

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/wildwatch/wildwatch"
)

// A Check tells whether one service a process depends on answers.
type Check struct {
	// Name names the service in the answer: "catalog", "redis", "evidence".
	Name string
	// Check returns nil when the service answers within ctx.
	Check func(ctx context.Context) error
}

// Probes answers liveness (/healthz) and readiness (/readyz) probes,
// without a token. Liveness says the process serves HTTP; readiness runs
// every check at once, each within Timeout, and answers 200 when all pass,
// 503 otherwise. The answer names each check and its status; why a check
// failed goes to the log only, since the answer is public.
type Probes struct {
	Checks []Check
	// Timeout bounds each check (default 3s).
	Timeout time.Duration
	// Logger receives failed checks; nil discards.
	Logger *slog.Logger
}

// CheckResult is one check in a readiness answer.
type CheckResult struct {
	Name   string `json:"name"`
	Status string `json:"status"` // "ok" or "failed"
	// Millis is how long the check took, in milliseconds.
	Millis int64 `json:"ms"`
}

// Readiness is the readiness answer.
type Readiness struct {
	Status  string        `json:"status"` // "ready" or "not ready"
	Version string        `json:"version"`
	Checks  []CheckResult `json:"checks"`
}

// Register adds GET /healthz and GET /readyz to mux.
func (p *Probes) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", p.Healthz)
	mux.HandleFunc("GET /readyz", p.Readyz)
}

// Healthz answers 200 while the process serves HTTP.
func (p *Probes) Healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": wildwatch.Version})
}

// Readyz runs the checks and answers 200 when every one passes, else 503.
func (p *Probes) Readyz(w http.ResponseWriter, r *http.Request) {
	ready := p.Ready(r.Context())
	status := http.StatusOK
	if ready.Status != "ready" {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, ready)
}

// Ready runs every check at once and returns the readiness answer.
func (p *Probes) Ready(ctx context.Context) Readiness {
	timeout := cmp.Or(p.Timeout, 3*time.Second)
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	results := make([]CheckResult, len(p.Checks))
	var wg sync.WaitGroup
	for i, c := range p.Checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			err := c.Check(cctx)
			res := CheckResult{Name: c.Name, Status: "ok", Millis: time.Since(start).Milliseconds()}
			if err != nil {
				res.Status = "failed"
				log.WarnContext(ctx, "readiness check failed", "check", c.Name, "err", err)
			}
			results[i] = res
		})
	}
	wg.Wait()
	r := Readiness{Status: "ready", Version: wildwatch.Version, Checks: results}
	for _, c := range results {
		if c.Status != "ok" {
			r.Status = "not ready"
		}
	}
	return r
}

// probeKey is the evidence key readiness asks about; it is never stored.
const probeKey = "probes/readyz"

// StoreCheck checks that an evidence store answers: asking for an object
// that is not there must say just that.
func StoreCheck(s wildwatch.EvidenceStore) Check {
	return Check{Name: "evidence", Check: func(ctx context.Context) error {
		_, err := s.Stat(ctx, probeKey)
		if err == nil || errors.Is(err, wildwatch.ErrObjectNotFound) {
			return nil
		}
		return err
	}}
}

// Protect returns h behind the API's tokens: a request needs a token of
// role or a higher one (for /metrics, served beside the API).
func (s *Server) Protect(role string, h http.Handler) http.Handler {
	return s.authenticate(require(role, h.ServeHTTP))
}
