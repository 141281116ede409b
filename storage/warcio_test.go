package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

// warcioVersion is the webrecorder warcio.js release TestWARCReadByWarcio
// reads our WARCs with.
const warcioVersion = "2.4.11"

// warcioScript prints one JSON line per record of the WARC named by
// argv[3], read with the warcio module at the file URL argv[2].
const warcioScript = `
import { createReadStream } from "node:fs";
import { createHash } from "node:crypto";
const { WARCParser } = await import(process.argv[2]);
const parser = new WARCParser(createReadStream(process.argv[3]));
for await (const record of parser) {
  const payload = await record.readFully(false);
  console.log(JSON.stringify({
    type: record.warcType,
    target: record.warcTargetURI ?? "",
    id: record.warcHeader("WARC-Record-ID"),
    concurrentTo: (record.warcConcurrentTo ?? []).join(" "),
    payloadDigest: record.warcPayloadDigest ?? "",
    blockDigest: record.warcBlockDigest ?? "",
    status: record.httpHeaders ? Number(record.httpHeaders.statusCode ?? 0) : 0,
    payloadSHA256: "sha256:" + createHash("sha256").update(payload).digest("hex"),
  }));
}
`

// TestWARCReadByWarcio reads WARCs with webrecorder's warcio.js, an
// independent implementation, installed from npm into the user cache
// directory on first use.
func TestWARCReadByWarcio(t *testing.T) {
	t.Parallel()
	module := installWarcio(t)
	tests := []struct {
		name     string
		rendered bool
	}{
		{"static", false},
		{"rendered", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := testCapture("c1", []byte("<html>\x00\x01 bangle</html>"))
			c.Header.Set("Transfer-Encoding", "chunked")
			c.Header.Set("Content-Encoding", "identity")
			if tt.rendered {
				testRendered(c)
			}
			checkWarcio(t, module, c)
		})
	}
}

// checkWarcio writes c's WARC, reads it with warcio and checks what warcio
// saw.
func checkWarcio(t *testing.T, module string, c *wildwatch.Capture) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteWARC(&buf, testWARCParams(c)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	warcPath := filepath.Join(dir, "c1.warc.gz")
	scriptPath := filepath.Join(dir, "read.mjs")
	if err := os.WriteFile(warcPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(scriptPath, []byte(warcioScript), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", scriptPath, (&url.URL{Scheme: "file", Path: module}).String(), warcPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.Bytes())
	}
	if stderr.Len() > 0 {
		t.Errorf("warcio complained:\n%s", stderr.Bytes())
	}

	type record struct {
		Type, Target, ID, ConcurrentTo, PayloadDigest, BlockDigest, PayloadSHA256 string
		Status                                                                    int
	}
	var recs []record
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		var r record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("script output %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.Type)
	}
	want := []string{"warcinfo", "request", "response", "metadata"}
	if c.Rendered != nil {
		want = []string{"warcinfo", "request", "response", "resource", "resource", "metadata"}
	}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("warcio read record types %q, want %q", kinds, want)
	}
	req, resp, meta := recs[1], recs[2], recs[len(recs)-1]
	if resp.Target != c.FinalURL || req.Target != c.FinalURL || meta.Target != c.FinalURL {
		t.Errorf("target URIs = %q, %q, %q; want %q", req.Target, resp.Target, meta.Target, c.FinalURL)
	}
	if resp.Status != c.Status {
		t.Errorf("warcio read status %d, want %d", resp.Status, c.Status)
	}
	if want := sha256Digest(c.Body); resp.PayloadSHA256 != want || resp.PayloadDigest != want {
		t.Errorf("warcio payload %s, header %s; want %s (the captured body)", resp.PayloadSHA256, resp.PayloadDigest, want)
	}
	for _, r := range append([]record{req, meta}, recs[3:len(recs)-1]...) {
		if r.ConcurrentTo != resp.ID {
			t.Errorf("%s %s concurrent to %q, want %q", r.Type, r.Target, r.ConcurrentTo, resp.ID)
		}
	}
	if meta.PayloadSHA256 != meta.BlockDigest {
		t.Errorf("metadata block digest %s, warcio read %s", meta.BlockDigest, meta.PayloadSHA256)
	}
	if c.Rendered == nil {
		return
	}
	for i, res := range []struct {
		uri  string
		data []byte
	}{
		{"urn:wildwatch:dom:" + c.FinalURL, c.Rendered.DOM},
		{"urn:wildwatch:screenshot:" + c.FinalURL, c.Rendered.Screenshot},
	} {
		r := recs[3+i]
		if r.Target != res.uri {
			t.Errorf("resource %d target %q, want %q", i, r.Target, res.uri)
		}
		want := sha256Digest(res.data)
		if r.PayloadSHA256 != want || r.PayloadDigest != want || r.BlockDigest != want {
			t.Errorf("%s: warcio read payload %s, headers say payload %s, block %s; want %s", res.uri, r.PayloadSHA256, r.PayloadDigest, r.BlockDigest, want)
		}
	}
}

// installWarcio returns the path of warcio's ES module entry point,
// installing the package with npm into <user cache>/wildwatch-test on first
// use. It installs into a fresh directory and renames it into place, so
// concurrent test runs never see half an install.
func installWarcio(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no cache directory for warcio: %v", err)
	}
	dir := filepath.Join(cache, "wildwatch-test", "warcio-"+warcioVersion)
	entry := filepath.Join(dir, "node_modules", "warcio", "dist", "index.js")
	if _, err := os.Stat(entry); err == nil {
		return entry
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to check WARCs with warcio: %v", tool, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(`{"private": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", tmp, "warcio@"+warcioVersion)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install warcio@%s: %v\n%s", warcioVersion, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(entry); serr != nil { // not installed meanwhile by another run
			t.Fatalf("installing warcio: %v", err)
		}
	}
	return entry
}
