package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
	"github.com/wildwatch/wildwatch/workers"
)

// TestScheduleAndLifecycleCLI drives targets schedule, targets list and
// sweep pause, resume and cancel against an API on an in-process queue.
func TestScheduleAndLifecycleCLI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: filepath.Join(dir, "wildwatch.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	store, err := storage.NewDir(filepath.Join(dir, "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	redis, err := workers.StartEmbeddedRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(redis.Stop)
	queue, err := workers.NewClient(redis.URL(), cat)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { queue.Close() })
	srv, err := api.New(api.Config{Catalog: cat, Evidence: store, Sweeps: queue})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	token, hash, err := api.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.PutToken(ctx, storage.Token{Name: "admin", Role: api.RoleAdmin, Hash: hash, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"WILDWATCH_SERVER": hs.URL, "WILDWATCH_TOKEN": token}
	cli := func(args ...string) (string, int) {
		out, _, code := custodyCLI(t, env, args...)
		return out, code
	}
	src := []byte("# A shop.\nname: shop\nallowed_hosts: [shop.example]\nstart_urls: [https://shop.example/list]\n" +
		"selectors:\n  listing_links: a.item\n  fields:\n    title: h1\n")
	tg, err := crawler.ParseTarget("shop.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.PutTarget(ctx, tg, src); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"targets", "schedule", "shop", "--every", "6h", "--window", "22:00-06:00", "--tz", "Europe/Berlin"}, 0,
			`target "shop": every 6h window 22:00-06:00 Europe/Berlin`},
		{[]string{"targets", "schedule", "shop", "--cron", "0 3 * * *", "--tz", "UTC"}, 0, `target "shop": cron 0 3 * * * UTC`},
		{[]string{"targets", "schedule", "shop"}, 2, ""},
		{[]string{"targets", "schedule", "shop", "--cron", "@daily", "--every", "1h"}, 2, ""},
		{[]string{"targets", "schedule", "shop", "--off", "--every", "1h"}, 2, ""},
		{[]string{"targets", "schedule", "shop", "--every", "soon"}, 2, ""},
		{[]string{"targets", "schedule", "shop", "--cron", "0 3 * *"}, 1, ""},
		{[]string{"targets", "schedule", "nope", "--every", "1h"}, 1, ""},
	} {
		out, code := cli(tc.args...)
		if code != tc.code || !strings.Contains(out, tc.out) {
			t.Errorf("wildwatch %s: exit %d, %q; want %d, %q", strings.Join(tc.args, " "), code, out, tc.code, tc.out)
		}
	}
	_, stored, err := cat.GetTarget(ctx, "shop")
	if err != nil || !strings.HasPrefix(string(stored), "# A shop.\n") || !strings.Contains(string(stored), "cron: 0 3 * * *") {
		t.Errorf("stored document %q, %v", stored, err)
	}

	// A sweep of the shop, paused, resumed, cancelled.
	sw := wildwatch.Sweep{ID: "s1", Target: "shop", CreatedAt: time.Now().UTC()}
	if err := cat.CreateSweep(ctx, sw, tg); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.AddTask(ctx, storage.SweepTask{SweepID: "s1", Key: "start", Kind: "start"}); err != nil {
		t.Fatal(err)
	}
	step := func(want string, args ...string) wildwatch.Sweep {
		t.Helper()
		out, code := cli(args...)
		var got wildwatch.Sweep
		if code != 0 || json.Unmarshal([]byte(out), &got) != nil || got.Status != want {
			t.Fatalf("wildwatch %s: exit %d, %s; want status %s", strings.Join(args, " "), code, out, want)
		}
		return got
	}
	if got := step(wildwatch.SweepPaused, "sweep", "pause", "s1"); got.Reason != "paused by admin" {
		t.Errorf("paused sweep reason %q", got.Reason)
	}
	out, code := cli("sweep", "status", "s1")
	if code != 0 || !strings.Contains(out, `"status": "paused"`) || !strings.Contains(out, `"reason": "paused by admin"`) {
		t.Errorf("sweep status: %d %s", code, out)
	}
	if _, code := cli("sweep", "pause", "s1"); code != 1 {
		t.Errorf("pausing a paused sweep exited %d, want 1", code)
	}
	step(wildwatch.SweepRunning, "sweep", "resume", "s1")

	// targets list shows the schedule, its next run and the last sweep.
	out, code = cli("targets", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "TARGET") ||
		!strings.Contains(lines[1], "cron 0 3 * * * UTC") || !strings.Contains(lines[1], "s1") || !strings.Contains(lines[1], "running") {
		t.Errorf("targets list: %d\n%s", code, out)
	}
	out, code = cli("targets", "list", "--json")
	var ss []api.TargetSchedule
	if code != 0 || json.Unmarshal([]byte(out), &ss) != nil || len(ss) != 1 || ss[0].NextRun == nil ||
		ss[0].NextRun.UTC().Hour() != 3 || ss[0].LastSweep == nil || ss[0].LastSweep.ID != "s1" {
		t.Errorf("targets list --json: %d %s", code, out)
	}

	if got := step(wildwatch.SweepCancelled, "sweep", "cancel", "s1"); got.Reason != "cancelled by admin" || got.FinishedAt == nil {
		t.Errorf("cancelled sweep %+v", got)
	}
	if _, code := cli("sweep", "resume", "s1"); code != 1 {
		t.Errorf("resuming a cancelled sweep exited %d, want 1", code)
	}
	if _, code := cli("targets", "schedule", "shop", "--off"); code != 0 {
		t.Errorf("targets schedule --off exited %d", code)
	}
	out, _ = cli("targets", "list")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || strings.Join(strings.Fields(lines[1])[:3], " ") != "shop - -" {
		t.Errorf("targets list after --off:\n%s", out)
	}
	if _, code := cli("scheduler"); code != 2 {
		t.Errorf("scheduler without --redis exited %d, want 2", code)
	}
}

func TestWebhookOptions(t *testing.T) {
	t.Parallel()
	env := map[string]string{"WILDWATCH_WEBHOOK_SHOP": "shop-secret", "WILDWATCH_S3_SECRET_KEY": "s3-secret",
		"WILDWATCH_WEBHOOK_URL": "https://hooks.example/all", "WILDWATCH_PUBLIC_URL": "https://ww.example"}
	getenv := func(k string) string { return env[k] }
	parse := func(args ...string) (workers.WebhookConfig, error) {
		fs := newFlagSet(&cmdEnv{streams: streams{err: io.Discard}}, "worker", "worker")
		w := registerWebhookFlags(fs, getenv, nil)
		if _, err := parseFlags(fs, args); err != nil {
			t.Fatal(err)
		}
		return w.config()
	}
	if _, err := parse(); err == nil {
		t.Error("a global webhook without WILDWATCH_WEBHOOK_SECRET accepted")
	}
	env["WILDWATCH_WEBHOOK_SECRET"] = "global-secret"
	c, err := parse("--webhook-url", "https://hooks.example/other")
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "https://hooks.example/other" || c.Secret != "global-secret" || c.PublicURL != "https://ww.example" {
		t.Errorf("config %+v", c)
	}
	if got := c.LookupSecret("WILDWATCH_WEBHOOK_SHOP"); got != "shop-secret" {
		t.Errorf("LookupSecret(WILDWATCH_WEBHOOK_SHOP) = %q", got)
	}
	if got := c.LookupSecret("WILDWATCH_S3_SECRET_KEY"); got != "" {
		t.Errorf("a webhook was lent the S3 secret: %q", got)
	}
}
