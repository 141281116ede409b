package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

// SweepController pauses, resumes and cancels sweeps. workers.Client
// implements it; the API serves these actions when Config.Sweeps does.
type SweepController interface {
	PauseSweep(ctx context.Context, id, reason string) (wildwatch.Sweep, error)
	ResumeSweep(ctx context.Context, id string) (wildwatch.Sweep, error)
	CancelSweep(ctx context.Context, id, reason string) (wildwatch.Sweep, error)
}

// sweepControl answers a pause, resume or cancel of the sweep in the path.
func (s *Server) sweepControl(act func(c SweepController, r *http.Request, id string) (wildwatch.Sweep, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.cfg.Sweeps.(SweepController)
		if !ok {
			writeError(w, http.StatusNotImplemented, "this server cannot pause, resume or cancel sweeps")
			return
		}
		sw, err := act(c, r, r.PathValue("id"))
		if errors.Is(err, storage.ErrSweepStatus) {
			writeError(w, http.StatusConflict, err.Error())
			return
		}
		if err != nil {
			s.storeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, sw)
	}
}

func (s *Server) pauseSweep(w http.ResponseWriter, r *http.Request) {
	s.sweepControl(func(c SweepController, r *http.Request, id string) (wildwatch.Sweep, error) {
		return c.PauseSweep(r.Context(), id, "paused by "+principalFrom(r.Context()).Name)
	})(w, r)
}

func (s *Server) resumeSweep(w http.ResponseWriter, r *http.Request) {
	s.sweepControl(func(c SweepController, r *http.Request, id string) (wildwatch.Sweep, error) {
		return c.ResumeSweep(r.Context(), id)
	})(w, r)
}

func (s *Server) cancelSweep(w http.ResponseWriter, r *http.Request) {
	s.sweepControl(func(c SweepController, r *http.Request, id string) (wildwatch.Sweep, error) {
		return c.CancelSweep(r.Context(), id, "cancelled by "+principalFrom(r.Context()).Name)
	})(w, r)
}
