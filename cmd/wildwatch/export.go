package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
)

// exitUnauthenticated is the exit code of `verify` on a case bundle that
// is intact but whose key nothing vouched for.
const exitUnauthenticated = 3

// idList is a flag that may be repeated and takes comma-separated values.
type idList []string

func (l *idList) String() string { return strings.Join(*l, ",") }

func (l *idList) Set(v string) error {
	for id := range strings.SplitSeq(v, ",") {
		if id = strings.TrimSpace(id); id != "" {
			*l = append(*l, id)
		}
	}
	return nil
}

// exportSummary is the line `export` prints.
type exportSummary struct {
	Out      string `json:"out"`
	ID       string `json:"id,omitempty"`
	Bytes    int64  `json:"bytes"`
	SHA256   string `json:"sha256"`
	Captures int    `json:"captures"`
	KeyID    string `json:"key_id"`
}

// runExport writes a case bundle: from the catalog and evidence under
// --data (or the services given), or made by the API server at --server
// and downloaded.
func runExport(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "export", "export (--sweep ID [--flagged] | --flag ID...) --out CASE.wacz [--title T] [--pdf] [--data DIR | --server URL]")
	var o serviceOptions
	o.register(fs, e.getenv)
	sweep := fs.String("sweep", "", "export the captures of this sweep")
	flagged := fs.Bool("flagged", false, "with --sweep: only the sweep's flagged captures")
	var flags idList
	fs.Var(&flags, "flag", "export the capture of this flag; repeat, or separate IDs with commas")
	out := fs.String("out", "", "the case bundle to write, a .wacz file")
	title := fs.String("title", "", "the case's title (default \"wildwatch case bundle\")")
	description := fs.String("description", "", "what the case is about")
	pdf := fs.Bool("pdf", false, "also print the report to report/report.pdf (locally with Chromium; remotely by the server)")
	server := fs.String("server", "", "have this API server make the bundle (token from WILDWATCH_TOKEN) instead of reading --data")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(flags) > 0 {
		flags = append(flags, pos...) // "--flag f1 f2 f3"
	} else if len(pos) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	if (*sweep == "") == (len(flags) == 0) {
		return usageError{"want --sweep ID or --flag ID..., not both"}
	}
	if *flagged && *sweep == "" {
		return usageError{"--flagged goes with --sweep"}
	}
	if !strings.HasSuffix(*out, ".wacz") {
		return usageError{"want --out FILE.wacz"}
	}
	req := api.BundleRequest{Sweep: *sweep, FlaggedOnly: *flagged, Flags: flags, Title: *title, Description: *description, PDF: *pdf}
	var sum exportSummary
	if *server != "" {
		sum, err = exportRemote(ctx, e, *server, req, *out)
	} else {
		sum, err = exportLocal(ctx, e, o, req, *out)
	}
	if err != nil {
		return err
	}
	b, _ := json.Marshal(sum)
	fmt.Fprintln(e.out, string(b))
	return nil
}

// writeAtomically writes a file through fn into a temporary file beside
// path and renames it into place once fn and check succeed, so that a
// failed export leaves no partial bundle.
func writeAtomically(path string, fn func(w io.Writer) error, check func() error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".export-*.wacz")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = fn(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && check != nil {
		err = check()
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func exportLocal(ctx context.Context, e *cmdEnv, o serviceOptions, req api.BundleRequest, out string) (exportSummary, error) {
	dsn := o.databaseDSN
	if dsn == "" {
		dsn = filepath.Join(o.dataDir, "wildwatch.db")
		if _, err := os.Stat(dsn); err != nil {
			return exportSummary{}, fmt.Errorf("no catalog at %s: give --data DIR (or --database, --server): %w", dsn, err)
		}
	}
	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: dsn, Logger: e.logger})
	if err != nil {
		return exportSummary{}, err
	}
	defer cat.Close()
	items, err := cat.BundleItems(ctx, storage.BundleSelection{SweepID: req.Sweep, FlaggedOnly: req.FlaggedOnly, FlagIDs: req.Flags})
	if err != nil {
		return exportSummary{}, err
	}
	if len(items) == 0 {
		return exportSummary{}, errors.New("the selection holds no captures")
	}
	store, err := openEvidenceStore(ctx, o, e.logger)
	if err != nil {
		return exportSummary{}, err
	}
	signer, err := storage.LoadSigner(o.signingKeyPath())
	if err != nil {
		return exportSummary{}, err
	}
	p := storage.BundleParams{Items: items, Store: store, Signer: signer, Title: req.Title, Description: req.Description}
	if req.PDF {
		f := crawler.New(crawler.Config{Logger: e.logger})
		defer f.Close()
		b := f.NewBrowser(crawler.BrowserConfig{RemoteURL: o.chromeURL, ExecPath: o.chromePath, Tabs: 1, Logger: e.logger})
		defer stopWithin(ctx, b.Close, 10*time.Second)
		p.PDF = b.PrintPDF
	}
	var info storage.BundleInfo
	abs, err := filepath.Abs(out)
	if err != nil {
		return exportSummary{}, err
	}
	err = writeAtomically(out, func(w io.Writer) error {
		var werr error
		info, werr = storage.WriteBundle(ctx, w, p)
		return werr
	}, func() error {
		// The bundle leaves the store: on record before it is in place.
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.Capture.Capture.ID
		}
		err := recordLocalAccess(ctx, e, cat, store, storage.ActionExport, "file:"+abs,
			fmt.Sprintf("case bundle sha256 %s, %d captures: %s", info.SHA256, len(ids), strings.Join(ids, ", ")))
		if err != nil {
			return fmt.Errorf("recording the export in the custody log: %w", err)
		}
		return nil
	})
	if err != nil {
		return exportSummary{}, err
	}
	return exportSummary{Out: out, Bytes: info.Bytes, SHA256: info.SHA256, Captures: info.Captures, KeyID: info.KeyID}, nil
}

