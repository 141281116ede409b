package storage

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

// bundleFixture is evidence of three captures in a store, ready to bundle:
// c1 static and flagged, confirmed on review; c2 rendered (with a
// screenshot) and flagged, not reviewed; c3 static and not flagged.
type bundleFixture struct {
	store  wildwatch.EvidenceStore
	signer *Signer
	items  []BundleItem
	// objects are the stored WARC and screenshot bytes by capture ID and
	// role.
	objects map[string]map[string][]byte
}

// bundleURLs are the final URLs of the fixture's captures: a port, a
// leading www., upper case and unsorted query parameters exercise the
// index keys.
var bundleURLs = map[string]string{
	"c1": "https://market.example/item/42?ref=a%20b",
	"c2": "https://www.market.example:8443/Item/7?b=2&a=1",
	"c3": "http://127.0.0.1:8090/item/3",
}

func newBundleFixture(t *testing.T, store wildwatch.EvidenceStore) *bundleFixture {
	t.Helper()
	ctx := t.Context()
	fx := &bundleFixture{store: store, signer: testSigner(t), objects: map[string]map[string][]byte{}}
	ev := &Evidence{Store: store, Signer: fx.signer, Logger: testLogger(t)}
	for i, id := range []string{"c1", "c2", "c3"} {
		c := testCapture(id, []byte("<html><h1>listing "+id+"</h1></html>"))
		c.URL = bundleURLs[id]
		c.FinalURL = bundleURLs[id]
		c.FetchedAt = c.FetchedAt.Add(time.Duration(i) * time.Minute)
		p := testWARCParams(c)
		p.Listing.URL = c.FinalURL
		p.Listing.Seller = "seller-" + id
		p.Listing.Platform = "Example Market"
		p.Listing.Title = "Carved ivory bangle " + id
		if id == "c2" {
			testRendered(c)
		}
		if id == "c3" {
			p.Verdict = wildwatch.Verdict{Score: 0.1, RuleSet: "default@3", Matches: []wildwatch.Match{}}
		}
		m, err := ev.Record(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		rec := CaptureRecord{Capture: *c, Listing: p.Listing, Verdict: p.Verdict}
		rec.Capture.Body, rec.Capture.Rendered = nil, nil
		rec.SetEvidence(m)
		fx.objects[id] = map[string][]byte{}
		for _, o := range m.Objects {
			fx.objects[id][o.Role] = readAll(t, store, o.Key)
		}
		it := BundleItem{Capture: rec}
		switch id {
		case "c1":
			it.Flag = &wildwatch.Flag{ID: "f1", CaptureID: id, Status: wildwatch.FlagConfirmed, Reviews: []wildwatch.Review{
				{FlagID: "f1", Decision: wildwatch.FlagConfirmed, Reviewer: "ana", Note: "tusk visible", At: time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)},
			}}
		case "c2":
			it.Flag = &wildwatch.Flag{ID: "f2", CaptureID: id, Status: wildwatch.FlagNew}
		}
		fx.items = append(fx.items, it)
	}
	return fx
}

func readAll(t *testing.T, store wildwatch.EvidenceStore, key string) []byte {
	t.Helper()
	rc, _, err := store.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var bundleCreated = time.Date(2026, 3, 20, 12, 30, 0, 0, time.UTC)

// write writes the fixture's bundle with edit applied to the parameters.
func (fx *bundleFixture) write(t *testing.T, edit func(*BundleParams)) ([]byte, BundleInfo) {
	t.Helper()
	p := BundleParams{Items: fx.items, Store: fx.store, Signer: fx.signer, Title: "Case 2026-17", Description: "Ivory on Example Market", Created: bundleCreated}
	if edit != nil {
		edit(&p)
	}
	var buf bytes.Buffer
	info, err := WriteBundle(t.Context(), &buf, p)
	if err != nil {
		t.Fatalf("WriteBundle: %v", err)
	}
	return buf.Bytes(), info
}

// unzipped is a bundle's files by name, and its zip entries.
type unzipped struct {
	files   map[string][]byte
	entries map[string]*zip.File
	order   []string
}

func unzipBundle(t *testing.T, data []byte) unzipped {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("bundle is not a zip: %v", err)
	}
	u := unzipped{files: map[string][]byte{}, entries: map[string]*zip.File{}}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if _, dup := u.files[f.Name]; dup {
			t.Errorf("%s is in the zip twice", f.Name)
		}
		u.files[f.Name], u.entries[f.Name] = b, f
		u.order = append(u.order, f.Name)
	}
	return u
}

