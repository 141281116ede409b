package storage

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BundleTrust says which key a case bundle must be signed with.
type BundleTrust struct {
	// PublicKey, when set, is the key the bundle must be signed with.
	PublicKey ed25519.PublicKey
	// Fingerprint, when PublicKey is nil, is the fingerprint the key
	// embedded in the bundle must have for it to be trusted.
	Fingerprint string
}

// BundleResult is the outcome of checking a case bundle.
type BundleResult struct {
	// OK reports that every check passed: every file is listed with its
	// digest and size, the signature of datapackage.json verifies, and so
	// do the capture manifests, whose WARCs and screenshots match them.
	// With a key that is not Authenticated, OK shows only that the bundle
	// is whole as its signer made it, not who the signer was.
	OK bool `json:"ok"`
	// KeyID is the fingerprint of the key the signatures were checked
	// with; Authenticated reports that it is BundleTrust.PublicKey or has
	// BundleTrust.Fingerprint, rather than being taken from the bundle.
	KeyID         string `json:"key_id"`
	Authenticated bool   `json:"authenticated"`
	// Files is the number of files in the zip; Captures the captures
	// whose manifests the bundle holds.
	Files    int             `json:"files"`
	Captures []BundleCapture `json:"captures"`
	// Problems are what failed, each naming its file.
	Problems []BundleProblem `json:"problems,omitempty"`
}

// BundleCapture is one capture of a bundle.
type BundleCapture struct {
	ID       string `json:"id"`
	Manifest string `json:"manifest"`
	URL      string `json:"url"`
	// Timestamp is what the manifest's RFC 3161 timestamp attests, when
	// the bundle holds one and it verifies.
	Timestamp *Timestamp `json:"timestamp,omitempty"`
	// OK reports that the manifest verifies and the files it names match.
	OK bool `json:"ok"`
}

// BundleProblem is one failed check, naming the file it is about.
type BundleProblem struct {
	File    string `json:"file"`
	Problem string `json:"problem"`
}

func (p BundleProblem) String() string { return p.File + ": " + p.Problem }

// Bounds on files VerifyBundle reads whole.
const (
	maxBundleJSON  = 64 << 20
	maxBundleLines = 256 << 20
)

// VerifyBundleFile checks the case bundle at path (see VerifyBundle).
func VerifyBundleFile(ctx context.Context, path string, trust BundleTrust) (*BundleResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("verifying bundle: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("verifying bundle: %w", err)
	}
	return VerifyBundle(ctx, f, fi.Size(), trust)
}

// VerifyBundle checks a case bundle of size bytes read from r, offline:
// the zip's layout (datapackage.json, datapackage-digest.json,
// pages/pages.jsonl, indexes/, archive/ with WARCs only, report/index.html);
// that every file is listed in datapackage.json with its SHA-256 and size
// and nothing listed is missing; the digest and Ed25519 signature of
// datapackage.json; each manifest in manifests/ (its signature, and the
// digests and sizes of the WARC and screenshot it names against the files
// in archive/ and screenshots/); that every WARC and screenshot has a
// manifest; the pages; and that the CDXJ index is sorted and points at
// gzip members of the archived WARCs. Findings are Problems naming their
// file; the error is for failures to check at all (not a zip, ctx ended).
func VerifyBundle(ctx context.Context, r io.ReaderAt, size int64, trust BundleTrust) (*BundleResult, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("verifying bundle: %w", err)
	}
	v := &bundleVerifier{r: r, files: map[string]*zip.File{}, digests: map[string]fileDigest{}}
	res := &BundleResult{Captures: []BundleCapture{}}
	v.res = res
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue // a directory entry
		}
		if !safeBundlePath(f.Name) {
			v.problem(f.Name, "not a relative path inside the bundle")
			continue
		}
		if v.files[f.Name] != nil {
			v.problem(f.Name, "in the zip more than once")
			continue
		}
		v.files[f.Name] = f
		v.names = append(v.names, f.Name)
	}
	res.Files = len(v.names)
	slices.Sort(v.names)
	for _, name := range v.names {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("verifying bundle: %w", err)
		}
		d, err := v.digest(name)
		if err != nil {
			v.problem(name, "cannot be read: %v", err)
			continue
		}
		v.digests[name] = d
	}

	v.checkLayout()
	v.checkDatapackage()
	key := v.checkDigest(trust)
	v.checkManifests(key)
	v.checkPages()
	v.checkIndexes()
	res.OK = len(res.Problems) == 0
	return res, nil
}