func exportRemote(ctx context.Context, e *cmdEnv, server string, req api.BundleRequest, out string) (exportSummary, error) {
	c := &api.Client{BaseURL: server, Token: e.getenv("WILDWATCH_TOKEN")}
	created, err := c.CreateBundle(ctx, req)
	if err != nil {
		return exportSummary{}, err
	}
	e.logger.Info("bundle made on the server", "bundle", created.ID, "captures", created.Captures, "bytes", created.Bytes)
	h := sha256.New()
	err = writeAtomically(out, func(w io.Writer) error {
		_, err := c.DownloadBundle(ctx, created.ID, io.MultiWriter(w, h))
		return err
	}, func() error {
		if got := hex.EncodeToString(h.Sum(nil)); got != created.SHA256 {
			return fmt.Errorf("downloaded bundle %s has SHA-256 %s, the server made %s", created.ID, got, created.SHA256)
		}
		return nil
	})
	if err != nil {
		return exportSummary{}, err
	}
	return exportSummary{Out: out, ID: created.ID, Bytes: created.Bytes, SHA256: created.SHA256, Captures: created.Captures, KeyID: created.KeyID}, nil
}

// isBundleArgs reports whether verify's arguments are case bundles; a mix
// of bundles and captures is a usage error.
func isBundleArgs(pos []string) (bool, error) {
	n := 0
	for _, p := range pos {
		if strings.HasSuffix(p, ".wacz") {
			n++
		}
	}
	if n > 0 && n < len(pos) {
		return false, usageError{"verify case bundles (.wacz) or captures, not both at once"}
	}
	return n > 0, nil
}

// bundleTrust chooses the key bundles must be signed with: --pubkey or
// --key (a public key file, or a private key file with its .pub beside
// it), else --fingerprint for the key embedded in the bundle, else none.
func bundleTrust(o serviceOptions, pubPath, fingerprint string) (storage.BundleTrust, string, error) {
	var t storage.BundleTrust
	var from string
	switch path := cmp.Or(pubPath, o.keyPath); {
	case path != "":
		pub, err := storage.LoadPublicKey(path)
		if err != nil {
			var perr error
			if pub, perr = storage.LoadPublicKey(path + ".pub"); perr != nil {
				return t, "", err
			}
			path += ".pub"
		}
		t.PublicKey, from = pub, "it is the key in "+path
		if fingerprint != "" && !strings.EqualFold(fingerprint, storage.Fingerprint(pub)) {
			return t, "", usageError{fmt.Sprintf("--fingerprint %s is not the fingerprint %s of %s", fingerprint, storage.Fingerprint(pub), path)}
		}
	case fingerprint != "":
		t.Fingerprint, from = fingerprint, "it has the fingerprint given with --fingerprint"
	}
	return t, from, nil
}

// verifyBundles checks case bundles offline and reports each problem with
// the file it is about. It exits 1 when a bundle fails, and
// exitUnauthenticated when all are intact but a key was only the bundle's
// own.
func verifyBundles(ctx context.Context, e *cmdEnv, o serviceOptions, paths []string, pubPath, fingerprint string) error {
	trust, from, err := bundleTrust(o, pubPath, fingerprint)
	if err != nil {
		return err
	}
	failed, unauthenticated := 0, 0
	for _, p := range paths {
		res, err := storage.VerifyBundleFile(ctx, p, trust)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return err
			}
			failed++
			fmt.Fprintf(e.out, "FAIL  %s: %v\n", p, err)
			continue
		}
		for _, c := range res.Captures {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
			}
			stamp := ""
			if c.Timestamp != nil {
				stamp = fmt.Sprintf("  timestamped %s by %s", c.Timestamp.Time.UTC().Format(time.RFC3339), c.Timestamp.Authority)
			}
			fmt.Fprintf(e.out, "%s  %s  %s  %s%s\n", mark, c.ID, c.Manifest, c.URL, stamp)
		}
		for _, pr := range res.Problems {
			fmt.Fprintf(e.out, "FAIL  %s\n", pr)
		}
		state := "intact"
		if !res.OK {
			state = fmt.Sprintf("%d problems", len(res.Problems))
			failed++
		}
		fmt.Fprintf(e.out, "bundle %s: %s; %d files, %d captures, signed with key %s\n", p, state, res.Files, len(res.Captures), res.KeyID)
		switch {
		case res.Authenticated && res.OK:
			fmt.Fprintf(e.out, "key %s is trusted: %s\n", res.KeyID, from)
		case !res.Authenticated && trust.PublicKey == nil && trust.Fingerprint == "":
			unauthenticated++
			fmt.Fprintf(e.out, "WARNING: key %s is the one the bundle carries, and nothing vouches for it: the checks show the bundle "+
				"is whole as its signer made it, not who the signer was. Run again with --key FILE, the deployment's public key "+
				"(`wildwatch keys` prints it), or with --fingerprint %s once that fingerprint is checked against the deployment's.\n",
				res.KeyID, res.KeyID)
		}
	}
	fmt.Fprintf(e.err, "%d bundles verified, %d failed, %d with an unauthenticated key\n", len(paths)-failed, failed, unauthenticated)
	switch {
	case failed > 0:
		return exitError{1}
	case unauthenticated > 0:
		return exitError{exitUnauthenticated}
	}
	return nil
}