func verifyBytes(t *testing.T, data []byte, trust BundleTrust) *BundleResult {
	t.Helper()
	res, err := VerifyBundle(t.Context(), bytes.NewReader(data), int64(len(data)), trust)
	if err != nil {
		t.Fatalf("VerifyBundle: %v", err)
	}
	return res
}

func TestWriteBundleRoundTrip(t *testing.T) {
	t.Parallel()
	for _, st := range evidenceStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			fx := newBundleFixture(t, st.new(t))
			data, info := fx.write(t, nil)
			sum := sha256.Sum256(data)
			if info.Bytes != int64(len(data)) || info.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("info says %d bytes, %s; wrote %d bytes, %x", info.Bytes, info.SHA256, len(data), sum)
			}
			u := unzipBundle(t, data)
			if info.Captures != 3 || info.Files != len(u.files) || info.KeyID != Fingerprint(fx.signer.PublicKey()) {
				t.Errorf("info = %+v; want 3 captures, %d files, key %s", info, len(u.files), Fingerprint(fx.signer.PublicKey()))
			}
			res := verifyBytes(t, data, BundleTrust{PublicKey: fx.signer.PublicKey()})
			if !res.OK || !res.Authenticated || len(res.Problems) > 0 {
				t.Fatalf("a fresh bundle does not verify: %+v", res)
			}
			var ids []string
			for _, c := range res.Captures {
				if !c.OK {
					t.Errorf("capture %s not OK", c.ID)
				}
				ids = append(ids, c.ID)
			}
			if !slices.Equal(ids, []string{"c1", "c2", "c3"}) {
				t.Errorf("verified captures %q, want c1 c2 c3", ids)
			}
		})
	}
}

