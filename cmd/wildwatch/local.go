package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/rules"
	"github.com/wildwatch/wildwatch/storage"
)

func runMatch(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "match", "match [--rules FILE] [FILE...]  (JSON Lines; standard input when no file)")
	rulesPath := fs.String("rules", "", "rule set YAML (default: the built-in rule set)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	m, err := loadMatcher(*rulesPath)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return rules.MatchLines(ctx, m, e.in, e.out)
	}
	for _, p := range pos {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = rules.MatchLines(ctx, m, f, e.out)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

// runVerify checks captures: manifest files or directories of them on disk,
// or manifest keys in the configured evidence store.
func runVerify(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "verify", "verify [--pubkey FILE] PATH_OR_KEY... | verify CASE.wacz... [--key PUBKEY_FILE | --fingerprint FP]")
	var o serviceOptions
	o.register(fs, e.getenv)
	pubPath := fs.String("pubkey", "", "public key (PEM or ed25519:… text); default: the deployment key under --data")
	fingerprint := fs.String("fingerprint", "", "case bundles: trust the key a bundle carries only if it has this fingerprint (without --key or --pubkey, an intact bundle exits 3: its key is unauthenticated)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError{"want one or more manifests, directories or manifest keys"}
	}
	if bundles, err := isBundleArgs(pos); err != nil || bundles {
		if err != nil {
			return err
		}
		return verifyBundles(ctx, e, o, pos, *pubPath, *fingerprint)
	}
	pub, err := verifyKey(o, *pubPath)
	if err != nil {
		return err
	}
	var results []storage.VerifyResult
	var store wildwatch.EvidenceStore // opened only for keys not found on disk
	for _, p := range pos {
		if _, err := os.Stat(p); err == nil {
			rs, err := storage.VerifyPath(ctx, p, pub)
			if err != nil {
				return err
			}
			results = append(results, rs...)
			continue
		}
		if store == nil {
			if store, err = openEvidenceStore(ctx, o, e.logger); err != nil {
				return err
			}
		}
		r, err := storage.VerifyCapture(ctx, store, p, pub)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	failed := 0
	for _, r := range results {
		if r.OK {
			fmt.Fprintf(e.out, "ok    %s  %s%s\n", r.CaptureID, r.ManifestKey, timestampNote(r))
			continue
		}
		failed++
		fmt.Fprintf(e.out, "FAIL  %s  %s: %v\n", r.CaptureID, r.ManifestKey, r.Problems)
	}
	if len(results) == 0 {
		return errors.New("no captures found")
	}
	fmt.Fprintf(e.err, "%d verified, %d failed\n", len(results)-failed, failed)
	if failed > 0 {
		return exitError{1}
	}
	return nil
}

func verifyKey(o serviceOptions, path string) (ed25519.PublicKey, error) {
	if path != "" {
		return storage.LoadPublicKey(path)
	}
	return storage.LoadPublicKey(o.signingKeyPath() + ".pub")
}

func runKeys(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "keys", "keys [--data DIR | --key FILE]")
	var o serviceOptions
	o.register(fs, e.getenv)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	s, err := storage.LoadOrCreateKey(o.signingKeyPath())
	if err != nil {
		return err
	}
	fmt.Fprintln(e.out, storage.FormatPublicKey(s.PublicKey()))
	// The key alone on standard output, for a file `verify --pubkey`
	// reads; its fingerprint, for `verify CASE.wacz --fingerprint`, beside.
	fmt.Fprintln(e.err, "fingerprint:", storage.Fingerprint(s.PublicKey()))
	return nil
}

func runToken(ctx context.Context, e *cmdEnv, args []string) error {
	return subcommand(ctx, e, "token", args, map[string]func(context.Context, *cmdEnv, []string) error{
		"create": func(ctx context.Context, e *cmdEnv, args []string) error {
			fs := newFlagSet(e, "token create", "token create --name NAME --role monitor|investigator|admin [--data DIR | --database DSN]")
			var o serviceOptions
			o.register(fs, e.getenv)
			name := fs.String("name", "", "who the token is for")
			role := fs.String("role", "", "monitor, investigator or admin")
			if _, err := parseFlags(fs, args); err != nil {
				return err
			}
			if *name == "" || !api.ValidRole(*role) {
				return usageError{"want --name and --role monitor|investigator|admin"}
			}
			dsn := o.databaseDSN
			if dsn == "" {
				dsn = o.dataDir + "/wildwatch.db"
			}
			cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: dsn, Logger: e.logger})
			if err != nil {
				return err
			}
			defer cat.Close()
			token, hash, err := api.NewToken()
			if err != nil {
				return err
			}
			if err := cat.PutToken(ctx, storage.Token{Name: *name, Role: *role, Hash: hash, CreatedAt: time.Now().UTC()}); err != nil {
				return err
			}
			_, err = io.WriteString(e.out, token+"\n")
			return err
		},
	})
}

// timestampNote says what a capture's RFC 3161 timestamp attests, or ""
// when it has none.
func timestampNote(r storage.VerifyResult) string {
	if r.TimestampStatus != storage.TimestampVerified || r.Timestamp == nil {
		return ""
	}
	return fmt.Sprintf("  timestamped %s by %s", r.Timestamp.Time.UTC().Format(time.RFC3339), r.Timestamp.Authority)
}
