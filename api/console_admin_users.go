package api

import (
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/wildwatch/wildwatch/storage"
)

// The admins' page of console users and API tokens. A token's secret is
// shown once, in the answer to the form that made it; the catalog keeps
// only its hash.

func (s *Server) consoleAdminUserRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /admin/users", s.page(RoleAdmin, s.adminUsers))
	m.HandleFunc("POST /admin/users", s.page(RoleAdmin, s.adminUserCreate))
	m.HandleFunc("POST /admin/users/{name}/role", s.page(RoleAdmin, s.adminUserRole))
	m.HandleFunc("POST /admin/users/{name}/password", s.page(RoleAdmin, s.adminUserPassword))
	m.HandleFunc("POST /admin/users/{name}/disable", s.page(RoleAdmin, s.adminUserDisable(true)))
	m.HandleFunc("POST /admin/users/{name}/enable", s.page(RoleAdmin, s.adminUserDisable(false)))
	m.HandleFunc("POST /admin/users/{name}/delete", s.page(RoleAdmin, s.adminUserDelete))
	m.HandleFunc("POST /admin/tokens", s.page(RoleAdmin, s.adminTokenCreate))
	m.HandleFunc("POST /admin/tokens/{name}/rotate", s.page(RoleAdmin, s.adminTokenRotate))
	m.HandleFunc("POST /admin/tokens/{name}/delete", s.page(RoleAdmin, s.adminTokenDelete))
}

const usersPage = "/admin/users"

// principalName is what a user or token may be called: letters, digits
// and . _ @ - (no spaces), up to 64 characters.
var principalName = regexp.MustCompile(`^[\p{L}\p{N}._@-]{1,64}$`)

// ValidPrincipalName reports whether name may name a user or a token:
// letters, digits and . _ @ - (no spaces), up to 64 characters.
func ValidPrincipalName(name string) bool { return principalName.MatchString(name) }

// newSecret is a token secret made by a form, shown once.
type newSecret struct {
	Name   string
	Secret string
}

func (s *Server) adminUsers(w http.ResponseWriter, r *http.Request) {
	s.renderUsers(w, r, http.StatusOK, nil)
}

func (s *Server) renderUsers(w http.ResponseWriter, r *http.Request, status int, secret *newSecret) {
	users, err := s.cfg.Catalog.ListUsers(r.Context())
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	tokens, err := s.cfg.Catalog.ListTokens(r.Context())
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	me := ""
	if sess := sessionFrom(r.Context()); sess != nil && sess.Kind == storage.SessionUser {
		me = sess.Principal
	}
	s.render(w, r, status, "admin_users", map[string]any{
		"Users": users, "Tokens": tokens, "Roles": []string{RoleMonitor, RoleInvestigator, RoleAdmin},
		"Secret": secret, "MinPassword": MinPasswordLength, "MeUser": me,
	})
}

// isSelf reports whether the request comes from a session of the user name.
func isSelf(r *http.Request, name string) bool {
	sess := sessionFrom(r.Context())
	return sess != nil && sess.Kind == storage.SessionUser && sess.Principal == name
}

// checkPassword checks a new password typed twice; it returns the problem
// to show, "" for none.
func (s *Server) checkNewPassword(r *http.Request) string {
	pw := r.PostFormValue("password")
	switch {
	case pw != r.PostFormValue("password2"):
		return s.tr(r, "admin.password_mismatch")
	case len([]rune(pw)) < MinPasswordLength:
		return s.tr(r, "admin.password_short", "n", MinPasswordLength)
	}
	return ""
}

// checkNewPrincipal reads the name and role a form gives a new user or
// token; problem is the one to show, "" for none.
func (s *Server) checkNewPrincipal(r *http.Request) (name, role, problem string) {
	name = strings.TrimSpace(r.PostFormValue("name"))
	role = r.PostFormValue("role")
	switch {
	case !principalName.MatchString(name):
		problem = s.tr(r, "admin.name_bad")
	case !ValidRole(role):
		problem = s.tr(r, "admin.role_bad")
	}
	return name, role, problem
}

// nameTaken answers the request when the lookup of a new user's or token's
// name found one (err nil: the message taken is shown) or failed; it
// reports whether it did. storage.ErrNotFound means the name is free.
func (s *Server) nameTaken(w http.ResponseWriter, r *http.Request, err error, taken string) bool {
	switch {
	case err == nil:
		s.redirectFlash(w, r, usersPage, false, taken)
	case !errors.Is(err, storage.ErrNotFound):
		s.consoleError(w, r, err)
	default:
		return false
	}
	return true
}

func (s *Server) adminUserCreate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name, role, msg := s.checkNewPrincipal(r)
	if msg == "" {
		msg = s.checkNewPassword(r)
	}
	if msg != "" {
		s.redirectFlash(w, r, usersPage, false, msg)
		return
	}
	if _, err := s.cfg.Catalog.GetUser(ctx, name); s.nameTaken(w, r, err, s.tr(r, "admin.user_exists", "name", name)) {
		return
	}
	hash, err := HashPassword(r.PostFormValue("password"))
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	if err := s.cfg.Catalog.PutUser(ctx, storage.User{Name: name, Role: role, Password: hash}); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.cfg.Logger.InfoContext(ctx, "user created", "user", name, "role", role, "by", principalFrom(ctx).Name)
	s.redirectFlash(w, r, usersPage, true, s.tr(r, "admin.user_created", "name", name))
}