// TestBundleStructure checks the WACZ layout file by file.
func TestBundleStructure(t *testing.T) {
	t.Parallel()
	fx := newBundleFixture(t, evidenceStores[0].new(t))
	data, _ := fx.write(t, nil)
	u := unzipBundle(t, data)

	want := []string{
		"archive/c1.warc.gz", "screenshots/c1.png", "manifests/c1.manifest.json",
		"archive/c2.warc.gz", "screenshots/c2.png", "manifests/c2.manifest.json",
		"archive/c3.warc.gz", "manifests/c3.manifest.json",
		BundleIndex, BundlePages, BundleReportHTML, BundleDatapackage, BundleDigest,
	}
	want = slices.DeleteFunc(want, func(n string) bool { return n == "screenshots/c1.png" || n == "screenshots/c3.png" })
	got := slices.Sorted(slices.Values(u.order))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("files %q\nwant %q", got, want)
	}

	// WARCs and screenshots are the stored bytes, kept uncompressed.
	for id, objs := range fx.objects {
		if b := u.files[BundleWARCPath(id)]; !bytes.Equal(b, objs[RoleWARC]) {
			t.Errorf("%s differs from the stored WARC", BundleWARCPath(id))
		}
		if e := u.entries[BundleWARCPath(id)]; e.Method != zip.Store {
			t.Errorf("%s is compressed in the zip (method %d)", BundleWARCPath(id), e.Method)
		}
		if shot, ok := objs[RoleScreenshot]; ok && !bytes.Equal(u.files[BundleScreenshotPath(id)], shot) {
			t.Errorf("%s differs from the stored screenshot", BundleScreenshotPath(id))
		}
		stored := readAll(t, fx.store, ManifestKey("sweep-1", id))
		if !bytes.Equal(u.files[BundleManifestPath(id)], stored) {
			t.Errorf("%s differs from the stored manifest", BundleManifestPath(id))
		}
	}

	// pages.jsonl: the header, then one page per capture.
	lines := strings.Split(strings.TrimSuffix(string(u.files[BundlePages]), "\n"), "\n")
	if lines[0] != `{"format":"json-pages-1.0","id":"pages","title":"Case 2026-17"}` {
		t.Errorf("pages header %s", lines[0])
	}
	if len(lines) != 4 {
		t.Fatalf("pages.jsonl has %d lines, want a header and 3 pages", len(lines))
	}
	for i, id := range []string{"c1", "c2", "c3"} {
		var pg bundlePage
		if err := json.Unmarshal([]byte(lines[i+1]), &pg); err != nil {
			t.Fatal(err)
		}
		c := fx.items[i].Capture
		wantTS := c.Capture.FetchedAt.UTC().Format(time.RFC3339)
		if pg.ID != id || pg.URL != bundleURLs[id] || pg.TS != wantTS || pg.Title != c.Listing.Title {
			t.Errorf("page %d = %+v; want %s %s %s %q", i, pg, id, bundleURLs[id], wantTS, c.Listing.Title)
		}
	}

	// datapackage.json lists every other file with its digest and size.
	var dp datapackage
	if err := json.Unmarshal(u.files[BundleDatapackage], &dp); err != nil {
		t.Fatal(err)
	}
	if dp.Profile != "data-package" || dp.WACZVersion != "1.1.1" || dp.Title != "Case 2026-17" ||
		dp.Created != "2026-03-20T12:30:00Z" || !strings.HasPrefix(dp.Software, "wildwatch/") ||
		dp.MainPageURL != bundleURLs["c1"] {
		t.Errorf("datapackage = %+v", dp)
	}
	listed := map[string]bool{}
	for _, r := range dp.Resources {
		b, ok := u.files[r.Path]
		sum := sha256.Sum256(b)
		if !ok || r.Hash != "sha256:"+hex.EncodeToString(sum[:]) || r.Bytes != int64(len(b)) || r.Name != r.Path[strings.LastIndex(r.Path, "/")+1:] {
			t.Errorf("resource %+v does not describe its file (%d bytes, %x)", r, len(b), sum)
		}
		listed[r.Path] = true
	}
	for name := range u.files {
		if !listed[name] && name != BundleDatapackage && name != BundleDigest {
			t.Errorf("%s is not listed in datapackage.json", name)
		}
	}

	// datapackage-digest.json signs the digest of datapackage.json.
	var d datapackageDigest
	if err := json.Unmarshal(u.files[BundleDigest], &d); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(u.files[BundleDatapackage])
	label := "sha256:" + hex.EncodeToString(sum[:])
	pub := fx.signer.PublicKey()
	if d.Path != "datapackage.json" || d.Hash != label || d.SignedData.Hash != label ||
		d.SignedData.KeyID != Fingerprint(pub) || d.SignedData.Algorithm != "ed25519" {
		t.Errorf("digest = %+v, signedData %+v; want hash %s, key %s", d, d.SignedData, label, Fingerprint(pub))
	}
	embedded, err := parseBundleKey(d.SignedData.PublicKey)
	if err != nil || !embedded.Equal(pub) {
		t.Errorf("embedded key %x (%v), want %x", embedded, err, pub)
	}
	sig := mustBase64(t, d.SignedData.Signature)
	if !ed25519.Verify(pub, []byte(label), sig) {
		t.Error("the signature does not verify over the hash")
	}

	checkBundleIndex(t, u, fx)
	checkBundleReport(t, string(u.files[BundleReportHTML]), fx)
}