// fileDigest is a file's SHA-256 (hex) and size.
type fileDigest struct {
	sha  string
	size int64
}

type bundleVerifier struct {
	r       io.ReaderAt
	res     *BundleResult
	files   map[string]*zip.File
	names   []string // sorted
	digests map[string]fileDigest
}

func (v *bundleVerifier) problem(file, format string, args ...any) {
	v.res.Problems = append(v.res.Problems, BundleProblem{File: file, Problem: fmt.Sprintf(format, args...)})
}

// safeBundlePath reports whether name is a clean relative path.
func safeBundlePath(name string) bool {
	return name != "" && !strings.HasPrefix(name, "/") && !strings.ContainsRune(name, '\\') &&
		path.Clean(name) == name && name != ".." && !strings.HasPrefix(name, "../")
}

// digest hashes a file of the zip; a file whose bytes do not match the
// zip's own checksum is an error.
func (v *bundleVerifier) digest(name string) (fileDigest, error) {
	rc, err := v.files[name].Open()
	if err != nil {
		return fileDigest{}, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fileDigest{}, err
	}
	return fileDigest{hex.EncodeToString(h.Sum(nil)), n}, nil
}

// read returns a whole file of at most limit bytes; nil (with a problem)
// when it is missing or unreadable.
func (v *bundleVerifier) read(name string, limit int64) []byte {
	f := v.files[name]
	if f == nil {
		return nil
	}
	if _, ok := v.digests[name]; !ok {
		return nil // unreadable, reported already
	}
	rc, err := f.Open()
	if err != nil {
		v.problem(name, "cannot be read: %v", err)
		return nil
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		v.problem(name, "cannot be read: %v", err)
		return nil
	}
	if int64(len(data)) > limit {
		v.problem(name, "larger than %d bytes", limit)
		return nil
	}
	return data
}

// checkLayout checks the files and directories the bundle must have.
func (v *bundleVerifier) checkLayout() {
	for _, name := range []string{BundleDatapackage, BundleDigest, BundlePages, BundleReportHTML} {
		if v.files[name] == nil {
			v.problem(name, "missing")
		}
	}
	warcs, indexes := 0, 0
	for _, name := range v.names {
		dir, base := path.Split(name)
		switch dir {
		case "archive/":
			if !strings.HasSuffix(base, ".warc.gz") && !strings.HasSuffix(base, ".warc") {
				v.problem(name, "archive/ holds WARC files only")
			}
			warcs++
		case "indexes/":
			indexes++
		}
	}
	if warcs == 0 {
		v.problem("archive/", "no WARC files")
	}
	if indexes == 0 {
		v.problem("indexes/", "no index")
	}
}

