package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/demosite"
	"github.com/wildwatch/wildwatch/storage"
)

// smallTargetFile is the demo target cut down to one static search page
// and a few listings, for tests that need a sweep but not the whole site.
func (d *demo) smallTargetFile(t *testing.T) string {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(demosite.TargetYAML(d.URL), &m); err != nil {
		t.Fatal(err)
	}
	m["start_urls"] = []string{d.URL + "/search?q=ivory"}
	delete(m, "search")
	m["render"] = wildwatch.RenderStatic
	limits := m["limits"].(map[string]any)
	limits["max_pages"], limits["max_listings"] = 1, 4
	b, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "small-target.yaml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExportVerifyLocal sweeps a few demo listings into a data directory,
// exports them as case bundles and verifies the bundles offline: intact,
// with the key given or its fingerprint, unauthenticated without either,
// and failing, naming the file, once the report inside is changed.
func TestExportVerifyLocal(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d := startTestSite(t)
	data := t.TempDir()
	out, code := runCLI(t, nil, "sweep", "run", d.smallTargetFile(t), "--data", data, "--retry-delay", "100ms")
	if code != 0 {
		t.Fatalf("sweep run exited %d:\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var sum sweepSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.Captures == 0 || sum.Flags == 0 {
		t.Fatalf("sweep summary %q: %v; want captures and flags", lines[len(lines)-1], err)
	}

	// A review, for the report to show.
	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: filepath.Join(data, "wildwatch.db")})
	if err != nil {
		t.Fatal(err)
	}
	flags, err := cat.ListFlags(ctx, storage.FlagFilter{SweepID: sum.Sweep})
	if err != nil || len(flags) == 0 {
		t.Fatalf("flags: %v, %v", flags, err)
	}
	if _, err := cat.AddReview(ctx, wildwatch.Review{FlagID: flags[0].ID, Decision: wildwatch.FlagConfirmed, Reviewer: "ana", Note: "seen", At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	cat.Close()

	dir := t.TempDir()
	sweepBundle := filepath.Join(dir, "sweep.wacz")
	out, code = runCLI(t, nil, "export", "--sweep", sum.Sweep, "--out", sweepBundle, "--data", data, "--title", "Case 1")
	var exp exportSummary
	if code != 0 || json.Unmarshal([]byte(out), &exp) != nil || exp.Captures != sum.Captures || exp.Out != sweepBundle {
		t.Fatalf("export --sweep exited %d: %s; want %d captures", code, out, sum.Captures)
	}
	flagBundle := filepath.Join(dir, "flag.wacz")
	out, code = runCLI(t, nil, "export", "--flag", flags[0].ID, "--out", flagBundle, "--data", data, "--pdf")
	if code != 0 || json.Unmarshal([]byte(out), &exp) != nil || exp.Captures != 1 {
		t.Fatalf("export --flag --pdf exited %d: %s", code, out)
	}
	files := readZip(t, flagBundle)
	if !bytes.HasPrefix(files[storage.BundleReportPDF], []byte("%PDF-")) {
		t.Errorf("the flag's bundle has no printed report")
	}
	if report := string(files[storage.BundleReportHTML]); !strings.Contains(report, "confirmed by ana: seen") || !strings.Contains(report, flags[0].URL) {
		t.Errorf("the report lacks the review or the URL of flag %s", flags[0].ID)
	}

	pubFile := filepath.Join(data, "keys", "evidence.key.pub")
	pub, err := storage.LoadPublicKey(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	fp := storage.Fingerprint(pub)
	for _, args := range [][]string{
		{"verify", sweepBundle, flagBundle, "--fingerprint", fp},
		{"verify", sweepBundle, "--key", pubFile},
		{"verify", flagBundle, "--pubkey", pubFile},
	} {
		out, code = runCLI(t, nil, args...)
		if code != 0 || strings.Contains(out, "FAIL") || !strings.Contains(out, "intact") || !strings.Contains(out, "key "+fp+" is ") {
			t.Errorf("%q exited %d:\n%s", args, code, out)
		}
	}
	out, code = runCLI(t, nil, "verify", sweepBundle)
	if code != exitUnauthenticated || !strings.Contains(out, "WARNING: key "+fp) {
		t.Errorf("verify without a key exited %d, want %d and a warning:\n%s", code, exitUnauthenticated, out)
	}
	out, code = runCLI(t, nil, "verify", sweepBundle, "--fingerprint", "0123456789abcdef")
	if code != 1 || !strings.Contains(out, "FAIL  datapackage-digest.json") {
		t.Errorf("verify with a wrong fingerprint exited %d:\n%s", code, out)
	}

	// A changed report is caught and named.
	tampered := filepath.Join(dir, "tampered.wacz")
	rewriteZip(t, sweepBundle, tampered, storage.BundleReportHTML, func(b []byte) []byte {
		return bytes.Replace(b, []byte("Case 1"), []byte("Case 2"), 1)
	})
	out, code = runCLI(t, nil, "verify", tampered, "--fingerprint", fp)
	if code != 1 || !strings.Contains(out, "FAIL  report/index.html: SHA-256") {
		t.Errorf("verify of a changed report exited %d:\n%s", code, out)
	}

	// The same export made by the daemon over the API.
	serve := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", data)
	apiURL := serve.waitLine(t, "API: ", time.Minute)
	token := serve.waitLine(t, "admin token: ", time.Minute)
	remote := filepath.Join(dir, "remote.wacz")
	out, code = runCLI(t, []string{"WILDWATCH_TOKEN=" + token}, "export", "--server", apiURL, "--flag", flags[0].ID, "--out", remote)
	if code != 0 || json.Unmarshal([]byte(out), &exp) != nil || exp.ID == "" || exp.Captures != 1 {
		t.Fatalf("export --server exited %d: %s", code, out)
	}
	out, code = runCLI(t, nil, "verify", remote, "--key", pubFile)
	if code != 0 || !strings.Contains(out, "intact") {
		t.Errorf("verify of the bundle the server made exited %d:\n%s", code, out)
	}
}

func readZip(t *testing.T, path string) map[string][]byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// rewriteZip copies the zip at from to to, passing the file named name
// through edit.
func rewriteZip(t *testing.T, from, to, name string, edit func([]byte) []byte) {
	t.Helper()
	zr, err := zip.OpenReader(from)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for _, zf := range zr.File {
		if zf.Name != name {
			if err := zw.Copy(zf); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: zf.Name, Method: zf.Method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(edit(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}
