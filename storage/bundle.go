package storage

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"
	"time"

	"github.com/wildwatch/wildwatch"
)

// WACZVersion is the version of the WACZ format case bundles follow.
const WACZVersion = "1.1.1"

// Files of a case bundle besides those of each capture.
const (
	BundleDatapackage = "datapackage.json"
	BundleDigest      = "datapackage-digest.json"
	BundlePages       = "pages/pages.jsonl"
	BundleIndex       = "indexes/index.cdx"
	BundleReportHTML  = "report/index.html"
	BundleReportPDF   = "report/report.pdf"
)

// BundleWARCPath, BundleManifestPath and BundleScreenshotPath are where a
// case bundle keeps a capture's WARC, signed manifest and screenshot.
func BundleWARCPath(captureID string) string { return "archive/" + captureID + ".warc.gz" }

// BundleManifestPath: see BundleWARCPath.
func BundleManifestPath(captureID string) string { return "manifests/" + captureID + manifestSuffix }

// BundleTimestampPath is where a bundle keeps the RFC 3161 answer for a
// capture's manifest, when the capture has one.
func BundleTimestampPath(captureID string) string { return "manifests/" + captureID + timestampSuffix }

// BundleScreenshotPath: see BundleWARCPath.
func BundleScreenshotPath(captureID string) string { return "screenshots/" + captureID + ".png" }

// ContentTypeBundle is the content type case bundles are served with.
const ContentTypeBundle = "application/zip"

// ErrEvidenceChanged reports stored evidence that no longer matches its
// signed manifest; WriteBundle refuses to bundle it.
var ErrEvidenceChanged = errors.New("stored evidence does not match its signed manifest")

// PDFFunc prints an HTML document to PDF. crawler.Browser.PrintPDF is one.
type PDFFunc func(ctx context.Context, html []byte) ([]byte, error)

// BundleItem is one capture of a case bundle, with the flag raised on it
// (and the flag's reviews) when there is one.
type BundleItem struct {
	Capture CaptureRecord
	Flag    *wildwatch.Flag
}

// BundleParams say what a case bundle holds and how it is made.
type BundleParams struct {
	// Items are the captures, in the order the report lists them. A
	// capture named twice is bundled once.
	Items []BundleItem
	// Store holds the captures' evidence; Signer is the deployment key
	// that signed their manifests and signs the bundle.
	Store  wildwatch.EvidenceStore
	Signer *Signer
	// Title and Description describe the case; Title defaults to
	// "wildwatch case bundle".
	Title       string
	Description string
	// PDF, when set, prints the report to report/report.pdf too.
	PDF PDFFunc
	// Created defaults to now; it is written in UTC.
	Created time.Time
	// SoftwareVersion defaults to wildwatch.Version.
	SoftwareVersion string
}

// BundleInfo describes a written case bundle.
type BundleInfo struct {
	// Bytes and SHA256 (hex) are those of the whole bundle as written.
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	// Captures is the number of captures bundled; Files the number of
	// files in the zip.
	Captures int `json:"captures"`
	Files    int `json:"files"`
	// KeyID is the fingerprint of the key that signed the bundle.
	KeyID string `json:"key_id"`
}

// datapackage is datapackage.json: a Frictionless data package as WACZ
// 1.1.1 profiles it.
type datapackage struct {
	Profile      string           `json:"profile"`
	WACZVersion  string           `json:"wacz_version"`
	Title        string           `json:"title"`
	Description  string           `json:"description,omitempty"`
	Created      string           `json:"created"`
	Modified     string           `json:"modified"`
	Software     string           `json:"software"`
	MainPageURL  string           `json:"mainPageUrl,omitempty"`
	MainPageDate string           `json:"mainPageDate,omitempty"`
	Resources    []bundleResource `json:"resources"`
}

// bundleResource is one file of the bundle in datapackage.json.
type bundleResource struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	Hash  string `json:"hash"` // "sha256:" and lower-case hex
	Bytes int64  `json:"bytes"`
}

