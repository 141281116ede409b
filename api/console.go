package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

// The web console: server-rendered pages under /, for the same principals
// and roles as the API. A person signs in with an API token or a user name
// and password; the console then keeps a session (a random cookie whose
// SHA-256 the catalog holds) with a CSRF secret that every form and every
// state-changing request must carry. Pages are Go templates
// (console/templates), styles and a small script are static files
// (console/static), and every word shown comes from console/text.
//
// Each area of the console lives in a file of its own and registers its
// routes from consoleRoutes: console_monitor.go (targets, sweeps, charts),
// console_review.go (the review queue and one flag at a time),
// console_investigate.go (listings, sellers, cases, custody) and
// console_admin.go (targets, rule sets, users and tokens).

//go:embed console/templates/*.html console/static
var consoleFS embed.FS

// Console cookies and lifetimes.
const (
	sessionCookie    = "ww_session"
	loginCSRFCookie  = "ww_login"
	flashCookie      = "ww_flash"
	langCookie       = "ww_lang"
	sessionIdle      = 12 * time.Hour
	sessionMax       = 7 * 24 * time.Hour
	sessionTouchStep = time.Hour
	csrfField        = "csrf"
	csrfHeader       = "X-CSRF-Token"
)

// console is the state of the web console.
type console struct {
	text     *consoleText
	pages    map[string]map[string]*template.Template // language → page → template
	assets   map[string]string                        // static file → version
	static   map[string][]byte                        // static file → bytes
	throttle *loginThrottle
	now      func() time.Time
}

type sessionKey struct{}

// sessionFrom returns the console session of a request, nil for none.
func sessionFrom(ctx context.Context) *storage.Session {
	s, _ := ctx.Value(sessionKey{}).(*storage.Session)
	return s
}

// newConsole parses the templates once per language.
func newConsole() (*console, error) {
	text, err := loadConsoleText(consoleTextFS)
	if err != nil {
		return nil, err
	}
	c := &console{text: text, pages: map[string]map[string]*template.Template{}, assets: map[string]string{},
		throttle: newLoginThrottle(), now: time.Now}
	if err := c.loadAssets(); err != nil {
		return nil, err
	}
	files, err := fs.Glob(consoleFS, "console/templates/*.html")
	if err != nil {
		return nil, err
	}
	var shared, pages []string
	for _, f := range files {
		base := path.Base(f)
		if base == "layout.html" || strings.HasPrefix(base, "_") {
			shared = append(shared, f)
		} else {
			pages = append(pages, f)
		}
	}
	for _, lang := range text.Languages() {
		base, err := template.New("layout.html").Funcs(c.funcs(lang)).ParseFS(consoleFS, shared...)
		if err != nil {
			return nil, fmt.Errorf("console templates: %w", err)
		}
		c.pages[lang] = map[string]*template.Template{}
		for _, p := range pages {
			t, err := template.Must(base.Clone()).ParseFS(consoleFS, p)
			if err != nil {
				return nil, fmt.Errorf("console template %s: %w", p, err)
			}
			c.pages[lang][strings.TrimSuffix(path.Base(p), ".html")] = t
		}
	}
	return c, nil
}

// consoleCSS is the stylesheet the pages link: every console/static/*.css
// file, base.css first and the others in name order, served as one file so
// that a page costs one request for its styles.
const consoleCSS = "console.css"

// loadAssets reads the static files, builds console.css, and versions each
// by a hash of its bytes.
func (c *console) loadAssets() error {
	c.static = map[string][]byte{}
	files, err := fs.Glob(consoleFS, "console/static/*")
	if err != nil {
		return err
	}
	var css bytes.Buffer
	for _, f := range files {
		b, err := fs.ReadFile(consoleFS, f)
		if err != nil {
			return err
		}
		name := path.Base(f)
		if path.Ext(name) == ".css" {
			if name == "base.css" {
				b = append(append([]byte(nil), b...), css.Bytes()...)
				css.Reset()
				css.Write(b)
			} else {
				css.WriteString("\n/* " + name + " */\n")
				css.Write(b)
			}
			continue
		}
		c.static[name] = b
	}
	c.static[consoleCSS] = css.Bytes()
	for name, b := range c.static {
		sum := sha256.Sum256(b)
		c.assets[name] = hex.EncodeToString(sum[:4])
	}
	return nil
}

