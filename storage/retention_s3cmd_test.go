package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wildwatch/wildwatch"
)

// s3cmdClient runs Debian's s3cmd, an S3 client written apart from
// minio-go, against the package's S3 test server.
type s3cmdClient struct {
	bin    string
	config string
	dir    string // for downloads
}

// newS3cmd returns an s3cmd set up for the test server. A missing s3cmd
// fails the test: it is how the evidence is checked with a second client.
func newS3cmd(t *testing.T) *s3cmdClient {
	t.Helper()
	bin, err := exec.LookPath("s3cmd")
	if err != nil {
		t.Fatalf("s3cmd not found on PATH (%v): this test reads the evidence back with an S3 client independent of minio-go; "+
			"install it with `make s3cmd` (Debian's s3cmd package)", err)
	}
	srv := testS3Server(t)
	dir := t.TempDir()
	c := &s3cmdClient{bin: bin, config: filepath.Join(dir, "s3cfg"), dir: dir}
	// host_bucket without %(bucket)s: path-style requests.
	cfg := fmt.Sprintf("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\nhost_bucket = %s\n"+
		"use_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n",
		srv.AccessKey, srv.SecretKey, srv.Endpoint, srv.Endpoint)
	if err := os.WriteFile(c.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// run runs s3cmd with args and returns its combined output.
func (c *s3cmdClient) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"--config", c.config, "--no-progress"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+c.dir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// get downloads s3://bucket/key and returns its bytes.
func (c *s3cmdClient) get(t *testing.T, bucket, key string) []byte {
	t.Helper()
	dst := filepath.Join(c.dir, "get-"+strings.ReplaceAll(key, "/", "_"))
	if out, err := c.run("get", "--force", "s3://"+bucket+"/"+key, dst); err != nil {
		t.Fatalf("s3cmd get %s: %v\n%s", key, err, out)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkAgainstManifest fails unless data has the size and SHA-256 the
// manifest entry o states.
func checkAgainstManifest(t *testing.T, how string, o ManifestObject, data []byte) {
	t.Helper()
	sum := sha256.Sum256(data)
	if int64(len(data)) != o.Size || hex.EncodeToString(sum[:]) != o.SHA256 {
		t.Errorf("%s %s: %d bytes with SHA-256 %x; the manifest says %d bytes, %s", how, o.Key, len(data), sum, o.Size, o.SHA256)
	}
}

// TestS3EvidenceReadBackWithS3cmd records a rendered capture through the
// storage layer and reads every object back with s3cmd: the manifest, as
// s3cmd gets it, verifies, and every object it names has its size and
// SHA-256 byte for byte.
func TestS3EvidenceReadBackWithS3cmd(t *testing.T) {
	t.Parallel()
	s3cmd := newS3cmd(t)
	s := newTestS3(t, nil)
	ev := &Evidence{Store: s, Signer: testSigner(t), Logger: testLogger(t)}
	// A body large enough that a transfer encoding would show.
	body := append([]byte("<html>"), bytes.Repeat([]byte("carved ivory bangle 象牙手镯 "), 40000)...)
	recorded, err := ev.Record(context.Background(), testWARCParams(testRendered(testCapture("c1", body))))
	if err != nil {
		t.Fatal(err)
	}

	mkey := ManifestKey(recorded.SweepID, recorded.CaptureID)
	m, err := ParseManifest(s3cmd.get(t, s.Bucket(), mkey))
	if err != nil {
		t.Fatalf("manifest fetched with s3cmd: %v", err)
	}
	if err := m.Verify(ev.Signer.PublicKey()); err != nil {
		t.Fatalf("manifest fetched with s3cmd: %v", err)
	}
	roles := map[string]bool{}
	for _, o := range m.Objects {
		checkAgainstManifest(t, "s3cmd get", o, s3cmd.get(t, s.Bucket(), o.Key))
		roles[o.Role] = true
	}
	if !roles[RoleWARC] || !roles[RoleScreenshot] || !roles[RoleDOM] || len(m.Objects) != 3 {
		t.Errorf("manifest names %+v, want a WARC, a screenshot and a DOM", m.Objects)
	}

	// s3cmd lists exactly the manifest and the objects it names.
	out, err := s3cmd.run("ls", "--recursive", "s3://"+s.Bucket()+"/")
	if err != nil {
		t.Fatalf("s3cmd ls: %v\n%s", err, out)
	}
	var listed []string
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 0 {
			listed = append(listed, strings.TrimPrefix(f[len(f)-1], "s3://"+s.Bucket()+"/"))
		}
	}
	want := []string{mkey}
	for _, o := range m.Objects {
		want = append(want, o.Key)
	}
	slices.Sort(listed)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("s3cmd ls lists %q, want %q", listed, want)
	}
}

// TestS3ComplianceRetention records a capture in a bucket with object lock
// and a COMPLIANCE retention, then tries to remove or replace its objects:
// through minio-go by version ID (with and without governance bypass),
// and through s3cmd, which deletes, overwrites and removes the bucket.
// The server refuses every removal of a locked version; what s3cmd can do
// (a delete marker, a newer version) leaves each locked version's bytes as
// the manifest states them, and VerifyCapture notices the change.
func TestS3ComplianceRetention(t *testing.T) {
	t.Parallel()
	s3cmd := newS3cmd(t)
	const retention = time.Hour
	s := newTestS3(t, func(c *S3Config) {
		c.Retention = retention
		c.RetentionMode = RetentionCompliance
	})
	ctx := context.Background()
	ev := &Evidence{Store: s, Signer: testSigner(t), Logger: testLogger(t)}
	start := time.Now()
	m, err := ev.Record(ctx, testWARCParams(testRendered(testCapture("c1", []byte("<html>pangolin scales</html>")))))
	if err != nil {
		t.Fatal(err)
	}
	mkey := ManifestKey(m.SweepID, m.CaptureID)
	manifestData := readObject(t, s, mkey)
	manifestSum := sha256.Sum256(manifestData)
	objects := append(slices.Clone(m.Objects), ManifestObject{Key: mkey, Size: int64(len(manifestData)), SHA256: hex.EncodeToString(manifestSum[:])})

	versions := map[string]string{}
	for _, o := range objects {
		info, err := s.Stat(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		if info.RetentionMode != RetentionCompliance || info.RetainUntil.Before(start.Add(retention).Add(-time.Second)) {
			t.Errorf("%s: retention %q until %v, want %s for %v from %v", o.Key, info.RetentionMode, info.RetainUntil, RetentionCompliance, retention, start)
		}
		st, err := s.client.StatObject(ctx, s.Bucket(), o.Key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.VersionID == "" {
			t.Fatalf("%s has no version ID", o.Key)
		}
		versions[o.Key] = st.VersionID
	}

	// minio-go, by version ID: refused, bypass or not; so is shortening
	// the retention or weakening its mode.
	for _, o := range objects {
		for _, bypass := range []bool{false, true} {
			err := s.client.RemoveObject(ctx, s.Bucket(), o.Key, minio.RemoveObjectOptions{VersionID: versions[o.Key], GovernanceBypass: bypass})
			if err == nil {
				t.Errorf("deleting version %s of %s (governance bypass %v) succeeded", versions[o.Key], o.Key, bypass)
			}
		}
		soon := time.Now().Add(time.Minute)
		for _, mode := range []minio.RetentionMode{minio.Compliance, minio.Governance} {
			err := s.client.PutObjectRetention(ctx, s.Bucket(), o.Key, minio.PutObjectRetentionOptions{Mode: &mode, RetainUntilDate: &soon, VersionID: versions[o.Key]})
			if err == nil {
				t.Errorf("shortening the retention of %s to %s until %v succeeded", o.Key, mode, soon)
			}
		}
	}

	// s3cmd: overwrite one object, delete another, then remove the bucket.
	evil := filepath.Join(t.TempDir(), "evil")
	if err := os.WriteFile(evil, []byte("not the evidence"), 0o644); err != nil {
		t.Fatal(err)
	}
	warcKey, shotKey := m.Objects[0].Key, m.Objects[1].Key
	if out, err := s3cmd.run("put", evil, "s3://"+s.Bucket()+"/"+warcKey); err != nil {
		t.Logf("s3cmd put over %s refused: %v\n%s", warcKey, err, out)
	}
	if out, err := s3cmd.run("del", "s3://"+s.Bucket()+"/"+shotKey); err != nil {
		t.Logf("s3cmd del %s refused: %v\n%s", shotKey, err, out)
	}

	// What the store now shows is not the evidence, and verification says
	// so: the WARC key shows the newer version, the screenshot hides behind
	// a delete marker.
	res, err := VerifyCapture(ctx, s, mkey, ev.Signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	problems := strings.Join(res.Problems, "\n")
	if res.OK || !strings.Contains(problems, warcKey) || !strings.Contains(problems, shotKey+": missing") {
		t.Errorf("VerifyCapture after s3cmd's changes = %+v, want problems with %s and %s", res, warcKey, shotKey)
	}

	if out, err := s3cmd.run("rb", "--recursive", "--force", "s3://"+s.Bucket()); err == nil {
		t.Errorf("s3cmd rb --recursive removed the bucket of locked evidence:\n%s", out)
	}

	// Every locked version still holds the bytes its manifest states.
	for _, o := range objects {
		obj, err := s.client.GetObject(ctx, s.Bucket(), o.Key, minio.GetObjectOptions{VersionID: versions[o.Key]})
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			t.Fatalf("reading version %s of %s: %v", versions[o.Key], o.Key, err)
		}
		checkAgainstManifest(t, "locked version of", o, data)
	}
}

// TestS3GovernanceRetention is the contrast: under GOVERNANCE a locked
// version is refused to a plain delete, but a user allowed to bypass
// governance retention (the test server's root) may delete it.
func TestS3GovernanceRetention(t *testing.T) {
	t.Parallel()
	s := newTestS3(t, func(c *S3Config) {
		c.Retention = time.Hour
		c.RetentionMode = RetentionGovernance
	})
	ctx := context.Background()
	info, err := s.Put(ctx, "k.json", strings.NewReader("{}"), 2, ContentTypeManifest)
	if err != nil {
		t.Fatal(err)
	}
	if info.RetentionMode != RetentionGovernance {
		t.Errorf("Put reports retention %q, want %s", info.RetentionMode, RetentionGovernance)
	}
	st, err := s.client.StatObject(ctx, s.Bucket(), "k.json", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.client.RemoveObject(ctx, s.Bucket(), "k.json", minio.RemoveObjectOptions{VersionID: st.VersionID}); err == nil {
		t.Error("deleting the locked version without governance bypass succeeded")
	}
	if err := s.client.RemoveObject(ctx, s.Bucket(), "k.json", minio.RemoveObjectOptions{VersionID: st.VersionID, GovernanceBypass: true}); err != nil {
		t.Errorf("deleting the version with governance bypass: %v", err)
	}
	if _, err := s.Stat(ctx, "k.json"); !errors.Is(err, wildwatch.ErrObjectNotFound) {
		t.Errorf("after the bypass delete, Stat = %v, want ErrObjectNotFound", err)
	}
}
