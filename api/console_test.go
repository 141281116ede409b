package api_test

import (
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/storage"
)

func TestConsoleSignIn(t *testing.T) {
	st := stack(t)

	t.Run("password", func(t *testing.T) {
		s := st.newSession(t)
		code, _, loc := s.login(url.Values{"mode": {"password"}, "user": {st.Users[api.RoleMonitor]}, "password": {st.Password}, "next": {"/flags?status=new"}})
		if code != http.StatusSeeOther || loc != "/flags?status=new" {
			t.Fatalf("sign-in = %d %q, want 303 to the page asked for", code, loc)
		}
		body := s.mustGet("/")
		if !strings.Contains(body, st.Users[api.RoleMonitor]) {
			t.Error("the dashboard does not name who is signed in")
		}
	})
	t.Run("token", func(t *testing.T) {
		s := st.newSession(t)
		code, _, loc := s.login(url.Values{"mode": {"token"}, "token": {st.Tokens[api.RoleAdmin]}})
		if code != http.StatusSeeOther || loc != "/" {
			t.Fatalf("token sign-in = %d %q", code, loc)
		}
		if body := s.mustGet("/"); !strings.Contains(body, "admin-token") {
			t.Error("the dashboard does not name the token signed in with")
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		s := st.newSession(t)
		code, body, _ := s.login(url.Values{"mode": {"password"}, "user": {st.Users[api.RoleMonitor]}, "password": {"not the password"}})
		if code != http.StatusUnauthorized || !strings.Contains(body, "do not match") {
			t.Errorf("wrong password = %d\n%s", code, body)
		}
		if code, _ := s.get("/"); code != http.StatusSeeOther {
			t.Errorf("after a failed sign-in the dashboard answers %d, want a redirect to sign in", code)
		}
	})
	t.Run("unknown token", func(t *testing.T) {
		s := st.newSession(t)
		if code, _, _ := s.login(url.Values{"mode": {"token"}, "token": {"ww_nope"}}); code != http.StatusUnauthorized {
			t.Errorf("unknown token = %d", code)
		}
	})
	t.Run("no login CSRF", func(t *testing.T) {
		s := st.newSession(t)
		s.get("/login")
		code, _, _ := s.postRaw("/login", url.Values{"mode": {"password"}, "user": {st.Users[api.RoleMonitor]}, "password": {st.Password}, "csrf": {"forged"}})
		if code != http.StatusForbidden {
			t.Errorf("sign-in with a forged form token = %d, want 403", code)
		}
	})
	t.Run("open redirect", func(t *testing.T) {
		for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example"} {
			s := st.newSession(t)
			_, _, loc := s.login(url.Values{"mode": {"password"}, "user": {st.Users[api.RoleMonitor]}, "password": {st.Password}, "next": {next}})
			if loc != "/" {
				t.Errorf("next=%q sent the browser to %q, want /", next, loc)
			}
		}
	})
	t.Run("signed out redirects", func(t *testing.T) {
		s := st.newSession(t)
		code, _ := s.get("/sweeps")
		if code != http.StatusSeeOther {
			t.Errorf("GET /sweeps signed out = %d, want 303", code)
		}
	})
}

func TestConsoleThrottle(t *testing.T) {
	st := stack(t)
	s := st.newSession(t)
	user := "throttled-user"
	for i := range 5 {
		code, _, _ := s.login(url.Values{"mode": {"password"}, "user": {user}, "password": {"wrong password " + string(rune('a'+i))}})
		if code != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d, want 401", i+1, code)
		}
	}
	code, body, _ := s.login(url.Values{"mode": {"password"}, "user": {user}, "password": {"another wrong one"}})
	if code != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed sign-ins") {
		t.Errorf("sixth failure = %d, want 429\n%s", code, body)
	}
}