// funcs are the template functions for one language: the common ones and
// those the console's areas add with addConsoleFuncs.
func (c *console) funcs(lang string) template.FuncMap {
	m := template.FuncMap{}
	for name, f := range areaFuncs {
		m[name] = f
	}
	for name, f := range (template.FuncMap{
		"t": func(key string, args ...any) string { return c.text.T(lang, key, args...) },
		"asset": func(name string) string {
			return "/static/" + name + "?v=" + c.assets[name]
		},
		"utc": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"utcsec": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"iso":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"ago":       func(t time.Time) string { return c.ago(lang, t) },
		"dur":       func(d time.Duration) string { return shortDuration(d) },
		"pct":       func(v float64) string { return fmt.Sprintf("%.0f%%", v*100) },
		"score":     func(v float64) string { return fmt.Sprintf("%.2f", v) },
		"bytes":     humanBytes,
		"add":       func(a, b int) int { return a + b },
		"hasPrefix": strings.HasPrefix,
		"query":     setQuery,
		"dict": func(kv ...any) map[string]any {
			m := make(map[string]any, len(kv)/2)
			for i := 0; i+1 < len(kv); i += 2 {
				m[fmt.Sprint(kv[i])] = kv[i+1]
			}
			return m
		},
		"truncate": func(n int, s string) string {
			r := []rune(s)
			if len(r) <= n {
				return s
			}
			return string(r[:n]) + "…"
		},
	}) {
		m[name] = f
	}
	return m
}

// areaFuncs are template functions an area of the console adds for its
// own pages (charts, highlighting); they cannot replace the common ones.
var areaFuncs = template.FuncMap{}

// addConsoleFuncs registers template functions of an area; it is called
// from package initialisation, before any template is parsed.
func addConsoleFuncs(fm template.FuncMap) {
	for name, f := range fm {
		if _, dup := areaFuncs[name]; dup {
			panic("console: template function " + name + " added twice")
		}
		areaFuncs[name] = f
	}
}

// ago says how long ago t was, in lang ("3 min ago").
func (c *console) ago(lang string, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := c.now().Sub(t)
	switch {
	case d < time.Minute:
		return c.text.T(lang, "time.just_now")
	case d < time.Hour:
		return c.text.T(lang, "time.minutes_ago", "n", int(d/time.Minute))
	case d < 48*time.Hour:
		return c.text.T(lang, "time.hours_ago", "n", int(d/time.Hour))
	default:
		return c.text.T(lang, "time.days_ago", "n", int(d/(24*time.Hour)))
	}
}

// shortDuration prints d to the second or, under a second, the
// millisecond ("2h05m", "41s", "350ms").
func shortDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// setQuery returns the query of u with key set to value (removed when
// value is empty), for filter and paging links: {{query .Data.Query "page" 2}}.
func setQuery(q url.Values, key string, value any) string {
	n := url.Values{}
	for k, vs := range q {
		n[k] = append([]string(nil), vs...)
	}
	v := fmt.Sprint(value)
	if v == "" {
		n.Del(key)
	} else {
		n.Set(key, v)
	}
	if len(n) == 0 {
		return "?"
	}
	return "?" + n.Encode()
}

// view is what every page template gets: .Data is the page's own.
type view struct {
	Page    string
	Me      Principal
	CSRF    string
	Lang    string
	Langs   []string
	Path    string
	Query   url.Values
	Flash   string
	FlashOK bool
	Version string
	Data    any
}

// Can reports whether the signed-in principal has at least role.
func (v view) Can(role string) bool { return roleRank[v.Me.Role] >= roleRank[role] }

// consoleRoutes builds the console's handler.
func (s *Server) consoleRoutes() (http.Handler, error) {
	c, err := newConsole()
	if err != nil {
		return nil, err
	}
	s.con = c
	m := http.NewServeMux()
	m.HandleFunc("GET /static/{name}", s.consoleStatic)
	m.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/icon.svg?v="+s.con.assets["icon.svg"], http.StatusMovedPermanently)
	})
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.loginSubmit)
	m.HandleFunc("POST /logout", s.page(RoleMonitor, s.logout))
	m.HandleFunc("POST /lang", s.setLang)
	s.consoleMonitorRoutes(m)
	s.consoleReviewRoutes(m)
	s.consoleInvestigateRoutes(m)
	s.consoleAdminRoutes(m)
	m.HandleFunc("/", s.page(RoleMonitor, func(w http.ResponseWriter, r *http.Request) {
		s.consoleFail(w, r, http.StatusNotFound, s.tr(r, "error.not_found"))
	}))
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.consoleFail(w, r, http.StatusForbidden, s.tr(r, "error.cross_origin"))
	}))
	return consoleHeaders(gzipHandler(cop.Handler(s.withSession(m)))), nil
}

