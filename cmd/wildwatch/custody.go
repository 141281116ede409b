package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/storage"
)

// runCustody is `wildwatch custody verify|list`: the evidence access log,
// read from the catalog and evidence store (--data, --database, --s3-*),
// or through the API with --server.
func runCustody(ctx context.Context, e *cmdEnv, args []string) error {
	return subcommand(ctx, e, "custody", args, map[string]func(context.Context, *cmdEnv, []string) error{
		"verify": runCustodyVerify,
		"list":   runCustodyList,
	})
}

func runCustodyVerify(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "custody verify", "custody verify [--data DIR | --database URL] [--s3-endpoint …] [--json] | --server URL")
	var o serviceOptions
	o.register(fs, e.getenv)
	c := remoteFlags(fs, e)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	var rep storage.CustodyReport
	var err error
	if flagGiven(fs, "server") {
		rep, err = c.VerifyCustody(ctx)
	} else {
		err = withLocalCustody(ctx, o, e.logger, true, func(log *storage.Custody) error {
			rep, err = log.Verify(ctx)
			return err
		})
	}
	if err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(e, rep); err != nil {
			return err
		}
	} else {
		printCustodyReport(e.out, rep)
	}
	if !rep.OK {
		return exitError{1}
	}
	return nil
}

// printCustodyReport writes a report for people: one line when the log is
// sound, else the first broken link and every problem.
func printCustodyReport(w io.Writer, rep storage.CustodyReport) {
	if rep.OK {
		fmt.Fprintf(w, "ok    %d entries, %d stored objects; head entry %d, hash %s\n", rep.Entries, rep.Objects, rep.Head, rep.HeadHash)
		return
	}
	first := rep.First()
	fmt.Fprintf(w, "BROKEN at entry %d (%s): %s\n", first.Seq, first.Kind, first.Detail)
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
	if rep.MoreProblems > 0 {
		fmt.Fprintf(w, "  … and %d more problems\n", rep.MoreProblems)
	}
	fmt.Fprintf(w, "%d entries and %d stored objects checked\n", rep.Entries, rep.Objects)
}

func runCustodyList(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "custody list", "custody list [--object KEY] [--prefix P] [--actor A] [--action X] [--link ID] [--after SEQ] [--limit N] [--newest] [--data DIR | --database URL | --server URL]")
	var o serviceOptions
	o.register(fs, e.getenv)
	c := remoteFlags(fs, e)
	var f storage.CustodyFilter
	fs.StringVar(&f.Object, "object", "", "entries on this object (an evidence key, a capture or bundle ID)")
	fs.StringVar(&f.Prefix, "prefix", "", "entries on objects whose key starts with this (captures/SWEEP/CAPTURE)")
	fs.StringVar(&f.Actor, "actor", "", "entries by this actor (token name, OS user, link)")
	fs.StringVar(&f.Action, "action", "", "entries of this action (read-warc, export, link-use, …)")
	fs.StringVar(&f.Link, "link", "", "entries of this share link")
	fs.Int64Var(&f.After, "after", 0, "entries after this seq")
	fs.IntVar(&f.Limit, "limit", 0, "at most this many entries (default 100, at most 1000)")
	fs.BoolVar(&f.Newest, "newest", false, "latest entries first")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if flagGiven(fs, "server") {
		q := url.Values{}
		for name, v := range map[string]string{"object": f.Object, "prefix": f.Prefix, "actor": f.Actor, "action": f.Action, "link": f.Link} {
			if v != "" {
				q.Set(name, v)
			}
		}
		if f.After > 0 {
			q.Set("after", strconv.FormatInt(f.After, 10))
		}
		if f.Limit > 0 {
			q.Set("limit", strconv.Itoa(f.Limit))
		}
		if f.Newest {
			q.Set("newest", "true")
		}
		es, err := c.Custody(ctx, q)
		if err != nil {
			return err
		}
		return printJSON(e, es)
	}
	var es []storage.CustodyEntry
	err := withLocalCustody(ctx, o, e.logger, false, func(log *storage.Custody) error {
		var err error
		es, err = log.List(ctx, f)
		return err
	})
	if err != nil {
		return err
	}
	return printJSON(e, es)
}

// flagGiven reports whether the flag name was set on the command line.
func flagGiven(fs *flag.FlagSet, names ...string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) {
		for _, n := range names {
			given = given || f.Name == n
		}
	})
	return given
}

// withLocalCustody opens the catalog (and, with store, the evidence store)
// that o names and calls fn with their custody log.
func withLocalCustody(ctx context.Context, o serviceOptions, logger *slog.Logger, store bool, fn func(*storage.Custody) error) error {
	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: cmp.Or(o.databaseDSN, filepath.Join(o.dataDir, "wildwatch.db")), Logger: logger})
	if err != nil {
		return fmt.Errorf("opening catalog: %w", err)
	}
	defer cat.Close()
	log := &storage.Custody{Catalog: cat, Logger: logger}
	if store {
		if log.Store, err = openEvidenceStore(ctx, o, logger); err != nil {
			return err
		}
	}
	return fn(log)
}

