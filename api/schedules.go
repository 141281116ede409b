package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
)

// ScheduleReporter tells when targets' schedules next start a sweep.
// workers.Client implements it; without it the API leaves next runs out.
type ScheduleReporter interface {
	NextRuns(ctx context.Context, targets []wildwatch.Target) (map[string]time.Time, error)
}

// TargetSchedule is a target's schedule as /api/v1/schedules shows it:
// when it next starts a sweep, and the target's last sweep.
type TargetSchedule struct {
	Target   string              `json:"target"`
	Schedule *wildwatch.Schedule `json:"schedule,omitempty"`
	Revisit  wildwatch.Interval  `json:"revisit,omitempty"`
	// Webhook is the target's own webhook URL, if any.
	Webhook string `json:"webhook,omitempty"`
	// NextRun is when the schedule next starts a sweep, its window heeded;
	// nil without a schedule, or for an every-schedule no running
	// scheduler reports.
	NextRun   *time.Time       `json:"next_run,omitempty"`
	LastSweep *wildwatch.Sweep `json:"last_sweep,omitempty"`
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ts, err := s.cfg.Catalog.ListTargets(ctx)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	next := map[string]time.Time{}
	if rep, ok := s.cfg.Sweeps.(ScheduleReporter); ok {
		if next, err = rep.NextRuns(ctx, ts); err != nil {
			s.cfg.Logger.WarnContext(ctx, "next runs unknown", "err", err)
			next = map[string]time.Time{}
		}
	}
	out := make([]TargetSchedule, 0, len(ts))
	for _, t := range ts {
		ps := TargetSchedule{Target: t.Name, Schedule: t.Schedule, Revisit: t.Revisit}
		if t.Webhook != nil {
			ps.Webhook = t.Webhook.URL
		}
		if n, ok := next[t.Name]; ok {
			ps.NextRun = &n
		}
		last, err := s.cfg.Catalog.LatestSweep(ctx, t.Name)
		switch {
		case err == nil:
			ps.LastSweep = &last
		case !errors.Is(err, storage.ErrNotFound):
			s.storeError(w, r, err)
			return
		}
		out = append(out, ps)
	}
	writeJSON(w, http.StatusOK, out)
}

// putSchedule sets the schedule of the target in the path to the JSON
// schedule in the body, or turns it off for a body of null. The target's
// document is edited and checked as a target applied anew would be; the
// running schedulers follow the change at their next sync.
func (s *Server) putSchedule(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	var sch *wildwatch.Schedule
	if strings.TrimSpace(string(body)) != "null" {
		sch = new(wildwatch.Schedule)
		if !decodeJSON(w, body, sch) {
			return
		}
	}
	ctx := r.Context()
	name := r.PathValue("name")
	t, src, err := s.cfg.Catalog.GetTarget(ctx, name)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	src, t, err = crawler.SetSchedule(name+".yaml", src, t, sch)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.cfg.Catalog.PutTarget(ctx, t, src); err != nil {
		s.storeError(w, r, err)
		return
	}
	s.cfg.Logger.InfoContext(ctx, "schedule changed", "target", name, "by", principalFrom(ctx).Name, "schedule", sch)
	writeJSON(w, http.StatusOK, t)
}

// decodeJSON decodes a JSON body already read, refusing unknown fields.
func decodeJSON(w http.ResponseWriter, body []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error())
		return false
	}
	return true
}