// consoleHeaders sets the security headers of every console answer: no
// script, style or frame from elsewhere, no framing of the console, no
// referrer leaving the site, and no caching of pages that show evidence.
func consoleHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// gzipWriters are reused across answers.
var gzipWriters = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed); return w }}

type gzipResponse struct {
	http.ResponseWriter
	gz *gzip.Writer
}

func (g gzipResponse) Write(b []byte) (int, error) { return g.gz.Write(b) }

func (g gzipResponse) WriteHeader(code int) {
	g.Header().Del("Content-Length")
	g.ResponseWriter.WriteHeader(code)
}

// gzipHandler compresses answers for clients that accept gzip: a page is a
// fifth of its size on a slow connection.
func gzipHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		gz := gzipWriters.Get().(*gzip.Writer)
		gz.Reset(w)
		w.Header().Set("Content-Encoding", "gzip")
		next.ServeHTTP(gzipResponse{ResponseWriter: w, gz: gz}, r)
		_ = gz.Close()
		gzipWriters.Put(gz)
	})
}

func (s *Server) consoleStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, ok := s.con.static[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if v := r.URL.Query().Get("v"); v != "" && v == s.con.assets[name] {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// hashSession is the catalog key of a session cookie value.
func hashSession(v string) string {
	sum := sha256.Sum256([]byte("wildwatch-session:" + v))
	return hex.EncodeToString(sum[:])
}

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// withSession resolves the session cookie, if any, into the request's
// principal and session. An unknown or expired cookie is cleared.
func (s *Server) withSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sess := s.lookupSession(w, r); sess != nil {
			ctx := context.WithValue(r.Context(), sessionKey{}, sess)
			ctx = context.WithValue(ctx, principalKey{}, Principal{Name: sess.Principal, Role: sess.Role})
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

// lookupSession returns the live session the request's cookie names, nil
// for none; it renews the idle expiry at most once per sessionTouchStep.
func (s *Server) lookupSession(w http.ResponseWriter, r *http.Request) *storage.Session {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	now := s.con.now()
	sess, err := s.cfg.Catalog.GetSession(r.Context(), hashSession(ck.Value), now)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			s.cfg.Logger.ErrorContext(r.Context(), "console session lookup failed", "err", err)
		}
		s.clearCookie(w, r, sessionCookie)
		return nil
	}
	if sess.ExpiresAt.Sub(now) < sessionIdle-sessionTouchStep {
		if err := s.cfg.Catalog.TouchSession(r.Context(), sess.IDHash, now.Add(sessionIdle)); err != nil {
			s.cfg.Logger.WarnContext(r.Context(), "console session renewal failed", "err", err)
		}
	}
	return &sess
}

// secure reports whether the console is reached over HTTPS (directly, or
// through a proxy that says so, or by its configured public URL), so that
// cookies are marked Secure.
func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") ||
		strings.HasPrefix(s.cfg.PublicURL, "https://")
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", Expires: expires, HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
}

func (s *Server) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
}

// csrfOK reports whether an unsafe request carries the session's CSRF
// token, in the form field or the header.
func csrfOK(r *http.Request, sess *storage.Session) bool {
	if sess == nil {
		return false
	}
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) == 1
}

// csrfHeaderOK is csrfOK for the header alone (API calls never read a form
// before authenticating).
func csrfHeaderOK(r *http.Request, sess *storage.Session) bool {
	got := r.Header.Get(csrfHeader)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) == 1
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// page wraps a console handler: it needs a session of at least role, and a
// valid CSRF token on anything but GET and HEAD. Without a session a GET is
// sent to the sign-in page and comes back afterwards.
func (s *Server) page(role string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := sessionFrom(r.Context())
		if sess == nil {
			if safeMethod(r.Method) && !isFetch(r) {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.consoleFail(w, r, http.StatusUnauthorized, s.tr(r, "error.signed_out"))
			return
		}
		if !safeMethod(r.Method) {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			if !csrfOK(r, sess) {
				s.consoleFail(w, r, http.StatusForbidden, s.tr(r, "error.csrf"))
				return
			}
		}
		if roleRank[sess.Role] < roleRank[role] {
			s.consoleFail(w, r, http.StatusForbidden, s.tr(r, "error.role", "role", s.tr(r, "role."+role), "have", s.tr(r, "role."+sess.Role)))
			return
		}
		h(w, r)
	}
}

