package storage_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

func ExampleDir() {
	root, err := os.MkdirTemp("", "evidence-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)

	store, err := storage.NewDir(root)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	const key = "captures/sweep-1/capture-1.manifest.json"
	data := []byte(`{"capture_id":"capture-1"}`)

	info, err := store.Put(ctx, key, bytes.NewReader(data), int64(len(data)), storage.ContentTypeManifest)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Key, info.Size, info.ContentType)

	// Objects are write-once.
	_, err = store.Put(ctx, key, bytes.NewReader([]byte("{}")), 2, storage.ContentTypeManifest)
	fmt.Println("second put refused:", errors.Is(err, wildwatch.ErrObjectExists))

	rc, _, err := store.Get(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(got))

	_, err = store.Stat(ctx, "captures/sweep-1/capture-2.manifest.json")
	fmt.Println("missing:", errors.Is(err, wildwatch.ErrObjectNotFound))
	// Output:
	// captures/sweep-1/capture-1.manifest.json 26 application/json
	// second put refused: true
	// {"capture_id":"capture-1"}
	// missing: true
}

func ExampleSigner_Sign() {
	// A fixed key for a reproducible example; deployments use
	// storage.LoadOrCreateKey.
	signer, err := storage.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	if err != nil {
		log.Fatal(err)
	}
	m := &storage.Manifest{
		ManifestVersion: storage.ManifestVersion,
		CaptureID:       "capture-1",
		SweepID:         "sweep-1",
		URL:             "https://market.example/item/1",
		FetchedAt:       time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Status:          200,
		Objects: []storage.ManifestObject{{
			Key:  "captures/sweep-1/capture-1/e3b0c44298fc1c14.warc.gz",
			Role: storage.RoleWARC, Size: 0, ContentType: storage.ContentTypeWARC,
			SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		}},
	}
	if err := signer.Sign(m); err != nil {
		log.Fatal(err)
	}
	pub := signer.PublicKey()
	fmt.Println("key:", storage.FormatPublicKey(pub))
	fmt.Println("key id:", m.Signature.KeyID == storage.Fingerprint(pub))
	fmt.Println("verifies:", m.Verify(pub) == nil)

	m.Status = 404 // any change breaks the signature
	fmt.Println("after a change:", errors.Is(m.Verify(pub), storage.ErrBadSignature))
	// Output:
	// key: ed25519:6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=
	// key id: true
	// verifies: true
	// after a change: true
}

// A rendered capture keeps what a person saw: besides the WARC, its
// screenshot and rendered DOM are objects of their own, named in the
// signed manifest and checked by VerifyCapture.
func ExampleEvidence_Record() {
	root, err := os.MkdirTemp("", "evidence-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	store, err := storage.NewDir(root)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := storage.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	if err != nil {
		log.Fatal(err)
	}
	ev := &storage.Evidence{Store: store, Signer: signer}

	fetched := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := &wildwatch.Capture{
		ID: "capture-1", SweepID: "sweep-1", Target: "market",
		URL: "https://market.example/item/1", FinalURL: "https://market.example/item/1",
		StartedAt: fetched, FetchedAt: fetched, Status: 200,
		Header: http.Header{"Content-Type": {"text/html"}},
		Body:   []byte(`<html><div id="app"></div><script src="/app.js"></script></html>`),
		Mode:   wildwatch.RenderBrowser, ModeReason: "static listing had no title",
		Rendered: &wildwatch.Rendering{
			DOM:        []byte(`<html><div id="app"><h1>Carved ivory bangle</h1></div></html>`),
			Screenshot: []byte("\x89PNG\r\n\x1a\n…"),
			Viewport:   wildwatch.Viewport{Width: 1280, Height: 800},
			RenderedAt: fetched.Add(2 * time.Second),
			Browser:    "Chrome/131.0.6778.85",
		},
	}
	ctx := context.Background()
	m, err := ev.Record(ctx, storage.WARCParams{Capture: c, Listing: wildwatch.Listing{Title: "Carved ivory bangle"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("manifest version", m.ManifestVersion, "mode", m.Mode)
	for _, o := range m.Objects[1:] { // the WARC's key changes with every recording
		fmt.Println(o.Role, o.Key, o.ContentType, o.Size)
	}
	var rec storage.CaptureRecord
	rec.SetEvidence(m)
	fmt.Println("catalog keys:", rec.ScreenshotKey != "", rec.DOMKey != "")

	res, err := storage.VerifyCapture(ctx, store, storage.ManifestKey("sweep-1", "capture-1"), signer.PublicKey())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verifies:", res.OK)
	// Output:
	// manifest version 2 mode browser
	// screenshot captures/sweep-1/capture-1/07b85b34b217715b.png image/png 11
	// dom captures/sweep-1/capture-1/15caf8725040b528.html text/html; charset=utf-8 61
	// catalog keys: true true
	// verifies: true
}