// datapackageDigest is datapackage-digest.json. SignedData has the shape
// of a WACZ anonymous signature, signed with Ed25519 instead of ECDSA.
type datapackageDigest struct {
	Path       string            `json:"path"`
	Hash       string            `json:"hash"`
	SignedData *bundleSignedData `json:"signedData"`
}

// bundleSignedData is the signature of a bundle: an Ed25519 signature
// (RFC 8032, pure) over the UTF-8 bytes of Hash, the "sha256:<hex>" of
// datapackage.json. PublicKey is the standard base64 of the key's DER
// SubjectPublicKeyInfo and KeyID its Fingerprint.
type bundleSignedData struct {
	Hash      string `json:"hash"`
	Created   string `json:"created"`
	Software  string `json:"software"`
	Version   string `json:"version"`
	Algorithm string `json:"algorithm"`
	KeyID     string `json:"keyId"`
	PublicKey string `json:"publicKey"`
	Signature string `json:"signature"`
}

// bundlePage is one line of pages/pages.jsonl after the header.
type bundlePage struct {
	ID    string `json:"id"`
	URL   string `json:"url"`
	TS    string `json:"ts"`
	Title string `json:"title,omitempty"`
}

// WriteBundle writes a case bundle to w: a WACZ 1.1.1 zip of
//
//   - archive/<capture>.warc.gz: each capture's stored WARC, byte for
//     byte, kept uncompressed in the zip so that readers can seek in it;
//   - indexes/index.cdx: a sorted CDXJ index of the WARCs' response,
//     revisit and resource records, offsets and lengths those of their
//     gzip members;
//   - pages/pages.jsonl: one page per capture (URL, time, title);
//   - manifests/<capture>.manifest.json: each capture's signed manifest
//     as stored, and screenshots/<capture>.png for rendered captures;
//   - report/index.html, and report/report.pdf when p.PDF is set: a
//     readable report of every capture with its listing, digests, matched
//     terms and review, and how to verify the bundle;
//   - datapackage.json: every file above with its SHA-256 and size;
//   - datapackage-digest.json: the SHA-256 of datapackage.json, signed
//     with p.Signer, with the public key and its fingerprint.
//
// Before a capture is bundled its stored manifest must verify with
// p.Signer's key, and its WARC and screenshot must match the manifest, so
// a bundle never vouches for evidence that changed in the store. WARCs and
// screenshots are streamed from the store into w, one at a time.
func WriteBundle(ctx context.Context, w io.Writer, p BundleParams) (BundleInfo, error) {
	if p.Store == nil || p.Signer == nil {
		return BundleInfo{}, errors.New("writing bundle: store and signer are required")
	}
	items := dedupeItems(p.Items)
	if len(items) == 0 {
		return BundleInfo{}, errors.New("writing bundle: no captures")
	}
	p.Title = cmp.Or(p.Title, "wildwatch case bundle")
	p.SoftwareVersion = cmp.Or(p.SoftwareVersion, wildwatch.Version)
	if p.Created.IsZero() {
		p.Created = time.Now()
	}
	p.Created = p.Created.UTC().Truncate(time.Second)

	hw := &hashingWriter{w: w, h: sha256.New()}
	bw := &bundleWriter{zw: zip.NewWriter(hw), modified: p.Created}
	pub := p.Signer.PublicKey()
	report := reportData{
		Title: p.Title, Description: p.Description, Created: p.Created,
		Software: Software + "/" + p.SoftwareVersion, KeyID: Fingerprint(pub), PublicKey: FormatPublicKey(pub),
	}
	var index cdxIndex
	var pages []bundlePage
	bundled := map[string]bool{}
	var revisited []ManifestObject // manifests of earlier captures that revisits refer to
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return BundleInfo{}, fmt.Errorf("writing bundle: %w", err)
		}
		rec := it.Capture
		id := rec.Capture.ID
		if err := validateCaptureIDs(rec.Capture.SweepID, id); err != nil {
			return BundleInfo{}, fmt.Errorf("writing bundle: %w", err)
		}
		mkey := cmp.Or(rec.ManifestKey, ManifestKey(rec.Capture.SweepID, id))
		bc, err := bw.addCapture(ctx, p.Store, pub, mkey, id, nil, &index)
		if err != nil {
			return BundleInfo{}, fmt.Errorf("writing bundle: %w", err)
		}
		bundled[id] = true
		revisited = append(revisited, bc.revisited...)
		ri := bc.reportItem(it)
		ri.N = len(report.Items) + 1
		report.Items = append(report.Items, ri)
		pages = append(pages, bundlePage{ID: id, URL: cmp.Or(bc.manifest.FinalURL, bc.manifest.URL),
			TS: ri.fetched.Format(time.RFC3339), Title: rec.Listing.Title})
	}
	// A revisit record stands for a response kept in an earlier capture's
	// WARC: that capture comes along, so that the bundle replays and
	// verifies on its own.
	for len(revisited) > 0 {
		ref := revisited[0]
		revisited = revisited[1:]
		id := captureIDOfKey(ref.Key)
		if bundled[id] {
			continue
		}
		bc, err := bw.addCapture(ctx, p.Store, pub, ref.Key, id, &ref, &index)
		if err != nil {
			return BundleInfo{}, fmt.Errorf("writing bundle: earlier capture: %w", err)
		}
		bundled[id] = true
		revisited = append(revisited, bc.revisited...)
		report.Earlier = append(report.Earlier, bc.reportItem(BundleItem{}))
	}

	if err := bw.addBytes(BundleIndex, index.bytes(), zip.Deflate); err != nil {
		return BundleInfo{}, fmt.Errorf("writing bundle: %w", err)
	}
	pagesJSONL, err := pagesFile(p.Title, pages)
	if err != nil {
		return BundleInfo{}, fmt.Errorf("writing bundle: %w", err)
	}
	if err := bw.addBytes(BundlePages, pagesJSONL, zip.Deflate); err != nil {
		return BundleInfo{}, fmt.Errorf("writing bundle: %w", err)
	}
	html, err := report.render(false)
	if err != nil {
		return BundleInfo{}, fmt.Errorf("writing bundle: %w", err)
	}
	if err := bw.addBytes(BundleReportHTML, html, zip.Deflate); err != nil {
		return BundleInfo{}, fmt.Errorf("writing bundle: %w", err)
	}
	if p.PDF != nil {
		if err := report.inlineScreenshots(ctx, p.Store); err != nil {
			return BundleInfo{}, fmt.Errorf("writing bundle: %w", err)
		}
		printable, err := report.render(true)
		if err != nil {
			return BundleInfo{}, fmt.Errorf("writing bundle: %w", err)
		}
		pdf, err := p.PDF(ctx, printable)
		if err != nil {
			return BundleInfo{}, fmt.Errorf("writing bundle: report PDF: %w", err)
		}
		if err := bw.addBytes(BundleReportPDF, pdf, zip.Deflate); err != nil {
			return BundleInfo{}, fmt.Errorf("writing bundle: %w", err)
		}
	}

	created := p.Created.Format(time.RFC3339)
	dp := datapackage{
		Profile: "data-package", WACZVersion: WACZVersion, Title: p.Title, Description: p.Description,
		Created: created, Modified: created, Software: report.Software,
		MainPageURL: pages[0].URL, MainPageDate: pages[0].TS, Resources: bw.resources,
	}
	dpJSON, err := json.MarshalIndent(dp, "", "  ")
	if err != nil {
		return BundleInfo{}, fmt.Errorf("writing bundle: %w", err)
	}
	dpJSON = append(dpJSON, '\n')
	digest, err := signDatapackage(p.Signer, dpJSON, created, p.SoftwareVersion)
	if err != nil {
		return BundleInfo{}, fmt.Errorf("writing bundle: %w", err)
	}
	resources := len(bw.resources)
	if err := bw.addBytes(BundleDatapackage, dpJSON, zip.Deflate); err != nil {
		return BundleInfo{}, fmt.Errorf("writing bundle: %w", err)
	}
	if err := bw.addBytes(BundleDigest, digest, zip.Deflate); err != nil {
		return BundleInfo{}, fmt.Errorf("writing bundle: %w", err)
	}
	if err := bw.zw.Close(); err != nil {
		return BundleInfo{}, fmt.Errorf("writing bundle: %w", err)
	}
	return BundleInfo{
		Bytes: hw.n, SHA256: hex.EncodeToString(hw.h.Sum(nil)),
		Captures: len(items), Files: resources + 2, KeyID: Fingerprint(pub),
	}, nil
}