// checkDatapackage checks datapackage.json and every file against it.
func (v *bundleVerifier) checkDatapackage() {
	data := v.read(BundleDatapackage, maxBundleJSON)
	if data == nil {
		return
	}
	var dp datapackage
	if err := json.Unmarshal(data, &dp); err != nil {
		v.problem(BundleDatapackage, "not a data package: %v", err)
		return
	}
	if dp.Profile != "data-package" {
		v.problem(BundleDatapackage, "profile %q, want \"data-package\"", dp.Profile)
	}
	if dp.WACZVersion != WACZVersion {
		v.problem(BundleDatapackage, "wacz_version %q, want %q", dp.WACZVersion, WACZVersion)
	}
	listed := map[string]bool{}
	for _, r := range dp.Resources {
		switch {
		case !safeBundlePath(r.Path):
			v.problem(BundleDatapackage, "resource path %q is not a relative path inside the bundle", r.Path)
			continue
		case listed[r.Path]:
			v.problem(r.Path, "listed in %s more than once", BundleDatapackage)
			continue
		}
		listed[r.Path] = true
		if v.files[r.Path] == nil {
			v.problem(r.Path, "listed in %s but missing", BundleDatapackage)
			continue
		}
		d, ok := v.digests[r.Path]
		if !ok {
			continue // unreadable, reported already
		}
		want, found := strings.CutPrefix(r.Hash, "sha256:")
		if !found {
			v.problem(r.Path, "%s gives hash %q, not sha256:<hex>", BundleDatapackage, r.Hash)
		} else if !strings.EqualFold(want, d.sha) {
			v.problem(r.Path, "SHA-256 %s, %s says %s", d.sha, BundleDatapackage, want)
		}
		if d.size != r.Bytes {
			v.problem(r.Path, "%d bytes, %s says %d", d.size, BundleDatapackage, r.Bytes)
		}
	}
	for _, name := range v.names {
		if name != BundleDatapackage && name != BundleDigest && !listed[name] {
			v.problem(name, "not listed in %s", BundleDatapackage)
		}
	}
}

// checkDigest checks datapackage-digest.json and returns the key to check
// manifests with: the trusted one, else the bundle's own; nil when there
// is none.
func (v *bundleVerifier) checkDigest(trust BundleTrust) ed25519.PublicKey {
	key := trust.PublicKey
	if key != nil {
		v.res.KeyID, v.res.Authenticated = Fingerprint(key), true
	}
	data := v.read(BundleDigest, maxBundleJSON)
	if data == nil {
		return key
	}
	var d datapackageDigest
	if err := json.Unmarshal(data, &d); err != nil {
		v.problem(BundleDigest, "cannot be parsed: %v", err)
		return key
	}
	if d.Path != BundleDatapackage {
		v.problem(BundleDigest, "path %q, want %q", d.Path, BundleDatapackage)
	}
	if dp, ok := v.digests[BundleDatapackage]; ok && !strings.EqualFold(d.Hash, "sha256:"+dp.sha) {
		v.problem(BundleDatapackage, "SHA-256 %s, %s says %s", dp.sha, BundleDigest, d.Hash)
	}
	sd := d.SignedData
	if sd == nil {
		v.problem(BundleDigest, "not signed (no signedData)")
		return key
	}
	if sd.Hash != d.Hash {
		v.problem(BundleDigest, "signedData.hash %s differs from hash %s", sd.Hash, d.Hash)
	}
	embedded, err := parseBundleKey(sd.PublicKey)
	if err != nil {
		v.problem(BundleDigest, "signedData.publicKey: %v", err)
	} else if sd.KeyID != Fingerprint(embedded) {
		v.problem(BundleDigest, "signedData.keyId %s is not the fingerprint %s of signedData.publicKey", sd.KeyID, Fingerprint(embedded))
	}
	switch {
	case key != nil:
		if embedded != nil && !embedded.Equal(key) {
			v.problem(BundleDigest, "signed with key %s, not the key given (%s)", Fingerprint(embedded), Fingerprint(key))
		}
	case embedded == nil:
		v.problem(BundleDigest, "no public key to check the signatures with")
		return nil
	case trust.Fingerprint != "":
		key = embedded
		v.res.KeyID = Fingerprint(embedded)
		if strings.EqualFold(trust.Fingerprint, v.res.KeyID) {
			v.res.Authenticated = true
		} else {
			v.problem(BundleDigest, "signed with key %s, not the fingerprint given (%s)", v.res.KeyID, trust.Fingerprint)
		}
	default:
		key = embedded
		v.res.KeyID = Fingerprint(embedded)
	}
	if !strings.EqualFold(sd.Algorithm, SignatureAlgorithm) {
		v.problem(BundleDigest, "signature algorithm %q, want %s", sd.Algorithm, SignatureAlgorithm)
		return key
	}
	sig, err := base64.StdEncoding.DecodeString(sd.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		v.problem(BundleDigest, "malformed signature")
		return key
	}
	if !ed25519.Verify(key, []byte(sd.Hash), sig) {
		v.problem(BundleDigest, "the signature of %s does not verify with key %s", sd.Hash, Fingerprint(key))
	}
	return key
}