// isFetch reports whether the request comes from the console's script
// (which asks for fragments and wants status codes, not redirects).
func isFetch(r *http.Request) bool { return r.Header.Get("X-Requested-With") == "fetch" }

// tr translates key for the request's language.
func (s *Server) tr(r *http.Request, key string, args ...any) string {
	return s.con.text.T(s.con.text.lang(r), key, args...)
}

// render writes page with data inside the layout.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	s.renderBlock(w, r, status, page, "layout.html", data)
}

// renderFragment writes one named block of page without the layout (for
// the console script's live updates).
func (s *Server) renderFragment(w http.ResponseWriter, r *http.Request, page, block string, data any) {
	s.renderBlock(w, r, http.StatusOK, page, block, data)
}

func (s *Server) renderBlock(w http.ResponseWriter, r *http.Request, status int, page, block string, data any) {
	lang := s.con.text.lang(r)
	t := s.con.pages[lang][page]
	if t == nil {
		s.internal(w, r, fmt.Errorf("console: no page template %q", page))
		return
	}
	v := view{Page: page, Me: principalFrom(r.Context()), Lang: lang, Langs: s.con.text.Languages(),
		Path: r.URL.Path, Query: r.URL.Query(), Version: wildwatch.Version, Data: data}
	if sess := sessionFrom(r.Context()); sess != nil {
		v.CSRF = sess.CSRF
	}
	v.Flash, v.FlashOK = s.takeFlash(w, r)
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, block, v); err != nil {
		s.internal(w, r, fmt.Errorf("console: page %s: %w", page, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// flash stores a one-time message for the next page (after a redirect).
// ok says whether it reports success or a problem.
func (s *Server) flash(w http.ResponseWriter, r *http.Request, ok bool, msg string) {
	kind := "e"
	if ok {
		kind = "o"
	}
	s.setCookie(w, r, flashCookie, kind+base64.RawURLEncoding.EncodeToString([]byte(msg)), time.Time{})
}

func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) (string, bool) {
	ck, err := r.Cookie(flashCookie)
	if err != nil || len(ck.Value) < 2 {
		return "", false
	}
	s.clearCookie(w, r, flashCookie)
	b, err := base64.RawURLEncoding.DecodeString(ck.Value[1:])
	if err != nil {
		return "", false
	}
	return string(b), ck.Value[0] == 'o'
}

// redirectFlash ends a form post: a message for the next page, then a 303
// to to (Post/Redirect/Get).
func (s *Server) redirectFlash(w http.ResponseWriter, r *http.Request, to string, ok bool, msg string) {
	if msg != "" {
		s.flash(w, r, ok, msg)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// consoleFail answers with an error page (or, to the console script, the
// message as text).
func (s *Server) consoleFail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if isFetch(r) || s.con == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, msg)
		return
	}
	s.render(w, r, status, "error", map[string]any{"Status": status, "Message": msg})
}

// consoleError maps an error from the catalog or a store to an error page.
func (s *Server) consoleError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, wildwatch.ErrObjectNotFound):
		s.consoleFail(w, r, http.StatusNotFound, s.tr(r, "error.not_found"))
	case errors.Is(err, storage.ErrInvalid):
		s.consoleFail(w, r, http.StatusBadRequest, err.Error())
	case errors.Is(err, storage.ErrSweepStatus):
		s.consoleFail(w, r, http.StatusConflict, err.Error())
	default:
		s.cfg.Logger.ErrorContext(r.Context(), "console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		s.consoleFail(w, r, http.StatusInternalServerError, s.tr(r, "error.internal"))
	}
}

// localPath returns next when it is a path on this site, else "/": the
// sign-in page never sends anyone elsewhere.
func localPath(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// loginPage shows the sign-in forms. A pre-session CSRF cookie protects the
// sign-in itself from being forged (login CSRF).
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if sessionFrom(r.Context()) != nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.showLogin(w, r, http.StatusOK, "")
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, problem string) {
	// One token per browser until it signs in: a second sign-in page (in
	// another tab, or loaded by a redirected request for an icon) must not
	// invalidate the form of the first.
	tok := ""
	if ck, err := r.Cookie(loginCSRFCookie); err == nil && len(ck.Value) == 43 {
		tok = ck.Value
	} else {
		tok = randomToken()
	}
	s.setCookie(w, r, loginCSRFCookie, tok, time.Time{})
	s.render(w, r, status, "login", map[string]any{
		"Next": localPath(r.FormValue("next")), "LoginCSRF": tok, "Problem": problem,
		"User": r.PostFormValue("user"), "Mode": r.PostFormValue("mode"),
	})
}

