package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/wildwatch/wildwatch/storage"
)

// Roles, from least to most allowed.
const (
	RoleMonitor      = "monitor"
	RoleInvestigator = "investigator"
	RoleAdmin        = "admin"
)

var roleRank = map[string]int{RoleMonitor: 1, RoleInvestigator: 2, RoleAdmin: 3}

// ValidRole reports whether role is one of the three roles.
func ValidRole(role string) bool { return roleRank[role] > 0 }

// NewToken returns a new random API token ("ww_" and 32 random bytes) and
// the hash under which the catalog stores it.
func NewToken() (token, hash string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	token = "ww_" + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token), nil
}

// HashToken is the catalog key of a token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

type principalKey struct{}

// Principal is who made a request.
type Principal struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

func principalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// authenticate resolves the bearer token; it answers 401 itself when there
// is none or it is unknown. Without an Authorization header, a console
// session cookie stands in for the token (so that the console's pages can
// show screenshots and its script can call the API); a request that changes
// anything must then carry the session's CSRF token in X-CSRF-Token.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" && s.con != nil {
			if sess := s.lookupSession(w, r); sess != nil {
				if !safeMethod(r.Method) && !csrfHeaderOK(r, sess) {
					writeError(w, http.StatusForbidden, "a console session needs the X-CSRF-Token header on this request")
					return
				}
				ctx := context.WithValue(r.Context(), sessionKey{}, sess)
				ctx = context.WithValue(ctx, principalKey{}, Principal{Name: sess.Principal, Role: sess.Role})
				next.ServeHTTP(w, r.WithContext(ctx))
				return
			}
		}
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wildwatch"`)
			writeError(w, http.StatusUnauthorized, "a bearer token is required")
			return
		}
		t, err := s.cfg.Catalog.TokenByHash(r.Context(), HashToken(token))
		if errors.Is(err, storage.ErrNotFound) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wildwatch", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unknown token")
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), principalKey{}, Principal{Name: t.Name, Role: t.Role})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// require wraps h so that only principals of at least role get through.
func require(role string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := principalFrom(r.Context())
		if roleRank[p.Role] < roleRank[role] {
			writeError(w, http.StatusForbidden, "this needs the "+role+" role; the token has "+p.Role)
			return
		}
		h(w, r)
	}
}