// parseBundleKey parses signedData.publicKey: base64 DER of an Ed25519
// SubjectPublicKeyInfo.
func parseBundleKey(b64 string) (ed25519.PublicKey, error) {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an Ed25519 key", k)
	}
	return pub, nil
}

// checkManifests checks each capture manifest and the files it names, and
// that every WARC and screenshot has one.
func (v *bundleVerifier) checkManifests(key ed25519.PublicKey) {
	vouched := map[string]bool{}
	for _, name := range v.names {
		id, ok := strings.CutPrefix(name, "manifests/")
		if !ok {
			continue
		}
		if tid, ok := strings.CutSuffix(id, timestampSuffix); ok && !strings.Contains(tid, "/") {
			if v.files[BundleManifestPath(tid)] == nil {
				v.problem(name, "a timestamp without its manifest %s", BundleManifestPath(tid))
			}
			continue // checked with its manifest
		}
		id, ok = strings.CutSuffix(id, manifestSuffix)
		if !ok || strings.Contains(id, "/") {
			v.problem(name, "manifests/ holds <capture>%s and <capture>%s files only", manifestSuffix, timestampSuffix)
			continue
		}
		before := len(v.res.Problems)
		c := BundleCapture{ID: id, Manifest: name}
		v.checkManifest(name, id, key, &c, vouched)
		c.OK = len(v.res.Problems) == before
		v.res.Captures = append(v.res.Captures, c)
	}
	for _, name := range v.names {
		if strings.HasPrefix(name, "archive/") || strings.HasPrefix(name, "screenshots/") {
			if !vouched[name] {
				v.problem(name, "no manifest in manifests/ vouches for it")
			}
		}
	}
	if len(v.res.Captures) == 0 {
		v.problem("manifests/", "no capture manifests")
	}
}

func (v *bundleVerifier) checkManifest(name, id string, key ed25519.PublicKey, c *BundleCapture, vouched map[string]bool) {
	data := v.read(name, maxManifestBytes)
	if data == nil {
		return
	}
	m, err := ParseManifest(data)
	if err != nil {
		v.problem(name, "%v", err)
		return
	}
	c.URL = m.FinalURL
	if tname := BundleTimestampPath(id); v.files[tname] != nil {
		if tsr := v.read(tname, maxManifestBytes); tsr != nil {
			ts, err := VerifyTimestamp(tsr, sha256.Sum256(data))
			if err != nil {
				v.problem(tname, "RFC 3161 timestamp of %s: %v", name, err)
			} else {
				c.Timestamp = ts
			}
		}
	}
	if m.CaptureID != id {
		v.problem(name, "manifest of capture %q", m.CaptureID)
	}
	if key != nil {
		if err := m.Verify(key); err != nil {
			v.problem(name, "signature: %v", err)
		}
	}
	hasWARC := false
	for _, o := range m.Objects {
		var file string
		switch o.Role {
		case RoleWARC:
			file, hasWARC = BundleWARCPath(id), true
		case RoleScreenshot:
			file = BundleScreenshotPath(id)
		case RoleRevisitedWARC:
			// The earlier capture whose response a revisit record
			// stands for, which the bundle must hold as it was.
			file = BundleWARCPath(captureIDOfKey(o.Key))
		case RoleRevisitedManifest:
			file = BundleManifestPath(captureIDOfKey(o.Key))
		default:
			continue
		}
		vouched[file] = true
		d, ok := v.digests[file]
		switch {
		case v.files[file] == nil:
			v.problem(file, "missing: %s names it (%s)", name, o.Key)
		case !ok:
			// unreadable, reported already
		case d.size != o.Size || !strings.EqualFold(d.sha, o.SHA256):
			v.problem(file, "%d bytes with SHA-256 %s; the signed manifest %s says %d bytes with %s", d.size, d.sha, name, o.Size, o.SHA256)
		}
	}
	if !hasWARC {
		v.problem(name, "names no %s object", RoleWARC)
	}
}

