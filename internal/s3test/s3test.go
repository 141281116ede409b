// Package s3test runs a real S3 server, versitygw with its posix backend, for
// tests. Tests that need S3 start one server per test binary (from TestMain
// or a sync.Once) and give each test its own bucket.
//
// The versitygw binary must be installed:
//
//	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
//
// A missing binary is an error, never a reason to skip a test.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// InstallCommand is how to install the server binary Binary looks for.
const InstallCommand = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// Region is the region the server answers for.
const Region = "us-east-1"

// startTimeout bounds how long Start waits for the server to answer when
// ctx has no earlier deadline.
const startTimeout = 30 * time.Second

// Server is a running versitygw. Its root credentials may do everything,
// including creating buckets with object lock (the server keeps object
// versions in a directory of its own, which object lock needs).
type Server struct {
	// Endpoint is host:port, without a scheme; the server speaks plain HTTP.
	Endpoint  string
	AccessKey string
	SecretKey string

	dir  string // the posix backend's directory
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // the process's exit status, set before done closes
	log  string
}

// Binary returns the path of the versitygw binary: the one on $PATH, else
// the one in $GOPATH/bin (or ~/go/bin). It says how to install it when
// neither is there.
func Binary() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var dirs []string
	// bin/tools of the checkout, where `make tools` installs it: the
	// nearest directory above the test's that holds go.mod.
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dirs = append(dirs, filepath.Join(d, "bin", "tools"))
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	gopath := build.Default.GOPATH
	for _, dir := range filepath.SplitList(gopath) {
		dirs = append(dirs, filepath.Join(dir, "bin"))
	}
	for _, dir := range dirs {
		p := filepath.Join(dir, "versitygw")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("versitygw not found on $PATH nor in %s; install it with `make tools` or: %s", strings.Join(dirs, ", "), InstallCommand)
}

// Start runs versitygw on a free 127.0.0.1 port with its posix backend
// storing buckets under dir, and returns once it answers HTTP requests. ctx
// bounds the start only; the server runs until Stop.
func Start(ctx context.Context, dir string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	// A free port can be taken by someone else between our probe and the
	// server's bind; try a few ports before giving up.
	var errs []error
	for range 3 {
		s, err := start(ctx, bin, dir)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil || !errors.Is(err, errExited) {
			break
		}
	}
	return nil, fmt.Errorf("starting versitygw: %w", errors.Join(errs...))
}

var errExited = errors.New("versitygw exited before answering")

func start(ctx context.Context, bin, dir string) (*Server, error) {
	root := filepath.Join(dir, "buckets")
	versions := filepath.Join(dir, "versions")
	for _, d := range []string{root, versions} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Endpoint:  net.JoinHostPort("127.0.0.1", port),
		AccessKey: "root" + randomHex(8),
		SecretKey: randomHex(20),
		dir:       dir,
		log:       filepath.Join(dir, "versitygw-"+port+".log"),
	}
	if err := s.run(ctx, bin); err != nil {
		return nil, err
	}
	return s, nil
}

// run starts the server process on s.Endpoint and waits until it answers.
func (s *Server) run(ctx context.Context, bin string) error {
	s.done = make(chan struct{})
	s.err = nil
	// Appending keeps what an earlier run on the same port wrote.
	logFile, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child keeps its own descriptor

	s.cmd = exec.Command(bin,
		"--port", s.Endpoint,
		"--region", Region,
		"--quiet",
		// versitygw closes every connection unless told to keep them, which
		// a deployment should (deploy/compose.yaml does): without it each
		// request pays a new TCP connection.
		"--keep-alive",
		"posix",
		"--versioning-dir", filepath.Join(s.dir, "versions"),
		filepath.Join(s.dir, "buckets"),
	)
	// Credentials go through the environment rather than argv, where every
	// process on the machine could read them.
	s.cmd.Env = []string{
		"ROOT_ACCESS_KEY_ID=" + s.AccessKey,
		"ROOT_SECRET_ACCESS_KEY=" + s.SecretKey,
	}
	s.cmd.Stdout = logFile
	s.cmd.Stderr = logFile
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("running %s: %w", bin, err)
	}
	cmd, done := s.cmd, s.done
	go func() {
		s.err = cmd.Wait()
		close(done)
	}()

	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop()
		return err
	}
	return nil
}

// Restart starts a stopped server again on the same endpoint, with the same
// credentials and directory, so that clients holding the endpoint reach it
// and find what it stored before; a running server is stopped first. The
// port was free while the server was down, so someone else may have taken
// it: then Restart fails.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	bin, err := Binary()
	if err != nil {
		return err
	}
	if err := s.run(ctx, bin); err != nil {
		return fmt.Errorf("restarting versitygw on %s: %w", s.Endpoint, err)
	}
	return nil
}

// waitReady polls the endpoint until it answers with any HTTP status.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Endpoint+"/", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("%w (%v): %s", errExited, s.err, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("waiting for versitygw on %s: %w: %s", s.Endpoint, ctx.Err(), s.logTail())
		case <-tick.C:
		}
	}
}

// URL is the server's base URL, "http://127.0.0.1:port".
func (s *Server) URL() string { return "http://" + s.Endpoint }

// Stop ends the server: SIGTERM, then SIGKILL if it has not exited after
// ten seconds. It returns nil once the process is gone.
func (s *Server) Stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping versitygw: %w", err)
	}
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-s.done:
		return nil
	case <-t.C:
	}
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing versitygw: %w", err)
	}
	<-s.done
	return nil
}

// logTail returns the last lines the server wrote, for error messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return "no log: " + err.Error()
	}
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	if len(b) == 0 {
		return "empty log " + s.log
	}
	return "log " + s.log + ":\n" + strings.TrimSpace(string(b))
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b)
}
