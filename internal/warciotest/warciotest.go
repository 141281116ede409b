// Package warciotest reads WARC files with webrecorder's warcio.js, an
// implementation independent of wildwatch's, so that tests can check that
// other web-archive tools read the WARCs wildwatch writes.
//
// Install fetches warcio from npm into the user cache directory on first
// use; node and npm must be installed. A missing tool fails the test.
package warciotest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Version is the warcio.js release tests read WARCs with.
const Version = "2.4.11"

// Install returns the path of warcio's ES module entry point, installing
// the package with npm into <user cache>/wildwatch-test on first use. It
// installs into a fresh directory and renames it into place, so concurrent
// test runs never see half an install.
func Install(t testing.TB) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no cache directory for warcio: %v", err)
	}
	dir := filepath.Join(cache, "wildwatch-test", "warcio-"+Version)
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", tmp, "warcio@"+Version)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install warcio@%s: %v\n%s", Version, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(entry); serr != nil { // not installed meanwhile by another run
			t.Fatalf("installing warcio: %v", err)
		}
	}
	return entry
}

// Record is what warcio read of one record.
type Record struct {
	Type          string `json:"type"`
	Target        string `json:"target"`
	ID            string `json:"id"`
	Date          string `json:"date"`
	ConcurrentTo  string `json:"concurrentTo"`
	PayloadDigest string `json:"payloadDigest"`
	BlockDigest   string `json:"blockDigest"`
	// Profile, RefersTo, RefersToTargetURI and RefersToDate are the
	// revisit headers.
	Profile           string `json:"profile"`
	RefersTo          string `json:"refersTo"`
	RefersToTargetURI string `json:"refersToTargetURI"`
	RefersToDate      string `json:"refersToDate"`
	// Status is the HTTP status of a response or revisit record (0 when
	// warcio parsed no HTTP header).
	Status int `json:"status"`
	// PayloadLength and PayloadSHA256 are the length and digest of the
	// payload warcio read (the block less any HTTP header).
	PayloadLength int    `json:"payloadLength"`
	PayloadSHA256 string `json:"payloadSHA256"`
}

// script prints one JSON line per record of the WARC named by argv[3], read
// with the warcio module at the file URL argv[2].
const script = `
import { createReadStream } from "node:fs";
import { createHash } from "node:crypto";
const { WARCParser } = await import(process.argv[2]);
const parser = new WARCParser(createReadStream(process.argv[3]));
for await (const record of parser) {
  const payload = await record.readFully(false);
  const h = (name) => record.warcHeader(name) ?? "";
  console.log(JSON.stringify({
    type: record.warcType,
    target: record.warcTargetURI ?? "",
    id: h("WARC-Record-ID"),
    date: h("WARC-Date"),
    concurrentTo: (record.warcConcurrentTo ?? []).join(" "),
    payloadDigest: record.warcPayloadDigest ?? "",
    blockDigest: record.warcBlockDigest ?? "",
    profile: h("WARC-Profile"),
    refersTo: h("WARC-Refers-To"),
    refersToTargetURI: h("WARC-Refers-To-Target-URI"),
    refersToDate: h("WARC-Refers-To-Date"),
    status: record.httpHeaders ? Number(record.httpHeaders.statusCode ?? 0) : 0,
    payloadLength: payload.length,
    payloadSHA256: "sha256:" + createHash("sha256").update(payload).digest("hex"),
  }));
}
`

// Read reads the WARC file at path with the warcio module Install returned
// and returns its records in order. Anything warcio writes to standard
// error fails the test.
func Read(t testing.TB, module, path string) []Record {
	t.Helper()
	dir := t.TempDir()
	scriptPath := filepath.Join(dir, "read.mjs")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", scriptPath, (&url.URL{Scheme: "file", Path: module}).String(), path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node reading %s with warcio: %v\n%s", path, err, stderr.Bytes())
	}
	if stderr.Len() > 0 {
		t.Errorf("warcio complained about %s:\n%s", path, stderr.Bytes())
	}
	var recs []Record
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		var r Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("warcio script output %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}