// localActor names whoever runs this command in custody entries: the OS
// user.
func localActor(getenv func(string) string) string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return cmp.Or(getenv("USER"), getenv("LOGNAME"), "uid:"+strconv.Itoa(os.Getuid()))
}

// localRemote is the "remote" of local custody entries: this machine.
func localRemote() string {
	h, err := os.Hostname()
	if err != nil {
		return "local"
	}
	return "local:" + h
}

// recordLocalAccess appends a custody entry for an access made by a command
// run on this machine with direct access to the catalog and store (actor:
// the OS user, role "local"). Commands that read or export evidence locally
// call it before they write anything out and stop when it fails; a local
// bundle export records itself with
//
//	recordLocalAccess(ctx, e, cat, store, storage.ActionExport, bundleID, "")
func recordLocalAccess(ctx context.Context, e *cmdEnv, cat *storage.Catalog, store wildwatch.EvidenceStore, action, object, detail string) error {
	log := &storage.Custody{Catalog: cat, Store: store, Logger: e.logger}
	_, err := log.Append(ctx, storage.CustodyEvent{
		Actor: localActor(e.getenv), Role: storage.CustodyRoleLocal, Action: action, Object: object, Remote: localRemote(), Detail: detail,
	})
	return err
}

// localEvidence lets a command that reads evidence through the API read it
// from the catalog and store directly instead: it does when --data,
// --database or --s3-endpoint is on the command line.
type localEvidence struct {
	fs *flag.FlagSet
	o  serviceOptions
}

func registerLocalEvidence(fs *flag.FlagSet, e *cmdEnv) *localEvidence {
	l := &localEvidence{fs: fs}
	l.o.register(fs, e.getenv)
	return l
}

// chosen reports whether the command line asks for local reading.
func (l *localEvidence) chosen() bool {
	return flagGiven(l.fs, "data", "database", "s3-endpoint")
}

// captureObjectActions maps `capture OBJECT` to its custody action.
var captureObjectActions = map[string]string{
	"warc":       storage.ActionReadWARC,
	"manifest":   storage.ActionReadManifest,
	"screenshot": storage.ActionReadScreenshot,
	"dom":        storage.ActionReadDOM,
}

// download copies a capture's object ("warc", "manifest", "screenshot",
// "dom") from the store to w, byte for byte, once the read is in the
// custody log.
func (l *localEvidence) download(ctx context.Context, e *cmdEnv, captureID, object string, w io.Writer) error {
	action, ok := captureObjectActions[object]
	if !ok {
		return fmt.Errorf("unknown capture object %q", object)
	}
	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: cmp.Or(l.o.databaseDSN, filepath.Join(l.o.dataDir, "wildwatch.db")), Logger: e.logger})
	if err != nil {
		return fmt.Errorf("opening catalog: %w", err)
	}
	defer cat.Close()
	rec, err := cat.GetCapture(ctx, captureID)
	if err != nil {
		return err
	}
	key := map[string]string{"warc": rec.WARCKey, "manifest": rec.ManifestKey, "screenshot": rec.ScreenshotKey, "dom": rec.DOMKey}[object]
	if key == "" {
		return fmt.Errorf("capture %s was fetched statically: it has no %s", captureID, object)
	}
	store, err := openEvidenceStore(ctx, l.o, e.logger)
	if err != nil {
		return err
	}
	rc, _, err := store.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := recordLocalAccess(ctx, e, cat, store, action, key, ""); err != nil {
		return fmt.Errorf("not reading %s: %w", key, err)
	}
	_, err = io.Copy(w, rc)
	return err
}

// runLink is `wildwatch link create`: a share link made by the server.
func runLink(ctx context.Context, e *cmdEnv, args []string) error {
	return subcommand(ctx, e, "link", args, map[string]func(context.Context, *cmdEnv, []string) error{
		"create": func(ctx context.Context, e *cmdEnv, args []string) error {
			fs := newFlagSet(e, "link create", "link create (--capture ID [--object warc|manifest|screenshot|dom] | --key KEY) [--expires 24h] [--json]")
			c := remoteFlags(fs, e)
			var req api.LinkRequest
			fs.StringVar(&req.Capture, "capture", "", "the capture whose object to share")
			fs.StringVar(&req.Object, "object", "", "the capture's object: warc (default), manifest, screenshot or dom")
			fs.StringVar(&req.Key, "key", "", "an evidence key to share, instead of --capture")
			fs.StringVar(&req.Expires, "expires", "24h", "how long the link stays valid: a duration (90m, 24h) or days (3d), at most 7d")
			asJSON := fs.Bool("json", false, "print the link as JSON")
			pos, err := parseFlags(fs, args)
			if err != nil {
				return err
			}
			if len(pos) > 0 || (req.Capture == "") == (req.Key == "") {
				return usageError{"want --capture ID or --key KEY"}
			}
			link, err := c.CreateLink(ctx, req)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(e, link)
			}
			fmt.Fprintln(e.out, link.URL)
			fmt.Fprintf(e.err, "%s link %s to %s, valid until %s\n", link.Kind, link.ID, link.Key, link.Expires.Format(time.RFC3339))
			return nil
		},
	})
}
