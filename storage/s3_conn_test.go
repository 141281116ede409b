package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wildwatch/wildwatch"
)

// keepAliveProxy is a reverse proxy to the package's S3 server that keeps
// its clients' connections open between requests and counts the
// connections they open. The server (versitygw) closes every connection
// after one answer unless it runs with --keep-alive; behind the proxy what
// is counted is whether the store reuses its connections.
type keepAliveProxy struct {
	*httptest.Server
	conns atomic.Int64
}

func newKeepAliveProxy(t *testing.T) *keepAliveProxy {
	t.Helper()
	target, err := url.Parse(testS3Server(t).URL())
	if err != nil {
		t.Fatal(err)
	}
	p := &keepAliveProxy{}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
	p.Server = httptest.NewUnstartedServer(rp)
	p.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			p.conns.Add(1)
		}
	}
	p.Start()
	t.Cleanup(p.Close)
	return p
}

// TestS3ReusesConnections makes one request after another of every kind the
// store sends (PUT, PUT refused with 412, HEAD, HEAD of a missing key, GET
// read to the end, GET closed early, GET of a missing key, LIST): all of
// them go over the connection the store opened first. A response body left
// unread or a transport without keep-alive makes each request dial anew.
func TestS3ReusesConnections(t *testing.T) {
	t.Parallel()
	proxy := newKeepAliveProxy(t)
	s := newTestS3(t, func(c *S3Config) { c.Endpoint = strings.TrimPrefix(proxy.URL, "http://") })
	ctx := context.Background()
	before := proxy.conns.Load()
	if before == 0 {
		t.Fatal("NewS3 made no connection through the proxy")
	}
	const n = 8
	big := bytes.Repeat([]byte("evidence "), 4<<10) // more than one read
	for i := range n {
		key := fmt.Sprintf("k/%d", i)
		data := append([]byte(key), big...)
		if _, err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), ""); err != nil {
			t.Fatal(err)
		}
		// Small, so that the server has read the whole request when it
		// refuses it: a server that answers before reading a large body
		// resets the connection, whoever the client.
		small := []byte(key)
		if _, err := s.Put(ctx, key+"-small", bytes.NewReader(small), int64(len(small)), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, key+"-small", bytes.NewReader(small), int64(len(small)), ""); !errors.Is(err, wildwatch.ErrObjectExists) {
			t.Fatalf("second Put = %v, want ErrObjectExists", err)
		}
		if _, err := s.Stat(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, key+"-missing"); !errors.Is(err, wildwatch.ErrObjectNotFound) {
			t.Fatalf("Stat of a missing key = %v", err)
		}
		rc, _, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get read %d bytes, err %v; want the %d stored", len(got), err, len(data))
		}
		// A reader closed before the end: a small rest is drained so the
		// connection stays usable.
		rc, _, err = s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(rc, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if _, _, err := s.Get(ctx, key+"-missing"); !errors.Is(err, wildwatch.ErrObjectNotFound) {
			t.Fatalf("Get of a missing key = %v", err)
		}
	}
	if objs, err := s.List(ctx, "k/"); err != nil || len(objs) != 2*n {
		t.Fatalf("List = %d objects, %v; want %d", len(objs), err, 2*n)
	}
	if got := proxy.conns.Load() - before; got != 0 {
		t.Errorf("%d requests in a row opened %d new connections, want 0 (the one open is reused)", n*8+1, got)
	}
}
