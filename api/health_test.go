package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/storage"
)

func probe(t *testing.T, p *api.Probes, path string) (int, string) {
	t.Helper()
	mux := http.NewServeMux()
	p.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestProbes(t *testing.T) {
	t.Parallel()
	down := false
	p := &api.Probes{Timeout: 50 * time.Millisecond, Checks: []api.Check{
		{Name: "catalog", Check: func(context.Context) error { return nil }},
		{Name: "redis", Check: func(context.Context) error {
			if down {
				return errors.New("dial tcp 10.1.2.3:6379: connection refused")
			}
			return nil
		}},
	}}
	if code, body := probe(t, p, "/healthz"); code != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz: %d %s", code, body)
	}
	code, body := probe(t, p, "/readyz")
	var r api.Readiness
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if code != http.StatusOK || r.Status != "ready" || len(r.Checks) != 2 || r.Checks[0].Name != "catalog" || r.Checks[1].Status != "ok" {
		t.Errorf("/readyz with every service up: %d %s", code, body)
	}

	down = true
	code, body = probe(t, p, "/readyz")
	r = api.Readiness{}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if code != http.StatusServiceUnavailable || r.Status != "not ready" || r.Checks[0].Status != "ok" || r.Checks[1].Status != "failed" {
		t.Errorf("/readyz with Redis down: %d %s", code, body)
	}
	if strings.Contains(body, "10.1.2.3") {
		t.Errorf("the public answer shows why the check failed: %s", body)
	}
	// Liveness does not depend on the services.
	if code, _ := probe(t, p, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with Redis down: %d", code)
	}
}

// TestProbesTimeout checks that a check that hangs fails once its timeout
// is over instead of holding the probe.
func TestProbesTimeout(t *testing.T) {
	t.Parallel()
	p := &api.Probes{Timeout: 20 * time.Millisecond, Checks: []api.Check{
		{Name: "evidence", Check: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}},
	}}
	r := p.Ready(context.Background())
	if r.Status != "not ready" || r.Checks[0].Status != "failed" {
		t.Errorf("a hung check: %+v", r)
	}
}

// statFails is an evidence store whose Stat fails.
type statFails struct{ wildwatch.EvidenceStore }

func (statFails) Stat(context.Context, string) (wildwatch.ObjectInfo, error) {
	return wildwatch.ObjectInfo{}, errors.New("bucket gone")
}

func TestStoreCheck(t *testing.T) {
	t.Parallel()
	dir, err := storage.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := api.StoreCheck(dir).Check(context.Background()); err != nil {
		t.Errorf("a working store: %v", err)
	}
	if err := api.StoreCheck(statFails{dir}).Check(context.Background()); err == nil {
		t.Error("a failing store passed")
	}
	// The check writes nothing.
	objs, err := dir.List(context.Background(), "")
	if err != nil || len(objs) != 0 {
		t.Errorf("the store holds %v (%v) after the check", objs, err)
	}
}
