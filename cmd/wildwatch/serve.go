package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/demosite"
	"github.com/wildwatch/wildwatch/storage"
	"github.com/wildwatch/wildwatch/workers"
)

func runServe(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "serve", "serve [flags]")
	var o serviceOptions
	o.register(fs, e.getenv)
	var ops opsOptions
	ops.register(fs, e.getenv)
	addr := fs.String("addr", "127.0.0.1:8080", "API listen address")
	publicURL := publicURLFlag(fs, e.getenv)
	concurrency := fs.Int("concurrency", 8, "tasks handled at once")
	hooks := registerWebhookFlags(fs, e.getenv, publicURL)
	demo := fs.Bool("demo", false, "also serve the demo marketplace and apply its target")
	demoAddr := fs.String("demo-addr", "127.0.0.1:8090", "demo marketplace listen address (with --demo)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	// Take the API address first, so a busy port fails before anything starts.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("API listen: %w", err)
	}
	defer ln.Close()
	st, err := openStack(ctx, o, e.logger)
	if err != nil {
		return err
	}
	defer st.close(ctx)
	st.shutdownTimeout = ops.shutdownTimeout
	st.metrics.RefreshHosts(ctx)
	if st.webhooks, err = hooks.config(); err != nil {
		return err
	}

	queue, stop, err := st.startWorker(ctx, e.logger, *concurrency)
	if err != nil {
		return err
	}
	defer stop()
	stopScheduler, err := startScheduler(ctx, st, e.logger, hooks.sync)
	if err != nil {
		return err
	}
	defer stopScheduler()
	stopOps, err := st.serveOps(ctx, e, ops.metricsAddr)
	if err != nil {
		return err
	}
	defer stopOps()
	srv, err := st.newAPI(queue, *publicURL, e.logger)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{Handler: st.apiHandler(srv, e.logger), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = httpSrv.Serve(ln) }()
	// On the way out the API stops taking connections and answers the
	// requests it has; then the worker finishes or returns its tasks.
	defer stopWithin(ctx, httpSrv.Shutdown, ops.shutdownTimeout)

	if *demo {
		base, stopDemo, err := startDemo(ctx, e, *demoAddr)
		if err != nil {
			return err
		}
		defer stopDemo()
		src := demosite.TargetYAML(base)
		t, err := crawler.ParseTarget("demo-target.yaml", src)
		if err != nil {
			return fmt.Errorf("demo target: %w", err)
		}
		if err := st.catalog.PutTarget(ctx, t, src); err != nil {
			return err
		}
		fmt.Fprintf(e.out, "demo marketplace: %s (target %q applied)\n", base, t.Name)
	}
	token, err := adminToken(ctx, st.catalog, o.dataDir)
	if err != nil {
		return err
	}
	apiURL := "http://" + ln.Addr().String()
	fmt.Fprintf(e.out, "API: %s\nadmin token: %s\n", apiURL, token)
	fmt.Fprintf(e.out, "console: %s/ (sign in with the admin token, or add people with `wildwatch user add`)\n", apiURL)
	fmt.Fprintf(e.out, "try: WILDWATCH_SERVER=%s WILDWATCH_TOKEN=%s wildwatch sweep start demo --follow\n", apiURL, token)
	<-ctx.Done()
	e.logger.Info("shutting down", "within", ops.shutdownTimeout)
	return nil
}

func runWorker(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "worker", "worker --redis URL [flags]")
	var o serviceOptions
	o.register(fs, e.getenv)
	var ops opsOptions
	ops.register(fs, e.getenv)
	concurrency := fs.Int("concurrency", 8, "tasks handled at once")
	queues := fs.String("queues", "", "comma-separated queues to serve (default: all: "+workers.QueueSweep+","+workers.QueueStatic+")")
	hooks := registerWebhookFlags(fs, e.getenv, nil)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.redisURL == "" {
		return usageError{"a worker needs a shared queue: give --redis or WILDWATCH_REDIS"}
	}
	st, err := openStack(ctx, o, e.logger)
	if err != nil {
		return err
	}
	defer st.close(ctx)
	st.shutdownTimeout = ops.shutdownTimeout
	if st.webhooks, err = hooks.config(); err != nil {
		return err
	}
	w, err := st.newWorker(e.logger, *concurrency, *queues)
	if err != nil {
		return err
	}
	stopOps, err := st.serveOps(ctx, e, ops.metricsAddr)
	if err != nil {
		return err
	}
	defer stopOps()
	if err := w.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	// No new tasks are taken from here on; tasks in flight have the
	// shutdown timeout to finish, and the rest go back to the queue.
	e.logger.Info("worker stopping", "within", ops.shutdownTimeout)
	if err := stopWithin(ctx, w.Stop, st.stopTimeout()); err != nil {
		return err
	}
	e.logger.Info("worker stopped")
	return nil
}

func runDemoSite(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "demo-site", "demo-site [--addr 127.0.0.1:8090] [--truth]")
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	truth := fs.Bool("truth", false, "print the listing URLs a correct sweep flags, one per line, and exit")
	target := fs.Bool("target", false, "print the demo target YAML for this address and exit")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	base := "http://" + *addr
	switch {
	case *truth:
		for _, u := range demosite.New(demosite.Config{}).Truth(base) {
			fmt.Fprintln(e.out, u)
		}
		return nil
	case *target:
		_, err := e.out.Write(demosite.TargetYAML(base))
		return err
	}
	base, stop, err := startDemo(ctx, e, *addr)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(e.out, "demo marketplace: %s\n", base)
	<-ctx.Done()
	return nil
}

// startDemo serves the demo marketplace on addr and returns its base URL.
func startDemo(ctx context.Context, e *cmdEnv, addr string) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("demo site listen: %w", err)
	}
	srv := &http.Server{Handler: demosite.New(demosite.Config{Logger: e.logger}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = stopWithin(ctx, srv.Shutdown, 5*time.Second) }, nil
}

// adminToken returns the admin token kept in DATA/admin.token, creating it
// (and its catalog entry) on first start.
func adminToken(ctx context.Context, cat *storage.Catalog, dataDir string) (string, error) {
	path := filepath.Join(dataDir, "admin.token")
	if b, err := os.ReadFile(path); err == nil {
		token := strings.TrimSpace(string(b))
		if _, err := cat.TokenByHash(ctx, api.HashToken(token)); err == nil {
			return token, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	token, hash, err := api.NewToken()
	if err != nil {
		return "", err
	}
	if err := cat.PutToken(ctx, storage.Token{Name: "admin", Role: api.RoleAdmin, Hash: hash, CreatedAt: time.Now().UTC()}); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", err
	}
	return token, nil
}

// stopWithin calls stop with a context that ends after d, even when ctx is
// already cancelled by the signal that asked us to stop.
func stopWithin(ctx context.Context, stop func(context.Context) error, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d)
	defer cancel()
	return stop(ctx)
}
