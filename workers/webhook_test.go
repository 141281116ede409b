package workers_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/rules"
	"github.com/wildwatch/wildwatch/storage"
	"github.com/wildwatch/wildwatch/workers"
)

// receiver is a webhook endpoint that checks every delivery's signature
// and refuses the first failFirst of them with a 500.
type receiver struct {
	*httptest.Server
	secret    string
	failFirst int

	mu        sync.Mutex
	attempts  int
	bad       []string
	delivered []delivered
}

type delivered struct {
	header http.Header
	body   []byte
	a      workers.Announcement
}

func newReceiver(t *testing.T, secret string, failFirst int) *receiver {
	r := &receiver{secret: secret, failFirst: failFirst}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.attempts++
		if err := workers.VerifyWebhook([]byte(r.secret), req.Header, body, time.Now(), 5*time.Minute); err != nil {
			r.bad = append(r.bad, err.Error())
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if r.attempts <= r.failFirst {
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return
		}
		var a workers.Announcement
		if err := json.Unmarshal(body, &a); err != nil {
			r.bad = append(r.bad, err.Error())
		}
		r.delivered = append(r.delivered, delivered{header: req.Header.Clone(), body: body, a: a})
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) wait(t *testing.T, n int) []delivered {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r.mu.Lock()
		got := append([]delivered(nil), r.delivered...)
		bad := append([]string(nil), r.bad...)
		r.mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("bad deliveries: %v", bad)
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries, want %d", len(got), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhooks sweeps the tiny site, which flags one listing: the target's
// webhook, down at first, gets the signed announcement once it is up
// again, and so does the global one; a sweep without new flags announces
// nothing.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	own := newReceiver(t, "target-secret", 2)
	global := newReceiver(t, "global-secret", 0)
	secrets := map[string]string{"WILDWATCH_WEBHOOK_TINY": "target-secret"}
	b := setupWith(t, func(c *workers.Config) {
		// The receivers are on loopback: allowed explicitly, for the
		// global webhook here and for the target's by the target.
		c.Webhooks = workers.WebhookConfig{URL: global.URL + "/all", Secret: "global-secret", PublicURL: "https://wildwatch.example.org/",
			LookupSecret: func(name string) string { return secrets[name] }, AllowPrivate: true}
	})
	tg := b.target
	tg.Webhook = &wildwatch.Webhook{URL: own.URL + "/hook", SecretEnv: "WILDWATCH_WEBHOOK_TINY"}
	if !tg.Politeness.AllowPrivate {
		t.Fatal("the tiny target must allow private addresses")
	}
	s := b.sweep(t, tg)
	if s.Counts.Flags != 1 {
		t.Fatalf("sweep %+v; want one flag", s.Counts)
	}
	flags, err := b.catalog.ListFlags(ctx, storage.FlagFilter{SweepID: s.ID})
	if err != nil {
		t.Fatal(err)
	}
	got := own.wait(t, 1)[0]
	own.mu.Lock()
	attempts := own.attempts
	own.mu.Unlock()
	if attempts != 3 {
		t.Errorf("%d attempts, want 2 refused and 1 delivered", attempts)
	}
	a := got.a
	if a.Event != workers.EventSweepFlags || a.Sweep != s.ID || a.Target != tg.Name || a.Status != wildwatch.SweepFinished ||
		a.Counts.Flags != 1 || a.Counts.Captures != 3 || a.Link != "https://wildwatch.example.org/api/v1/sweeps/"+s.ID {
		t.Errorf("announcement %+v", a)
	}
	want := workers.AnnouncedFlag{ID: flags[0].ID, URL: flags[0].URL, Category: "ivory", Score: flags[0].Score,
		Link: "https://wildwatch.example.org/api/v1/flags/" + flags[0].ID}
	if len(a.Flags) != 1 || a.Flags[0] != want || !strings.HasSuffix(want.URL, "/item/1") {
		t.Errorf("announced flags %+v, want %+v", a.Flags, want)
	}
	if h := got.header; h.Get(workers.HeaderEvent) != workers.EventSweepFlags || h.Get(workers.HeaderDelivery) != s.ID+"/target" ||
		!strings.HasPrefix(h.Get(workers.HeaderSignature), "sha256=") || h.Get("Content-Type") != "application/json" {
		t.Errorf("delivery headers %v", h)
	}
	// The signature covers the timestamp and the body.
	if err := workers.VerifyWebhook([]byte("target-secret"), got.header, append(got.body, ' '), time.Now(), time.Minute); err == nil {
		t.Error("a changed body verified")
	}
	h := got.header.Clone()
	h.Set(workers.HeaderTimestamp, "1")
	if err := workers.VerifyWebhook([]byte("target-secret"), h, got.body, time.Now(), time.Minute); err == nil {
		t.Error("a changed timestamp verified")
	}
	if err := workers.VerifyWebhook([]byte("other"), got.header, got.body, time.Now(), time.Minute); err == nil {
		t.Error("another secret verified")
	}
	g := global.wait(t, 1)[0]
	if g.a.Sweep != s.ID || len(g.a.Flags) != 1 || g.header.Get(workers.HeaderDelivery) != s.ID+"/global" {
		t.Errorf("global delivery %+v", g.a)
	}

	// The same content again: no new flag, nothing announced.
	s2 := b.sweep(t, tg)
	if s2.Counts.Flags != 0 {
		t.Fatalf("second sweep %+v", s2.Counts)
	}
	b.quietReceivers(t, own, global)
}

// quietReceivers checks, for a while, that no delivery comes.
func (b *bundle) quietReceivers(t *testing.T, rs ...*receiver) {
	t.Helper()
	count := func() int {
		n := 0
		for _, r := range rs {
			r.mu.Lock()
			n += r.attempts
			r.mu.Unlock()
		}
		return n
	}
	before := count()
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if count() != before {
			t.Fatal("a sweep without new flags was announced")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWebhookConfig(t *testing.T) {
	t.Parallel()
	b := newStack(t, 1)
	m, err := rules.Compile(rules.Default())
	if err != nil {
		t.Fatal(err)
	}
	f := crawler.New(crawler.Config{})
	t.Cleanup(f.Close)
	cfg := workers.Config{RedisURL: b.redisURL, Catalog: b.catalog, Evidence: b.evidence, Fetcher: f, Matcher: m}
	for name, wc := range map[string]workers.WebhookConfig{
		"no secret":    {URL: "https://hooks.example/x"},
		"relative url": {URL: "/x", Secret: "s"},
		"ftp":          {URL: "ftp://hooks.example/x", Secret: "s"},
	} {
		cfg.Webhooks = wc
		if _, err := workers.NewWorker(cfg); err == nil {
			t.Errorf("%s: NewWorker accepted %+v", name, wc)
		}
	}
	cfg.Webhooks = workers.WebhookConfig{URL: "https://hooks.example/x", Secret: "s"}
	if _, err := workers.NewWorker(cfg); err != nil {
		t.Errorf("NewWorker with a global webhook: %v", err)
	}
	mac := hmac.New(sha256.New, []byte("key"))
	mac.Write([]byte(`1700000000.{"a":1}`))
	if got, want := workers.SignWebhook([]byte("key"), "1700000000", []byte(`{"a":1}`)), "sha256="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("SignWebhook = %q, want %q", got, want)
	}
}

// TestWebhookAddressGuard: a webhook on a loopback address, with private
// addresses not allowed, is refused by the crawler's address guard: the
// receiver is never asked, the refusal is recorded on the sweep as a guard
// error and the delivery is not retried.
func TestWebhookAddressGuard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	global := newReceiver(t, "global-secret", 0)
	b := setupWith(t, func(c *workers.Config) {
		c.Webhooks = workers.WebhookConfig{URL: global.URL + "/all", Secret: "global-secret"}
	})
	s := b.sweep(t, b.target)
	if s.Counts.Flags != 1 {
		t.Fatalf("sweep %+v; want one flag", s.Counts)
	}

	opt, err := asynq.ParseRedisURI(b.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(opt)
	t.Cleanup(func() { insp.Close() })
	deadline := time.Now().Add(30 * time.Second)
	var archived *asynq.TaskInfo
	for archived == nil {
		tasks, err := insp.ListArchivedTasks(workers.QueueSweep)
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			t.Fatal(err)
		}
		for _, ti := range tasks {
			if ti.Type == workers.TypeWebhook {
				archived = ti
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the refused delivery was not given up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if archived.Retried != 0 || !strings.Contains(archived.LastErr, "address guard refused") {
		t.Errorf("refused delivery retried %d times, last error %q", archived.Retried, archived.LastErr)
	}
	errs, err := b.catalog.SweepErrors(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var recorded bool
	for _, e := range errs {
		if e.Kind == wildwatch.ErrKindGuard && e.URL == global.URL+"/all" && strings.Contains(e.Message, "loopback") {
			recorded = true
		}
	}
	if !recorded {
		t.Errorf("sweep errors %+v, want the refused webhook", errs)
	}
	global.mu.Lock()
	defer global.mu.Unlock()
	if global.attempts != 0 {
		t.Errorf("the loopback receiver was asked %d times", global.attempts)
	}
}