// dedupeItems drops the second and later items of a capture.
func dedupeItems(items []BundleItem) []BundleItem {
	seen := map[string]bool{}
	var out []BundleItem
	for _, it := range items {
		id := it.Capture.Capture.ID
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, it)
	}
	return out
}

// pagesFile is pages/pages.jsonl: the header line, then one page a line.
func pagesFile(title string, pages []bundlePage) ([]byte, error) {
	var b bytes.Buffer
	header, err := json.Marshal(map[string]string{"format": "json-pages-1.0", "id": "pages", "title": title})
	if err != nil {
		return nil, err
	}
	b.Write(header)
	b.WriteByte('\n')
	for _, pg := range pages {
		line, err := json.Marshal(pg)
		if err != nil {
			return nil, err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// signDatapackage returns datapackage-digest.json for dpJSON.
func signDatapackage(s *Signer, dpJSON []byte, created, version string) ([]byte, error) {
	sum := sha256.Sum256(dpJSON)
	label := "sha256:" + hex.EncodeToString(sum[:])
	pub := s.PublicKey()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("signing datapackage.json: %w", err)
	}
	d := datapackageDigest{
		Path: BundleDatapackage,
		Hash: label,
		SignedData: &bundleSignedData{
			Hash: label, Created: created, Software: Software, Version: version,
			Algorithm: SignatureAlgorithm, KeyID: Fingerprint(pub),
			PublicKey: base64.StdEncoding.EncodeToString(der),
			Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, []byte(label))),
		},
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("signing datapackage.json: %w", err)
	}
	return append(b, '\n'), nil
}

