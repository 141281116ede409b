package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/demosite"
	"github.com/wildwatch/wildwatch/rules"
	"github.com/wildwatch/wildwatch/storage"
	"github.com/wildwatch/wildwatch/workers"
)

// consoleStack is a whole wildwatch on one machine for the console's
// tests: an embedded Redis, a SQLite catalog, a directory evidence store, a
// worker with headless Chromium, the demo marketplace, and the API and
// console in front. It is built once per test binary: one sweep of the demo
// marketplace (its static listings and its JavaScript listings, rendered
// with screenshots) fills it with captures, flags and sellers. Tests that
// change anything must change only what they made themselves or what no
// other test reads (a flag of their own choosing, a target of their own).
type consoleStack struct {
	URL      string // the console and API
	Demo     string // the demo marketplace
	Catalog  *storage.Catalog
	Store    *storage.Dir
	Client   *workers.Client
	SweepID  string            // the demo sweep, finished
	Users    map[string]string // role → user name; every password is Password
	Tokens   map[string]string // role → API token
	Password string
}

var (
	sharedStackOnce sync.Once
	sharedStack     *consoleStack
	sharedStackErr  error
	sharedCleanup   []func()
)

// TestMain tears the shared stack down after every test of the package.
func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(sharedCleanup) - 1; i >= 0; i-- {
		sharedCleanup[i]()
	}
	os.Exit(code)
}

// stack returns the shared stack, building it on first use.
func stack(t *testing.T) *consoleStack {
	t.Helper()
	sharedStackOnce.Do(func() { sharedStack, sharedStackErr = buildConsoleStack() })
	if sharedStackErr != nil {
		t.Fatalf("console test stack: %v", sharedStackErr)
	}
	return sharedStack
}