// editUser loads the user of the path, applies change and stores it.
// change returns a problem to show instead, or "".
func (s *Server) editUser(w http.ResponseWriter, r *http.Request, change func(u *storage.User) string, done string) {
	ctx := r.Context()
	u, err := s.cfg.Catalog.GetUser(ctx, r.PathValue("name"))
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	if msg := change(&u); msg != "" {
		s.redirectFlash(w, r, usersPage, false, msg)
		return
	}
	if err := s.cfg.Catalog.PutUser(ctx, u); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.cfg.Logger.InfoContext(ctx, "user changed", "user", u.Name, "role", u.Role, "disabled", u.Disabled, "by", principalFrom(ctx).Name)
	s.redirectFlash(w, r, usersPage, true, s.tr(r, done, "name", u.Name))
}

func (s *Server) adminUserRole(w http.ResponseWriter, r *http.Request) {
	s.editUser(w, r, func(u *storage.User) string {
		role := r.PostFormValue("role")
		switch {
		case !ValidRole(role):
			return s.tr(r, "admin.role_bad")
		case isSelf(r, u.Name) && role != RoleAdmin:
			return s.tr(r, "admin.self_demote")
		}
		u.Role = role
		return ""
	}, "admin.user_role_set")
}

func (s *Server) adminUserPassword(w http.ResponseWriter, r *http.Request) {
	if msg := s.checkNewPassword(r); msg != "" {
		s.redirectFlash(w, r, usersPage, false, msg)
		return
	}
	hash, err := HashPassword(r.PostFormValue("password"))
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.editUser(w, r, func(u *storage.User) string {
		u.Password = hash
		// Whoever knew the old password is signed out; an admin setting
		// their own stays signed in here.
		if !isSelf(r, u.Name) {
			if err := s.cfg.Catalog.DeleteSessionsOf(r.Context(), u.Name, storage.SessionUser); err != nil {
				return err.Error()
			}
		}
		return ""
	}, "admin.user_password_set")
}

func (s *Server) adminUserDisable(disabled bool) http.HandlerFunc {
	done := "admin.user_enabled"
	if disabled {
		done = "admin.user_disabled"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		s.editUser(w, r, func(u *storage.User) string {
			if disabled && isSelf(r, u.Name) {
				return s.tr(r, "admin.self_disable")
			}
			u.Disabled = disabled
			return ""
		}, done)
	}
}

func (s *Server) adminUserDelete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	if isSelf(r, name) {
		s.redirectFlash(w, r, usersPage, false, s.tr(r, "admin.self_delete"))
		return
	}
	if err := s.cfg.Catalog.DeleteUser(ctx, name); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.cfg.Logger.InfoContext(ctx, "user deleted", "user", name, "by", principalFrom(ctx).Name)
	s.redirectFlash(w, r, usersPage, true, s.tr(r, "admin.user_deleted", "name", name))
}

// findToken returns the token named name.
func (s *Server) findToken(r *http.Request, name string) (storage.Token, error) {
	ts, err := s.cfg.Catalog.ListTokens(r.Context())
	if err != nil {
		return storage.Token{}, err
	}
	for _, t := range ts {
		if t.Name == name {
			return t, nil
		}
	}
	return storage.Token{}, storage.ErrNotFound
}

// issueToken stores a new secret for the token name with role and shows
// it once.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, name, role string) {
	ctx := r.Context()
	secret, hash, err := NewToken()
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	if err := s.cfg.Catalog.PutToken(ctx, storage.Token{Name: name, Role: role, Hash: hash}); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.cfg.Logger.InfoContext(ctx, "token issued", "token", name, "role", role, "by", principalFrom(ctx).Name)
	s.renderUsers(w, r, http.StatusOK, &newSecret{Name: name, Secret: secret})
}

func (s *Server) adminTokenCreate(w http.ResponseWriter, r *http.Request) {
	name, role, msg := s.checkNewPrincipal(r)
	if msg != "" {
		s.redirectFlash(w, r, usersPage, false, msg)
		return
	}
	if _, err := s.findToken(r, name); s.nameTaken(w, r, err, s.tr(r, "admin.token_exists", "name", name)) {
		return
	}
	s.issueToken(w, r, name, role)
}

func (s *Server) adminTokenRotate(w http.ResponseWriter, r *http.Request) {
	t, err := s.findToken(r, r.PathValue("name"))
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.issueToken(w, r, t.Name, t.Role)
}

func (s *Server) adminTokenDelete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	if sess := sessionFrom(ctx); sess != nil && sess.Kind == storage.SessionToken && sess.Principal == name {
		s.redirectFlash(w, r, usersPage, false, s.tr(r, "admin.self_token"))
		return
	}
	if err := s.cfg.Catalog.DeleteToken(ctx, name); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.cfg.Logger.InfoContext(ctx, "token deleted", "token", name, "by", principalFrom(ctx).Name)
	s.redirectFlash(w, r, usersPage, true, s.tr(r, "admin.token_deleted", "name", name))
}