// bundleWriter writes files into the zip and lists them for
// datapackage.json.
type bundleWriter struct {
	zw        *zip.Writer
	modified  time.Time
	resources []bundleResource
}

// create starts a file in the zip.
func (bw *bundleWriter) create(name string, method uint16) (io.Writer, error) {
	return bw.zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: bw.modified})
}

// addBytes writes a file held in memory and lists it.
func (bw *bundleWriter) addBytes(name string, data []byte, method uint16) error {
	fw, err := bw.create(name, method)
	if err != nil {
		return fmt.Errorf("adding %s: %w", name, err)
	}
	if _, err := fw.Write(data); err != nil {
		return fmt.Errorf("adding %s: %w", name, err)
	}
	sum := sha256.Sum256(data)
	bw.list(name, hex.EncodeToString(sum[:]), int64(len(data)))
	return nil
}

func (bw *bundleWriter) list(name, sha string, n int64) {
	if name == BundleDatapackage || name == BundleDigest {
		return
	}
	bw.resources = append(bw.resources, bundleResource{
		Name: strings.ToLower(path.Base(name)), Path: name, Hash: "sha256:" + sha, Bytes: n,
	})
}

// readBounded reads a whole object of at most limit bytes.
func readBounded(ctx context.Context, store wildwatch.EvidenceStore, key string, limit int64) ([]byte, error) {
	rc, _, err := store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", key, limit)
	}
	return data, nil
}

// hashingWriter hashes and counts what it passes on to w.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}