// checkBundleIndex checks the CDXJ index: sorted, one line per response
// and resource record, each pointing at the gzip member of its record.
func checkBundleIndex(t *testing.T, u unzipped, fx *bundleFixture) {
	t.Helper()
	idx := strings.TrimSuffix(string(u.files[BundleIndex]), "\n")
	lines := strings.Split(idx, "\n")
	if !slices.IsSorted(lines) {
		t.Errorf("index not sorted:\n%s", idx)
	}
	// c1 and c3: a response each; c2: a response and two resources.
	if len(lines) != 5 {
		t.Fatalf("index has %d lines, want 5:\n%s", len(lines), idx)
	}
	keys := map[string]bool{}
	for _, line := range lines {
		parts := strings.SplitN(line, " ", 3)
		var f cdxFields
		if len(parts) != 3 || json.Unmarshal([]byte(parts[2]), &f) != nil {
			t.Fatalf("bad line %q", line)
		}
		keys[parts[0]] = true
		warc := u.files["archive/"+f.Filename]
		off, _ := strconv.Atoi(f.Offset)
		n, _ := strconv.Atoi(f.Length)
		if warc == nil || off+n > len(warc) {
			t.Fatalf("line %q points outside its WARC", line)
		}
		zr, err := gzip.NewReader(bytes.NewReader(warc[off : off+n]))
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		zr.Multistream(false)
		rec, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("line %q: the member does not end where the index says: %v", line, err)
		}
		tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(rec)))
		_, _ = tp.ReadLine()
		h, _ := tp.ReadMIMEHeader()
		date, _ := time.Parse(time.RFC3339Nano, h.Get("WARC-Date"))
		if h.Get("WARC-Target-URI") != f.URL || date.Format("20060102150405") != parts[1] || h.Get("WARC-Payload-Digest") != f.Digest {
			t.Errorf("line %q points at a record of %s, %s, %s", line, h.Get("WARC-Target-URI"), h.Get("WARC-Date"), h.Get("WARC-Payload-Digest"))
		}
		switch h.Get("WARC-Type") {
		case "response":
			if f.Status != "200" || f.MIME != "text/html" {
				t.Errorf("response line %q: want status 200, mime text/html", line)
			}
		case "resource":
			if f.Status != "" || f.MIME != h.Get("Content-Type") {
				t.Errorf("resource line %q: want no status, mime %s", line, h.Get("Content-Type"))
			}
		default:
			t.Errorf("line %q indexes a %s record", line, h.Get("WARC-Type"))
		}
	}
	for _, k := range []string{
		"example,market)/item/42?ref=a%20b",
		"example,market:8443)/item/7?a=1&b=2",
		"1,0,0,127:8090)/item/3",
		"urn:wildwatch:dom:" + bundleURLs["c2"],
		"urn:wildwatch:screenshot:" + bundleURLs["c2"],
	} {
		if !keys[k] {
			t.Errorf("no index line keyed %s; keys %v", k, keys)
		}
	}
}

// checkBundleReport checks that the report names what an investigator
// needs for each capture.
func checkBundleReport(t *testing.T, report string, fx *bundleFixture) {
	t.Helper()
	for _, it := range fx.items {
		id := it.Capture.Capture.ID
		warcSum := sha256.Sum256(fx.objects[id][RoleWARC])
		want := []string{
			bundleURLs[id], "seller-" + id, "120 EUR", "Example Market", "example-market",
			it.Capture.Capture.FetchedAt.UTC().Format(reportTime), hex.EncodeToString(warcSum[:]),
			BundleWARCPath(id), BundleManifestPath(id),
		}
		for _, w := range want {
			if !strings.Contains(report, htmlText(w)) {
				t.Errorf("report lacks %q for %s", w, id)
			}
		}
	}
	for _, w := range []string{
		"tusk visible", "confirmed by ana", "flagged, not reviewed", "not flagged", "default@3",
		"<td>ivory</td>", "How to verify", Fingerprint(fx.signer.PublicKey()), `src="../screenshots/c2.png"`,
	} {
		if !strings.Contains(report, w) {
			t.Errorf("report lacks %q", w)
		}
	}
}

// htmlText escapes s as html/template writes text.
func htmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;").Replace(s)
}

// TestWriteBundlePDF checks that the printed report is added and listed,
// and that the document printed carries its screenshots inline.
func TestWriteBundlePDF(t *testing.T) {
	t.Parallel()
	fx := newBundleFixture(t, evidenceStores[0].new(t))
	var printed []byte
	fakePDF := []byte("%PDF-1.7 printed report\n%%EOF\n")
	data, info := fx.write(t, func(p *BundleParams) {
		p.PDF = func(ctx context.Context, html []byte) ([]byte, error) {
			printed = html
			return fakePDF, nil
		}
	})
	u := unzipBundle(t, data)
	if !bytes.Equal(u.files[BundleReportPDF], fakePDF) || info.Files != len(u.files) {
		t.Fatalf("report.pdf = %q, %d files (info says %d)", u.files[BundleReportPDF], len(u.files), info.Files)
	}
	res := verifyBytes(t, data, BundleTrust{PublicKey: fx.signer.PublicKey()})
	if !res.OK {
		t.Fatalf("bundle with a PDF does not verify:\n%s", problemLines(res))
	}
	shot := base64.StdEncoding.EncodeToString(fx.objects["c2"][RoleScreenshot])
	if !strings.Contains(string(printed), `src="data:image/png;base64,`+shot+`"`) {
		t.Error("the printed document does not carry c2's screenshot inline")
	}
	if strings.Contains(string(printed), "../screenshots/") {
		t.Error("the printed document refers to files beside it")
	}
	// A failing printer fails the bundle.
	_, err := WriteBundle(t.Context(), io.Discard, BundleParams{Items: fx.items, Store: fx.store, Signer: fx.signer,
		PDF: func(context.Context, []byte) ([]byte, error) { return nil, errors.New("no browser") }})
	if err == nil || !strings.Contains(err.Error(), "no browser") {
		t.Errorf("WriteBundle with a failing printer: %v", err)
	}
}

