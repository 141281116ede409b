package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/wildwatch/wildwatch/workers"
)

// runAPI runs the HTTP API alone, against the shared Redis, catalog and
// evidence store: sweeps it starts are queued for the workers.
func runAPI(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "api", "api --redis URL --database DSN [flags]")
	var o serviceOptions
	o.register(fs, e.getenv)
	var ops opsOptions
	ops.register(fs, e.getenv)
	addr := fs.String("addr", "127.0.0.1:8080", "API listen address")
	publicURL := publicURLFlag(fs, e.getenv)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.redisURL == "" {
		return usageError{"the API queues sweeps for the workers: give --redis or WILDWATCH_REDIS"}
	}
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
	st.metrics.RefreshHosts(ctx)

	queue, err := workers.NewClient(st.redisURL, st.catalog)
	if err != nil {
		return err
	}
	defer queue.Close()
	srv, err := st.newAPI(queue, *publicURL, e.logger)
	if err != nil {
		return err
	}
	stopOps, err := st.serveOps(ctx, e, ops.metricsAddr)
	if err != nil {
		return err
	}
	defer stopOps()
	httpSrv := &http.Server{Handler: st.apiHandler(srv, e.logger), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()
	e.logger.Info("API serving", "addr", ln.Addr().String())
	fmt.Fprintf(e.out, "API: http://%s\n", ln.Addr())

	select {
	case err := <-served:
		return fmt.Errorf("API: %w", err)
	case <-ctx.Done():
	}
	// Stop taking connections and answer the requests in flight.
	e.logger.Info("API stopping", "within", ops.shutdownTimeout)
	if err := stopWithin(ctx, httpSrv.Shutdown, ops.shutdownTimeout); err != nil {
		return fmt.Errorf("API shutdown: %w", err)
	}
	return nil
}
