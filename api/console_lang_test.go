package api_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestConsoleLangChoice: a monitor who picks French sees the dashboard in
// French from then on, and a browser that asks for Spanish gets the
// sign-in page in Spanish.
func TestConsoleLangChoice(t *testing.T) {
	st := stack(t)

	s := st.signIn(t, "monitor")
	home := s.mustGet("/")
	if !strings.Contains(home, `<html lang="en">`) || !strings.Contains(home, "Running and recent sweeps") {
		t.Fatalf("the dashboard is not in English before a language is chosen:\n%s", home)
	}

	code, body, loc := s.post("/lang", url.Values{"lang": {"fr"}, "next": {"/"}})
	if code != http.StatusSeeOther || loc != "/" {
		t.Fatalf("POST /lang = %d %q\n%s", code, loc, body)
	}
	home = s.mustGet("/")
	for _, want := range []string{`<html lang="fr">`, "Tableau de bord", "Collectes en cours et récentes", "Se déconnecter"} {
		if !strings.Contains(home, want) {
			t.Errorf("the French dashboard lacks %q", want)
		}
	}
	for _, english := range []string{"Running and recent sweeps", "Sign out"} {
		if strings.Contains(home, english) {
			t.Errorf("the French dashboard still says %q", english)
		}
	}
	if sweeps := s.mustGet("/sweeps"); !strings.Contains(sweeps, `<html lang="fr">`) {
		t.Error("the choice of French did not carry to the sweeps page")
	}

	// A language the console does not offer changes nothing.
	s.post("/lang", url.Values{"lang": {"de"}, "next": {"/"}})
	if home = s.mustGet("/"); !strings.Contains(home, "Tableau de bord") {
		t.Error("choosing an unknown language dropped French")
	}

	// Accept-Language picks Spanish on the sign-in page.
	req, err := http.NewRequest(http.MethodGet, st.URL+"/login", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Language", "es-ES,es;q=0.9,en;q=0.4")
	res, err := st.newSession(t).c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	login := string(b)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /login = %d\n%s", res.StatusCode, login)
	}
	for _, want := range []string{`<html lang="es">`, "Iniciar sesión", "Usuario y contraseña", "Token de API"} {
		if !strings.Contains(login, want) {
			t.Errorf("the Spanish sign-in page lacks %q", want)
		}
	}
	if strings.Contains(login, "User and password") {
		t.Error("the Spanish sign-in page still says \"User and password\"")
	}
}