// TestBundleRevisit bundles a capture whose WARC holds a revisit record of
// an earlier capture's response: the earlier capture comes along, the
// bundle verifies and warcio reads it, and without the earlier WARC the
// bundle fails naming it.
func TestBundleRevisit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := evidenceStores[0].new(t)
	fx := newBundleFixture(t, store)
	ev := &Evidence{Store: store, Signer: fx.signer}
	rv, err := ev.RevisitOf(ctx, ManifestKey("sweep-1", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	c := testCapture("c4", []byte("<html><h1>listing c1</h1></html>")) // c1's body again
	c.SweepID = "sweep-2"
	c.URL, c.FinalURL = bundleURLs["c1"], bundleURLs["c1"]
	c.FetchedAt = c.FetchedAt.Add(24 * time.Hour)
	p := testWARCParams(c)
	p.Revisit = rv
	m, err := ev.Record(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	rec := CaptureRecord{Capture: *c, Listing: p.Listing, Verdict: p.Verdict}
	rec.Capture.Body = nil
	rec.SetEvidence(m)
	var buf bytes.Buffer
	if _, err := WriteBundle(ctx, &buf, BundleParams{Items: []BundleItem{{Capture: rec}}, Store: store, Signer: fx.signer}); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	u := unzipBundle(t, data)
	if !bytes.Equal(u.files["archive/c1.warc.gz"], fx.objects["c1"][RoleWARC]) || u.files["manifests/c1.manifest.json"] == nil {
		t.Fatalf("the revisited capture c1 is not in the bundle: %q", u.order)
	}
	if pages := string(u.files[BundlePages]); strings.Count(pages, "\n") != 2 || !strings.Contains(pages, `"id":"c4"`) {
		t.Errorf("pages should list c4 alone:\n%s", pages)
	}
	if idx := string(u.files[BundleIndex]); !strings.Contains(idx, `"mime":"warc/revisit","status":"200"`) || !strings.Contains(idx, `"filename":"c1.warc.gz"`) {
		t.Errorf("index lacks the revisit or the response it stands for:\n%s", idx)
	}
	if report := string(u.files[BundleReportHTML]); !strings.Contains(report, "unchanged since capture <code>c1</code>") || !strings.Contains(report, "Earlier captures") {
		t.Error("the report does not explain the revisit")
	}
	if res := verifyBytes(t, data, BundleTrust{PublicKey: fx.signer.PublicKey()}); !res.OK || len(res.Captures) != 2 {
		t.Fatalf("revisit bundle: OK %v, %d captures\n%s", res.OK, len(res.Captures), problemLines(res))
	}
	checkBundleWarcio(t, u, map[string][]string{
		"c1.warc.gz": {"warcinfo", "request", "response", "metadata"},
		"c4.warc.gz": {"warcinfo", "request", "revisit", "metadata"},
	})

	// Without the earlier capture, re-signed so that only the revisit's
	// own manifest can tell.
	cut := resign(t, rezip(t, data, func(name string, b []byte) []byte {
		if name == "archive/c1.warc.gz" || name == "manifests/c1.manifest.json" {
			return nil
		}
		return b
	}, nil), fx.signer)
	res := verifyBytes(t, cut, BundleTrust{PublicKey: fx.signer.PublicKey()})
	found := false
	for _, p := range res.Problems {
		found = found || (p.File == "archive/c1.warc.gz" && strings.Contains(p.Problem, "manifests/c4.manifest.json names it"))
	}
	if res.OK || !found {
		t.Errorf("a bundle without the revisited WARC: OK %v\n%s", res.OK, problemLines(res))
	}
}