func buildConsoleStack() (*consoleStack, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "wildwatch-console-")
	if err != nil {
		return nil, err
	}
	cleanup := func(f func()) { sharedCleanup = append(sharedCleanup, f) }
	cleanup(func() { os.RemoveAll(dir) })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("WILDWATCH_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}

	demo := httptest.NewServer(demosite.New(demosite.Config{Logger: logger, SlowDelay: -1}))
	cleanup(demo.Close)

	redis, err := workers.StartEmbeddedRedis()
	if err != nil {
		return nil, err
	}
	cleanup(redis.Stop)
	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: filepath.Join(dir, "catalog.db")})
	if err != nil {
		return nil, err
	}
	cleanup(func() { cat.Close() })
	store, err := storage.NewDir(filepath.Join(dir, "evidence"))
	if err != nil {
		return nil, err
	}
	signer, err := storage.LoadOrCreateKey(filepath.Join(dir, "signing.key"))
	if err != nil {
		return nil, err
	}
	m, err := rules.Compile(rules.Default())
	if err != nil {
		return nil, err
	}
	if _, _, err := cat.PutRuleSet(ctx, "default", rules.DefaultYAML(), "test", "default pack"); err != nil {
		return nil, err
	}
	if err := cat.ActivateRuleSet(ctx, "default", 1); err != nil {
		return nil, err
	}
	fetcher := crawler.New(crawler.Config{Logger: logger})
	cleanup(fetcher.Close)
	browser := fetcher.NewBrowser(crawler.BrowserConfig{Tabs: 2, Logger: logger})
	cleanup(func() { _ = browser.Close(context.Background()) })
	w, err := workers.NewWorker(workers.Config{
		RedisURL: redis.URL(), Concurrency: 8, RetryBase: 50 * time.Millisecond, PollInterval: 50 * time.Millisecond,
		Catalog: cat, Evidence: &storage.Evidence{Store: store, Signer: signer}, Fetcher: fetcher, Browser: browser,
		Rules: &workers.ActiveRules{Catalog: cat, Fallback: m, Logger: logger}, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	if err := w.Start(ctx); err != nil {
		return nil, err
	}
	cleanup(func() { _ = w.Stop(ctx) })
	client, err := workers.NewClient(redis.URL(), cat)
	if err != nil {
		return nil, err
	}
	cleanup(func() { client.Close() })

	// The demo target, politeness lifted for the local site.
	src := demosite.TargetYAML(demo.URL)
	src = []byte(strings.Replace(string(src), "requests_per_second: 20", "requests_per_second: -1", 1))
	tg, err := crawler.ParseTarget("demo-target.yaml", src)
	if err != nil {
		return nil, err
	}
	if err := cat.PutTarget(ctx, tg, src); err != nil {
		return nil, err
	}

	srv, err := api.New(api.Config{Catalog: cat, Evidence: store, Sweeps: client, PublicKey: storage.FormatPublicKey(signer.PublicKey()), PDF: browser.PrintPDF,
		Logger: logger, Links: signer.LinkSigner(), Signer: signer})
	if err != nil {
		return nil, err
	}
	hs := httptest.NewServer(srv)
	cleanup(hs.Close)

	st := &consoleStack{URL: hs.URL, Demo: demo.URL, Catalog: cat, Store: store, Client: client,
		Users: map[string]string{}, Tokens: map[string]string{}, Password: "correct horse battery"}
	hash, err := api.HashPassword(st.Password)
	if err != nil {
		return nil, err
	}
	for _, role := range []string{api.RoleMonitor, api.RoleInvestigator, api.RoleAdmin} {
		name := role + "-ana"
		if err := cat.PutUser(ctx, storage.User{Name: name, Role: role, Password: hash}); err != nil {
			return nil, err
		}
		st.Users[role] = name
		tok, th, err := api.NewToken()
		if err != nil {
			return nil, err
		}
		if err := cat.PutToken(ctx, storage.Token{Name: role + "-token", Role: role, Hash: th}); err != nil {
			return nil, err
		}
		st.Tokens[role] = tok
	}

	sw, err := client.StartSweep(ctx, tg.Name)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(4 * time.Minute)
	for {
		s, err := cat.GetSweep(ctx, sw.ID)
		if err != nil {
			return nil, err
		}
		if s.Status == wildwatch.SweepFinished {
			break
		}
		if s.Status == wildwatch.SweepFailed || s.Status == wildwatch.SweepCancelled || time.Now().After(deadline) {
			return nil, fmt.Errorf("demo sweep did not finish: %+v", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	st.SweepID = sw.ID
	return st, nil
}

// session is one person's browser on the console: a cookie jar and the
// CSRF token of the last page it loaded.
type session struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

// newSession opens a browser without signing in.
func (st *consoleStack) newSession(t *testing.T) *session {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &session{t: t, base: st.URL, c: &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signIn opens a browser signed in as the stack's user of role.
func (st *consoleStack) signIn(t *testing.T, role string) *session {
	t.Helper()
	s := st.newSession(t)
	code, body, loc := s.login(url.Values{"mode": {"password"}, "user": {st.Users[role]}, "password": {st.Password}})
	if code != http.StatusSeeOther || loc != "/" {
		t.Fatalf("signing in as %s: %d %q\n%s", role, code, loc, body)
	}
	s.get("/") // the page's CSRF token
	return s
}

// login loads the sign-in page and posts form to it with its CSRF token.
func (s *session) login(form url.Values) (code int, body, location string) {
	s.t.Helper()
	_, page := s.get("/login")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		s.t.Fatalf("no CSRF field on the sign-in page:\n%s", page)
	}
	form.Set("csrf", m[1])
	return s.postRaw("/login", form)
}

var csrfAttr = regexp.MustCompile(`data-csrf="([^"]*)"`)

// get loads path and returns the status and body; it remembers the page's
// CSRF token.
func (s *session) get(path string) (int, string) {
	s.t.Helper()
	res, err := s.c.Get(s.base + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if m := csrfAttr.FindSubmatch(b); m != nil && len(m[1]) > 0 {
		s.csrf = string(m[1])
	}
	return res.StatusCode, string(b)
}

// post submits form to path with the session's CSRF token and returns the
// status, body and Location (posts answer 303 to the next page).
func (s *session) post(path string, form url.Values) (code int, body, location string) {
	s.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf") == "" {
		form.Set("csrf", s.csrf)
	}
	return s.postRaw(path, form)
}

func (s *session) postRaw(path string, form url.Values) (int, string, string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := s.c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return res.StatusCode, string(b), res.Header.Get("Location")
}

// follow loads a redirect's target (with the one-time message it carries).
func (s *session) follow(location string) (int, string) {
	s.t.Helper()
	u, err := url.Parse(location)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.get(u.RequestURI())
}

// mustGet loads path, wants 200, and returns the body.
func (s *session) mustGet(path string) string {
	s.t.Helper()
	code, body := s.get(path)
	if code != http.StatusOK {
		s.t.Fatalf("GET %s = %d\n%s", path, code, body)
	}
	return body
}