func TestConsoleLogoutAndCSRF(t *testing.T) {
	st := stack(t)
	s := st.signIn(t, api.RoleMonitor)
	// A post without the session's CSRF token is refused, and so is one
	// another site's page would send (Sec-Fetch-Site: cross-site).
	if code, _, _ := s.post("/logout", url.Values{"csrf": {"forged"}}); code != http.StatusForbidden {
		t.Errorf("logout with a forged CSRF token = %d, want 403", code)
	}
	req, _ := http.NewRequest(http.MethodPost, st.URL+"/logout", strings.NewReader(url.Values{"csrf": {s.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := s.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site logout = %d, want 403", res.StatusCode)
	}
	if code, _ := s.get("/"); code != http.StatusOK {
		t.Fatalf("session ended by a refused request: %d", code)
	}
	code, _, loc := s.post("/logout", nil)
	if code != http.StatusSeeOther || loc != "/login" {
		t.Fatalf("logout = %d %q", code, loc)
	}
	if code, _ := s.get("/"); code != http.StatusSeeOther {
		t.Errorf("after logout the dashboard answers %d, want a redirect to sign in", code)
	}
}

func TestConsoleSessionCallsAPI(t *testing.T) {
	st := stack(t)
	s := st.signIn(t, api.RoleMonitor)
	code, body := s.get("/api/v1/whoami")
	if code != http.StatusOK || !strings.Contains(body, st.Users[api.RoleMonitor]) {
		t.Errorf("whoami with a session cookie = %d %s", code, body)
	}
	// A change through the API needs the CSRF header with a cookie.
	req, _ := http.NewRequest(http.MethodPost, st.URL+"/api/v1/flags/none/reviews", strings.NewReader(`{"decision":"dismissed"}`))
	res, err := s.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("API post with a cookie and no CSRF header = %d, want 403", res.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodPost, st.URL+"/api/v1/flags/none/reviews", strings.NewReader(`{"decision":"dismissed"}`))
	req.Header.Set("X-CSRF-Token", s.csrf)
	res, err = s.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("API post with the CSRF header = %d, want 404 (past the check, no such flag)", res.StatusCode)
	}
}

func TestConsoleHeadersAndAssets(t *testing.T) {
	st := stack(t)
	s := st.newSession(t)
	res, err := s.c.Get(st.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for h, want := range map[string]string{
		"Content-Security-Policy": "script-src 'self'",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
	} {
		if !strings.Contains(res.Header.Get(h), want) {
			t.Errorf("%s = %q, want it to contain %q", h, res.Header.Get(h), want)
		}
	}
	// The stylesheet and script, versioned, are cached for good.
	for _, m := range regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(string(body), -1) {
		u := strings.ReplaceAll(m[1], "&amp;", "&")
		res, err := s.c.Get(st.URL + u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s = %d, Cache-Control %q", u, res.StatusCode, res.Header.Get("Cache-Control"))
		}
	}
	// Pages are compressed for clients that accept it.
	req, _ := http.NewRequest(http.MethodGet, st.URL+"/login", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err = http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q", res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !strings.Contains(string(plain), `name="password"`) {
		t.Errorf("gzipped sign-in page does not read back: %v", err)
	}
}

// TestConsoleTextKeys holds every text the console shows to the message
// catalog: each key a template or handler uses exists in English.
func TestConsoleTextKeys(t *testing.T) {
	en := map[string]bool{}
	files, _ := filepath.Glob("console/text/en/*.yaml")
	keyLine := regexp.MustCompile(`^([a-z0-9_]+(?:\.[a-z0-9_]+)+):`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if m := keyLine.FindStringSubmatch(line); m != nil {
				en[m[1]] = true
			}
		}
	}
	if len(en) < 20 {
		t.Fatalf("only %d English keys found", len(en))
	}
	uses := []*regexp.Regexp{
		regexp.MustCompile(`\{\{-?\s*t\s+"([^"]+)"`),          // {{t "key"
		regexp.MustCompile(`\(t\s+"([^"]+)"`),                 // (t "key"
		regexp.MustCompile(`\btr\(r,\s*"([^"]+)"\s*[,)]`),     // s.tr(r, "key"
		regexp.MustCompile(`\.T\([a-z]+,\s*"([^"]+)"\s*[,)]`), // text.T(lang, "key"
		regexp.MustCompile(`data-key-label="\{\{t "([^"]+)"`),
	}
	var missing []string
	comment := regexp.MustCompile(`(?m)^\s*//.*$`)
	check := func(path string, b []byte) {
		b = comment.ReplaceAll(b, nil)
		for _, re := range uses {
			for _, m := range re.FindAllSubmatch(b, -1) {
				if k := string(m[1]); !en[k] {
					missing = append(missing, path+": "+k)
				}
			}
		}
	}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasSuffix(path, ".html") || (strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go")) {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			check(path, b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range missing {
		t.Errorf("no English text for %s", m)
	}
}

// TestConsolePrunesSessions: sessions that ended without a sign-out do not
// pile up in the catalog; a sign-in sweeps them out.
func TestConsolePrunesSessions(t *testing.T) {
	st := stack(t)
	past := time.Now().UTC().Add(-time.Hour)
	if err := st.Catalog.PutSession(t.Context(), storage.Session{IDHash: "ended-session", Principal: "monitor-ana", Kind: storage.SessionUser,
		Role: api.RoleMonitor, CSRF: "c", CreatedAt: past.Add(-time.Hour), ExpiresAt: past, MaxAt: past.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	st.signIn(t, api.RoleMonitor)
	if n, err := st.Catalog.PruneSessions(t.Context(), time.Now().UTC()); err != nil || n != 0 {
		t.Errorf("after a sign-in %d ended sessions were left (%v)", n, err)
	}
}