// loginSubmit signs in with a token (mode=token) or a user name and
// password (mode=password).
func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	ck, err := r.Cookie(loginCSRFCookie)
	if err != nil || ck.Value == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue(csrfField))) != 1 {
		s.showLogin(w, r, http.StatusForbidden, s.tr(r, "login.expired"))
		return
	}
	ip := "ip:" + remoteAddr(r)
	var principal, kind, role string
	switch r.PostFormValue("mode") {
	case "token":
		token := strings.TrimSpace(r.PostFormValue("token"))
		if wait := s.con.throttle.wait(ip); wait > 0 {
			s.showLogin(w, r, http.StatusTooManyRequests, s.tr(r, "login.throttled", "minutes", int(wait/time.Minute)+1))
			return
		}
		t, err := s.cfg.Catalog.TokenByHash(r.Context(), HashToken(token))
		if errors.Is(err, storage.ErrNotFound) || token == "" {
			s.con.throttle.fail(ip)
			s.showLogin(w, r, http.StatusUnauthorized, s.tr(r, "login.bad_token"))
			return
		}
		if err != nil {
			s.consoleError(w, r, err)
			return
		}
		principal, kind, role = t.Name, storage.SessionToken, t.Role
	default:
		name := strings.TrimSpace(r.PostFormValue("user"))
		password := r.PostFormValue("password")
		userKey := "user:" + strings.ToLower(name)
		if wait := s.con.throttle.wait(ip, userKey); wait > 0 {
			s.showLogin(w, r, http.StatusTooManyRequests, s.tr(r, "login.throttled", "minutes", int(wait/time.Minute)+1))
			return
		}
		u, err := s.cfg.Catalog.GetUser(r.Context(), name)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.consoleError(w, r, err)
			return
		}
		hash := u.Password
		if err != nil {
			hash = dummyHash() // same work for an unknown name
		}
		ok, herr := CheckPassword(hash, password)
		if herr != nil {
			s.cfg.Logger.ErrorContext(r.Context(), "stored password hash unreadable", "user", name, "err", herr)
		}
		if err != nil || !ok || u.Disabled {
			s.con.throttle.fail(ip, userKey)
			s.showLogin(w, r, http.StatusUnauthorized, s.tr(r, "login.bad_password"))
			return
		}
		s.con.throttle.succeed(userKey)
		principal, kind, role = u.Name, storage.SessionUser, u.Role
	}
	if err := s.startSession(w, r, principal, kind, role); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.clearCookie(w, r, loginCSRFCookie)
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
}

// startSession opens a session and sets its cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, principal, kind, role string) error {
	id := randomToken()
	now := s.con.now().UTC()
	sess := storage.Session{IDHash: hashSession(id), Principal: principal, Kind: kind, Role: role, CSRF: randomToken(),
		CreatedAt: now, ExpiresAt: now.Add(sessionIdle), MaxAt: now.Add(sessionMax), Remote: remoteAddr(r)}
	if err := s.cfg.Catalog.PutSession(r.Context(), sess); err != nil {
		return err
	}
	s.setCookie(w, r, sessionCookie, id, sess.MaxAt)
	s.cfg.Logger.InfoContext(r.Context(), "console sign-in", "principal", principal, "kind", kind, "role", role, "remote", sess.Remote)
	// Sessions that ended without a sign-out are swept out at each sign-in.
	if n, err := s.cfg.Catalog.PruneSessions(r.Context(), now); err != nil {
		s.cfg.Logger.WarnContext(r.Context(), "pruning ended console sessions failed", "err", err)
	} else if n > 0 {
		s.cfg.Logger.DebugContext(r.Context(), "ended console sessions pruned", "sessions", n)
	}
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if sess := sessionFrom(r.Context()); sess != nil {
		if err := s.cfg.Catalog.DeleteSession(r.Context(), sess.IDHash); err != nil {
			s.consoleError(w, r, err)
			return
		}
	}
	s.clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// setLang keeps the chosen language in a cookie.
func (s *Server) setLang(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	lang := r.PostFormValue("lang")
	if _, ok := s.con.text.langs[lang]; ok {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
			Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
	}
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
}
