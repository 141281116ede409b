package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
)

// TestSweepControlWithoutController: a server whose Sweeps cannot pause,
// resume or cancel says so, and lists schedules without next runs.
func TestSweepControlWithoutController(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c := b.client(api.RoleMonitor)
	for name, act := range map[string]func(context.Context, string) (wildwatch.Sweep, error){
		"pause": c.PauseSweep, "resume": c.ResumeSweep, "cancel": c.CancelSweep,
	} {
		if _, err := act(ctx, "s1"); status(err) != http.StatusNotImplemented {
			t.Errorf("%s: %v, want 501", name, err)
		}
	}
	if err := b.catalog.PutTarget(ctx, wildwatch.Target{Name: "demo", Schedule: &wildwatch.Schedule{Cron: "@daily"}}, nil); err != nil {
		t.Fatal(err)
	}
	ss, err := c.Schedules(ctx)
	if err != nil || len(ss) != 1 || ss[0].NextRun != nil || ss[0].Schedule == nil || ss[0].LastSweep == nil || ss[0].LastSweep.ID != "s1" {
		t.Errorf("Schedules = %+v, %v", ss, err)
	}
	if _, err := c.SetSchedule(ctx, "demo", nil); status(err) != http.StatusForbidden {
		t.Errorf("a monitor turned a schedule off: %v", err)
	}
}
