package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/wildwatch/wildwatch"
)

// PauseSweep pauses a queued or running sweep.
func (c *Client) PauseSweep(ctx context.Context, id string) (wildwatch.Sweep, error) {
	return c.sweepAction(ctx, id, "pause")
}

// ResumeSweep resumes a paused sweep where it stopped.
func (c *Client) ResumeSweep(ctx context.Context, id string) (wildwatch.Sweep, error) {
	return c.sweepAction(ctx, id, "resume")
}

// CancelSweep cancels a sweep: its tasks not yet run never will be.
func (c *Client) CancelSweep(ctx context.Context, id string) (wildwatch.Sweep, error) {
	return c.sweepAction(ctx, id, "cancel")
}

func (c *Client) sweepAction(ctx context.Context, id, action string) (wildwatch.Sweep, error) {
	var s wildwatch.Sweep
	return s, c.do(ctx, http.MethodPost, "/api/v1/sweeps/"+url.PathEscape(id)+"/"+action, nil, "", &s)
}

// SetSchedule sets a target's schedule; nil turns it off. It returns the
// target as stored.
func (c *Client) SetSchedule(ctx context.Context, target string, s *wildwatch.Schedule) (wildwatch.Target, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return wildwatch.Target{}, err
	}
	var t wildwatch.Target
	return t, c.do(ctx, http.MethodPut, "/api/v1/targets/"+url.PathEscape(target)+"/schedule", bytes.NewReader(b), "application/json", &t)
}

// Schedules lists every target's schedule, next run and last sweep.
func (c *Client) Schedules(ctx context.Context) ([]TargetSchedule, error) {
	var out []TargetSchedule
	return out, c.do(ctx, http.MethodGet, "/api/v1/schedules", nil, "", &out)
}
