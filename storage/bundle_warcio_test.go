package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch/internal/warciotest"
)

// warcioIndexScript prints, for each WARC file named after the module's
// file URL, one JSON line: the types of the records warcio parsed and
// warcio's own CDX entries for the response, revisit and resource records.
const warcioIndexScript = `
import { createReadStream } from "node:fs";
import { basename } from "node:path";
const { WARCParser, CDXAndRecordIndexer } = await import(process.argv[2]);
for (const file of process.argv.slice(3)) {
  const types = [];
  for await (const record of new WARCParser(createReadStream(file))) {
    await record.readFully(false);
    types.push(record.warcType);
  }
  const index = [];
  const indexer = new CDXAndRecordIndexer();
  for await (const { cdx, record } of indexer.iterIndex([{ filename: basename(file), reader: createReadStream(file) }])) {
    if (["response", "revisit", "resource"].includes(record.warcType)) {
      index.push(cdx);
    }
  }
  console.log(JSON.stringify({ file: basename(file), types, index }));
}
`

// TestBundleReadByWarcio reads every WARC of a bundle's archive/ with
// webrecorder's warcio.js and checks that each record parses and that
// warcio's indexer, an independent implementation, computes the same
// index entries as the bundle's indexes/index.cdx.
func TestBundleReadByWarcio(t *testing.T) {
	t.Parallel()
	fx := newBundleFixture(t, evidenceStores[0].new(t))
	data, _ := fx.write(t, nil)
	static := []string{"warcinfo", "request", "response", "metadata"}
	checkBundleWarcio(t, unzipBundle(t, data), map[string][]string{
		"c1.warc.gz": static,
		"c2.warc.gz": {"warcinfo", "request", "response", "resource", "resource", "metadata"},
		"c3.warc.gz": static,
	})
}

// checkBundleWarcio reads the WARCs of a bundle with warcio.js, checks the
// record types of each against want (by file name) and warcio's index
// entries against the bundle's.
func checkBundleWarcio(t *testing.T, u unzipped, want map[string][]string) {
	t.Helper()
	module := warciotest.Install(t)
	dir := t.TempDir()
	var files []string
	for name, b := range u.files {
		if strings.HasPrefix(name, "archive/") {
			p := filepath.Join(dir, strings.TrimPrefix(name, "archive/"))
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, p)
		}
	}
	slices.Sort(files)
	script := filepath.Join(dir, "index.mjs")
	if err := os.WriteFile(script, []byte(warcioIndexScript), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script, (&url.URL{Scheme: "file", Path: module}).String()}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.Bytes())
	}
	if stderr.Len() > 0 {
		t.Errorf("warcio complained:\n%s", stderr.Bytes())
	}

	// The bundle's index, by file.
	ours := map[string][]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(u.files[BundleIndex])), "\n") {
		parts := strings.SplitN(line, " ", 3)
		var f cdxFields
		if err := json.Unmarshal([]byte(parts[2]), &f); err != nil {
			t.Fatal(err)
		}
		ours[f.Filename] = append(ours[f.Filename], cdxComparable(parts[0], parts[1], f.URL, f.MIME, f.Status,
			strings.TrimPrefix(f.Digest, "sha256:"), f.Offset, f.Length))
	}

	type warcioFile struct {
		File  string
		Types []string
		Index []struct {
			URLKey    string `json:"urlkey"`
			Timestamp string `json:"timestamp"`
			URL       string `json:"url"`
			MIME      string `json:"mime"`
			Status    any    `json:"status"`
			Digest    string `json:"digest"`
			Offset    int64  `json:"offset"`
			Length    int64  `json:"length"`
		}
	}
	seen := 0
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		var wf warcioFile
		if err := json.Unmarshal([]byte(line), &wf); err != nil {
			t.Fatalf("script output %q: %v", line, err)
		}
		seen++
		if !slices.Equal(wf.Types, want[wf.File]) {
			t.Errorf("%s: warcio read records %q, want %q", wf.File, wf.Types, want[wf.File])
		}
		var theirs []string
		for _, e := range wf.Index {
			status := ""
			if e.Status != nil {
				status = fmt.Sprint(e.Status)
			}
			theirs = append(theirs, cdxComparable(e.URLKey, e.Timestamp, e.URL, e.MIME, status, e.Digest,
				strconv.FormatInt(e.Offset, 10), strconv.FormatInt(e.Length, 10)))
		}
		slices.Sort(theirs)
		mine := slices.Sorted(slices.Values(ours[wf.File]))
		if !slices.Equal(mine, theirs) {
			t.Errorf("%s: index entries differ from warcio's\nours:   %q\nwarcio: %q", wf.File, mine, theirs)
		}
	}
	if seen != len(want) {
		t.Errorf("warcio read %d WARC files, want %d", seen, len(want))
	}
}

func cdxComparable(fields ...string) string { return strings.Join(fields, " | ") }
