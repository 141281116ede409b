package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/storage"
)

// canSignIn reports whether name signs in with password.
func (st *consoleStack) canSignIn(t *testing.T, name, password string) bool {
	t.Helper()
	code, _, loc := st.newSession(t).login(url.Values{"mode": {"password"}, "user": {name}, "password": {password}})
	return code == http.StatusSeeOther && loc == "/"
}

// whoami asks the API who token is; it returns the status and principal.
func (st *consoleStack) whoami(t *testing.T, token string) (int, api.Principal) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, st.URL+"/api/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p api.Principal
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode, p
}

var secretCopy = regexp.MustCompile(`data-copy="([^"]+)"`)

func TestConsoleAdminUsers(t *testing.T) {
	st := stack(t)
	ctx := context.Background()
	s := adminSession(t, st)
	const name, pw, pw2 = "adm-lena", "lena's first password", "lena's second password"
	user := func() storage.User {
		t.Helper()
		u, err := st.Catalog.GetUser(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	flash := func(loc string) string {
		t.Helper()
		_, body := s.follow(loc)
		return body
	}

	// Refused forms store nothing.
	for _, f := range []url.Values{
		{"name": {name}, "role": {"investigator"}, "password": {pw}, "password2": {pw + "x"}},
		{"name": {name}, "role": {"investigator"}, "password": {"short"}, "password2": {"short"}},
		{"name": {name}, "role": {"boss"}, "password": {pw}, "password2": {pw}},
		{"name": {"has space"}, "role": {"investigator"}, "password": {pw}, "password2": {pw}},
	} {
		code, _, loc := s.post("/admin/users", f)
		if code != http.StatusSeeOther || !strings.Contains(flash(loc), "flash problem") {
			t.Errorf("refused create %v: %d", f, code)
		}
	}
	if _, err := st.Catalog.GetUser(ctx, name); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a refused form created the user: %v", err)
	}

	code, _, loc := s.post("/admin/users", url.Values{"name": {name}, "role": {"investigator"}, "password": {pw}, "password2": {pw}})
	if code != http.StatusSeeOther {
		t.Fatalf("create user = %d", code)
	}
	body := flash(loc)
	if u := user(); u.Role != api.RoleInvestigator || u.Disabled {
		t.Errorf("created %+v", u)
	}
	if !strings.Contains(body, `id="user-`+name+`"`) {
		t.Error("the new user is not listed")
	}
	us, _ := st.Catalog.ListUsers(ctx)
	for _, u := range us {
		if !strings.Contains(body, `id="user-`+html.EscapeString(u.Name)+`"`) {
			t.Errorf("user %s not listed", u.Name)
		}
	}
	if !st.canSignIn(t, name, pw) {
		t.Fatal("the new user cannot sign in")
	}
	if st.canSignIn(t, name, pw2) {
		t.Fatal("the new user signs in with another password")
	}

	s.post("/admin/users/"+name+"/role", url.Values{"role": {"monitor"}})
	if u := user(); u.Role != api.RoleMonitor {
		t.Errorf("role not changed: %s", u.Role)
	}
	code, _, loc = s.post("/admin/users/"+name+"/password", url.Values{"password": {pw2}, "password2": {pw2}})
	if code != http.StatusSeeOther || !strings.Contains(flash(loc), "flash ok") {
		t.Errorf("reset password = %d", code)
	}
	if st.canSignIn(t, name, pw) || !st.canSignIn(t, name, pw2) {
		t.Error("the reset password is not the one that signs in")
	}
	s.post("/admin/users/"+name+"/disable", nil)
	if !user().Disabled || st.canSignIn(t, name, pw2) {
		t.Error("a disabled user signs in")
	}
	s.post("/admin/users/"+name+"/enable", nil)
	if user().Disabled || !st.canSignIn(t, name, pw2) {
		t.Error("an enabled user cannot sign in")
	}
	s.post("/admin/users/"+name+"/delete", nil)
	if _, err := st.Catalog.GetUser(ctx, name); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}

	// An admin cannot remove themselves from admin.
	me := st.Users[api.RoleAdmin]
	for _, p := range []struct {
		path string
		form url.Values
	}{
		{"/admin/users/" + me + "/delete", nil},
		{"/admin/users/" + me + "/role", url.Values{"role": {"investigator"}}},
		{"/admin/users/" + me + "/disable", nil},
	} {
		code, _, loc := s.post(p.path, p.form)
		if code != http.StatusSeeOther || !strings.Contains(flash(loc), "flash problem") {
			t.Errorf("%s: %d, no refusal shown", p.path, code)
		}
	}
	if u, err := st.Catalog.GetUser(ctx, me); err != nil || u.Role != api.RoleAdmin || u.Disabled {
		t.Fatalf("the admin changed themselves: %+v %v", u, err)
	}

	// Tokens: the secret is shown once and works on the API.
	const tok = "adm-token"
	code, body, _ = s.post("/admin/tokens", url.Values{"name": {tok}, "role": {"investigator"}})
	m := secretCopy.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		t.Fatalf("create token = %d, no secret shown", code)
	}
	secret := m[1]
	if c, p := st.whoami(t, secret); c != http.StatusOK || p.Name != tok || p.Role != api.RoleInvestigator {
		t.Errorf("whoami with the new token: %d %+v", c, p)
	}
	if strings.Contains(s.mustGet("/admin/users"), secret) {
		t.Error("the secret is shown again")
	}
	if code, _, _ := s.post("/admin/tokens", url.Values{"name": {tok}, "role": {"admin"}}); code != http.StatusSeeOther {
		t.Errorf("a second token of one name = %d, want a refusal", code)
	}
	code, body, _ = s.post("/admin/tokens/"+tok+"/rotate", nil)
	m = secretCopy.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil || m[1] == secret {
		t.Fatalf("rotate = %d, no new secret", code)
	}
	if c, _ := st.whoami(t, secret); c != http.StatusUnauthorized {
		t.Errorf("the rotated secret still works: %d", c)
	}
	if c, p := st.whoami(t, m[1]); c != http.StatusOK || p.Name != tok {
		t.Errorf("the new secret: %d %+v", c, p)
	}
	s.post("/admin/tokens/"+tok+"/delete", nil)
	if c, _ := st.whoami(t, m[1]); c != http.StatusUnauthorized {
		t.Errorf("a deleted token works: %d", c)
	}
}
