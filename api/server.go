package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

// SweepStarter starts a sweep of a stored target. workers.Client implements
// it.
type SweepStarter interface {
	StartSweep(ctx context.Context, target string) (wildwatch.Sweep, error)
}

// Config is what the API serves from. All fields but Logger are required.
type Config struct {
	Catalog  *storage.Catalog
	Evidence wildwatch.EvidenceStore
	Sweeps   SweepStarter
	// PublicKey is the deployment's evidence signing key in the form that
	// `wildwatch keys` prints; served at /api/v1/keys.
	PublicKey string
	Logger    *slog.Logger
	// Custody is the evidence access log every read through the API is
	// recorded in; nil means a log in Catalog and Evidence.
	Custody *storage.Custody
	// Links signs share links that the API serves at /links/ for stores
	// that cannot presign URLs (storage.Dir); nil leaves such stores
	// without share links. Stores that are a storage.Presigner (S3) hand
	// out presigned URLs instead.
	Links *storage.LinkSigner
	// PublicURL is the base of the share links the API serves
	// ("https://wildwatch.example.org"); empty means the scheme and host
	// the request creating the link came to.
	PublicURL string
	// Signer signs the case bundles made at /api/v1/bundles with the
	// deployment key; nil answers 503 there. PDF, when set, prints their
	// reports to PDF on request.
	Signer *storage.Signer
	PDF    storage.PDFFunc
}

// Server is the HTTP API. It is an http.Handler.
type Server struct {
	cfg Config
	mux *http.ServeMux
	con *console
}

// maxBody bounds request bodies (targets, reviews).
const maxBody = 1 << 20

// New builds the API server.
func New(cfg Config) (*Server, error) {
	if cfg.Catalog == nil || cfg.Evidence == nil || cfg.Sweeps == nil {
		return nil, errors.New("api: Catalog, Evidence and Sweeps are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Custody == nil {
		cfg.Custody = &storage.Custody{Catalog: cfg.Catalog, Store: cfg.Evidence, Logger: cfg.Logger}
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	if err := s.routes(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) routes() error {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": wildwatch.Version})
	})
	api := http.NewServeMux()
	api.HandleFunc("GET /api/v1/whoami", require(RoleMonitor, s.whoami))
	api.HandleFunc("GET /api/v1/keys", require(RoleMonitor, s.keys))

	api.HandleFunc("GET /api/v1/targets", require(RoleMonitor, s.listTargets))
	api.HandleFunc("GET /api/v1/targets/{name}", require(RoleMonitor, s.getTarget))
	api.HandleFunc("POST /api/v1/targets", require(RoleAdmin, s.applyTarget))

	api.HandleFunc("POST /api/v1/sweeps", require(RoleMonitor, s.startSweep))
	api.HandleFunc("GET /api/v1/sweeps", require(RoleMonitor, s.listSweeps))
	api.HandleFunc("GET /api/v1/sweeps/{id}", require(RoleMonitor, s.getSweep))
	api.HandleFunc("POST /api/v1/sweeps/{id}/pause", require(RoleMonitor, s.pauseSweep))
	api.HandleFunc("POST /api/v1/sweeps/{id}/resume", require(RoleMonitor, s.resumeSweep))
	api.HandleFunc("POST /api/v1/sweeps/{id}/cancel", require(RoleMonitor, s.cancelSweep))
	api.HandleFunc("PUT /api/v1/targets/{name}/schedule", require(RoleAdmin, s.putSchedule))
	api.HandleFunc("GET /api/v1/schedules", require(RoleMonitor, s.listSchedules))

	api.HandleFunc("GET /api/v1/flags", require(RoleMonitor, s.listFlags))
	api.HandleFunc("GET /api/v1/flags/{id}", require(RoleMonitor, s.getFlag))
	api.HandleFunc("POST /api/v1/flags/{id}/reviews", require(RoleMonitor, s.review))

	api.HandleFunc("GET /api/v1/captures/{id}", require(RoleMonitor, s.getCapture))
	api.HandleFunc("GET /api/v1/captures/{id}/warc", require(RoleInvestigator, s.logged(storage.ActionReadWARC, s.captureWARC)))
	api.HandleFunc("GET /api/v1/captures/{id}/manifest", require(RoleInvestigator, s.logged(storage.ActionReadManifest, s.captureManifest)))
	api.HandleFunc("GET /api/v1/captures/{id}/screenshot", require(RoleMonitor, s.logged(storage.ActionReadScreenshot, s.captureScreenshot)))
	api.HandleFunc("GET /api/v1/captures/{id}/dom", require(RoleInvestigator, s.logged(storage.ActionReadDOM, s.captureDOM)))
	api.HandleFunc("GET /api/v1/captures/{id}/extraction", require(RoleMonitor, s.captureExtraction))
	api.HandleFunc("GET /api/v1/captures/{id}/view", require(RoleMonitor, s.captureView))
	api.HandleFunc("GET /api/v1/listings", require(RoleMonitor, s.listListings))
	api.HandleFunc("GET /api/v1/listings/history", require(RoleMonitor, s.listingHistory))
	s.rulesRoutes(api)

	api.HandleFunc("GET /api/v1/custody", require(RoleInvestigator, s.listCustody))
	api.HandleFunc("GET /api/v1/custody/verify", require(RoleAdmin, s.verifyCustody))
	api.HandleFunc("POST /api/v1/links", require(RoleInvestigator, s.createLink))
	api.HandleFunc("POST /api/v1/bundles", require(RoleInvestigator, s.createBundle))
	api.HandleFunc("GET /api/v1/bundles/{id}", require(RoleInvestigator, s.logged(storage.ActionExport, s.getBundle)))
	s.mux.HandleFunc("GET /links/{token}", s.useLink) // no token: the link is the credential
	s.mux.Handle("/api/", s.authenticate(api))
	console, err := s.consoleRoutes()
	if err != nil {
		return err
	}
	s.mux.Handle("/", console)
	return nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, principalFrom(r.Context()))
}

func (s *Server) keys(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"public_key": s.cfg.PublicKey})
}

// errorBody is the JSON body of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// internal answers 500 and logs the cause, which the client does not see.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Logger.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error")
}

// storeError maps catalog errors to answers.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, wildwatch.ErrObjectNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, storage.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		s.internal(w, r, err)
	}
}