// checkPages checks pages/pages.jsonl: its header, then pages with a URL
// and an RFC 3339 time.
func (v *bundleVerifier) checkPages() {
	data := v.read(BundlePages, maxBundleLines)
	if data == nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			v.problem(BundlePages, "line %d is not JSON: %v", n, err)
			continue
		}
		if n == 1 {
			if line["format"] != "json-pages-1.0" {
				v.problem(BundlePages, "first line has format %v, want json-pages-1.0", line["format"])
			}
			continue
		}
		u, _ := line["url"].(string)
		ts, _ := line["ts"].(string)
		if _, err := time.Parse(time.RFC3339, ts); u == "" || err != nil {
			v.problem(BundlePages, "line %d: a page needs a url and an RFC 3339 ts", n)
		}
	}
	if err := sc.Err(); err != nil {
		v.problem(BundlePages, "%v", err)
	}
	if n < 2 {
		v.problem(BundlePages, "no pages")
	}
}

// checkIndexes checks each CDXJ index: lines sorted, each pointing at a
// gzip member inside a WARC of archive/.
func (v *bundleVerifier) checkIndexes() {
	for _, name := range v.names {
		if !strings.HasPrefix(name, "indexes/") {
			continue
		}
		if !strings.HasSuffix(name, ".cdx") && !strings.HasSuffix(name, ".cdxj") {
			continue // a compressed index is not read here
		}
		data := v.read(name, maxBundleLines)
		if data == nil {
			continue
		}
		v.checkIndex(name, data)
	}
}

func (v *bundleVerifier) checkIndex(name string, data []byte) {
	var prev []byte
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	for i, line := range lines {
		if bytes.Compare(prev, line) > 0 {
			v.problem(name, "line %d is out of order", i+1)
		}
		prev = line
		parts := bytes.SplitN(line, []byte(" "), 3)
		if len(parts) != 3 || len(parts[1]) != 14 {
			v.problem(name, "line %d is not <key> <14-digit time> <json>", i+1)
			continue
		}
		var f cdxFields
		if err := json.Unmarshal(parts[2], &f); err != nil {
			v.problem(name, "line %d: %v", i+1, err)
			continue
		}
		warc := "archive/" + f.Filename
		off, err1 := strconv.ParseInt(f.Offset, 10, 64)
		n, err2 := strconv.ParseInt(f.Length, 10, 64)
		d, ok := v.digests[warc]
		switch {
		case v.files[warc] == nil:
			v.problem(name, "line %d names %s, which is not in the bundle", i+1, warc)
		case err1 != nil || err2 != nil || off < 0 || n <= 0:
			v.problem(name, "line %d: bad offset or length", i+1)
		case !ok:
			// unreadable, reported already
		case off+n > d.size:
			v.problem(name, "line %d points past the end of %s", i+1, warc)
		default:
			if err := v.checkMember(warc, off); err != nil {
				v.problem(name, "line %d: %s at %d: %v", i+1, warc, off, err)
			}
		}
	}
}

// checkMember checks that a gzip member starts at off in a WARC stored
// uncompressed in the zip; a compressed entry is not checked.
func (v *bundleVerifier) checkMember(name string, off int64) error {
	f := v.files[name]
	if f.Method != zip.Store {
		return nil
	}
	start, err := f.DataOffset()
	if err != nil {
		return err
	}
	var magic [2]byte
	if _, err := v.r.ReadAt(magic[:], start+off); err != nil {
		return err
	}
	if magic != [2]byte{0x1f, 0x8b} {
		return errors.New("no gzip member starts there")
	}
	return nil
}
