package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"
	_ "time/tzdata" // schedules name IANA time zones; hosts without zoneinfo still know them

	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
	"github.com/wildwatch/wildwatch/workers"
)

// runScheduler fires the targets' schedules, alone: the sweeps it starts
// are run by workers sharing its Redis.
func runScheduler(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "scheduler", "scheduler --redis URL [--database DSN] [--sync-interval 10s]")
	var o serviceOptions
	o.register(fs, e.getenv)
	var ops opsOptions
	ops.register(fs, e.getenv)
	sync := fs.Duration("sync-interval", 10*time.Second, "how often the schedules are read again from the catalog; an edited schedule is followed within it")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.redisURL == "" {
		return usageError{"a scheduler needs the workers' queue: give --redis or WILDWATCH_REDIS"}
	}
	dsn := cmp.Or(o.databaseDSN, filepath.Join(o.dataDir, "wildwatch.db"))
	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: dsn, Logger: e.logger})
	if err != nil {
		return fmt.Errorf("opening catalog: %w", err)
	}
	defer cat.Close()
	stopOps, err := serveRoleOps(ctx, e, ops.metricsAddr, o.redisURL, cat)
	if err != nil {
		return err
	}
	defer stopOps()
	s, err := workers.NewScheduler(workers.SchedulerConfig{RedisURL: o.redisURL, Catalog: cat, SyncInterval: *sync, Logger: e.logger})
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	e.logger.Info("scheduler stopping")
	return stopWithin(ctx, s.Stop, ops.shutdownTimeout)
}

// startScheduler runs a scheduler on the stack's queue and catalog, for
// serve; stop stops it.
func startScheduler(ctx context.Context, st *stack, logger *slog.Logger, sync time.Duration) (stop func(), err error) {
	s, err := workers.NewScheduler(workers.SchedulerConfig{RedisURL: st.redisURL, Catalog: st.catalog, SyncInterval: sync, Logger: logger})
	if err != nil {
		return nil, err
	}
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	return func() { _ = stopWithin(ctx, s.Stop, 10*time.Second) }, nil
}

// webhookOptions say where workers announce sweeps that raised flags.
type webhookOptions struct {
	url          string
	allowPrivate bool
	publicURL    *string
	sync         time.Duration
	getenv       func(string) string
}

// registerWebhookFlags registers --webhook-url, and --public-url unless
// the command has it already (publicURL not nil), and --schedule-sync for
// serve.
func registerWebhookFlags(fs *flag.FlagSet, getenv func(string) string, publicURL *string) *webhookOptions {
	w := &webhookOptions{getenv: getenv, publicURL: publicURL}
	fs.StringVar(&w.url, "webhook-url", getenv("WILDWATCH_WEBHOOK_URL"), "tell this URL of every sweep that ends having raised flags (signed JSON POST; secret from WILDWATCH_WEBHOOK_SECRET); targets may name webhooks of their own (env WILDWATCH_WEBHOOK_URL)")
	fs.BoolVar(&w.allowPrivate, "webhook-allow-private", false, "let --webhook-url be on a loopback, private or link-local address (refused by default, like crawl targets; a target's own webhook follows its allow_private_addresses)")
	if publicURL == nil {
		w.publicURL = fs.String("public-url", getenv("WILDWATCH_PUBLIC_URL"), "the API's address as monitors reach it (https://wildwatch.example.org), for the links in webhooks (env WILDWATCH_PUBLIC_URL)")
	} else {
		fs.DurationVar(&w.sync, "schedule-sync", 10*time.Second, "how often the scheduler reads the schedules again from the catalog")
	}
	return w
}

// config is the workers' webhook configuration. A target's webhook names
// the environment variable of its secret, read when it is sent; only
// variables named WILDWATCH_WEBHOOK_… are read.
func (w *webhookOptions) config() (workers.WebhookConfig, error) {
	lookup := func(name string) string {
		if !strings.HasPrefix(name, crawler.WebhookSecretPrefix) {
			return ""
		}
		return w.getenv(name)
	}
	c := workers.WebhookConfig{URL: w.url, Secret: w.getenv("WILDWATCH_WEBHOOK_SECRET"), LookupSecret: lookup, PublicURL: *w.publicURL, AllowPrivate: w.allowPrivate}
	if c.URL != "" && c.Secret == "" {
		return c, usageError{"--webhook-url needs WILDWATCH_WEBHOOK_SECRET to sign with"}
	}
	return c, nil
}
