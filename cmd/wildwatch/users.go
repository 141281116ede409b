package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/storage"
)

// runUser manages the console's users in the local catalog, as `token
// create` manages API tokens.
func runUser(ctx context.Context, e *cmdEnv, args []string) error {
	return subcommand(ctx, e, "user", args, map[string]func(context.Context, *cmdEnv, []string) error{
		"add": func(ctx context.Context, e *cmdEnv, args []string) error {
			fs, o := userFlags(e, "user add", "user add NAME --role monitor|investigator|admin [--data DIR | --database DSN]  (password on standard input)")
			role := fs.String("role", "", "monitor, investigator or admin")
			name, err := oneArg(fs, args, "NAME")
			if err != nil {
				return err
			}
			if !api.ValidRole(*role) {
				return usageError{"want --role monitor|investigator|admin"}
			}
			if !api.ValidPrincipalName(name) {
				return usageError{fmt.Sprintf("user name %q: use letters, digits and . _ @ - (no spaces), up to 64 characters", name)}
			}
			return withCatalog(ctx, e, o, func(cat *storage.Catalog) error {
				if _, err := cat.GetUser(ctx, name); err == nil {
					return fmt.Errorf("user %s exists already; use `wildwatch user passwd %s` to change the password", name, name)
				} else if !errors.Is(err, storage.ErrNotFound) {
					return err
				}
				hash, err := readNewPassword(e, name)
				if err != nil {
					return err
				}
				if err := cat.PutUser(ctx, storage.User{Name: name, Role: *role, Password: hash}); err != nil {
					return err
				}
				fmt.Fprintf(e.out, "user %s added as %s\n", name, *role)
				return nil
			})
		},
		"list": func(ctx context.Context, e *cmdEnv, args []string) error {
			fs, o := userFlags(e, "user list", "user list [--json] [--data DIR | --database DSN]")
			asJSON := fs.Bool("json", false, "print JSON")
			if pos, err := parseFlags(fs, args); err != nil {
				return err
			} else if len(pos) > 0 {
				return usageError{"user list takes no arguments"}
			}
			return withCatalog(ctx, e, o, func(cat *storage.Catalog) error {
				us, err := cat.ListUsers(ctx)
				if err != nil {
					return err
				}
				if *asJSON {
					enc := json.NewEncoder(e.out)
					enc.SetIndent("", "  ")
					return enc.Encode(us)
				}
				tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tSTATUS\tCREATED")
				for _, u := range us {
					status := "active"
					if u.Disabled {
						status = "disabled"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, status, u.CreatedAt.UTC().Format("2006-01-02 15:04"))
				}
				return tw.Flush()
			})
		},
		"passwd": func(ctx context.Context, e *cmdEnv, args []string) error {
			return editUser(ctx, e, "passwd", args, func(u *storage.User) (string, error) {
				hash, err := readNewPassword(e, u.Name)
				if err != nil {
					return "", err
				}
				u.Password = hash
				return "password of %s changed; their console sessions ended", nil
			})
		},
		"disable": func(ctx context.Context, e *cmdEnv, args []string) error {
			return editUser(ctx, e, "disable", args, func(u *storage.User) (string, error) {
				u.Disabled = true
				return "%s disabled and signed out", nil
			})
		},
		"enable": func(ctx context.Context, e *cmdEnv, args []string) error {
			return editUser(ctx, e, "enable", args, func(u *storage.User) (string, error) {
				u.Disabled = false
				return "%s enabled", nil
			})
		},
		"delete": func(ctx context.Context, e *cmdEnv, args []string) error {
			fs, o := userFlags(e, "user delete", "user delete NAME [--data DIR | --database DSN]")
			name, err := oneArg(fs, args, "NAME")
			if err != nil {
				return err
			}
			return withCatalog(ctx, e, o, func(cat *storage.Catalog) error {
				if err := cat.DeleteUser(ctx, name); err != nil {
					return err
				}
				fmt.Fprintf(e.out, "user %s deleted\n", name)
				return nil
			})
		},
	})
}

// userFlags is the flag set of a user command, with the catalog's flags.
func userFlags(e *cmdEnv, name, synopsis string) (*flag.FlagSet, *serviceOptions) {
	fs := newFlagSet(e, name, synopsis)
	o := new(serviceOptions)
	o.register(fs, e.getenv)
	return fs, o
}

// withCatalog opens the catalog the options name (DATA/wildwatch.db by
// default) for fn.
func withCatalog(ctx context.Context, e *cmdEnv, o *serviceOptions, fn func(*storage.Catalog) error) error {
	dsn := o.databaseDSN
	if dsn == "" {
		dsn = o.dataDir + "/wildwatch.db"
	}
	cat, err := storage.OpenCatalog(ctx, storage.CatalogConfig{DSN: dsn, Logger: e.logger})
	if err != nil {
		return err
	}
	defer cat.Close()
	return fn(cat)
}

// editUser changes the user named by the one argument with change, which
// returns the message to print (with %s for the name), and stores it.
func editUser(ctx context.Context, e *cmdEnv, verb string, args []string, change func(*storage.User) (string, error)) error {
	fs, o := userFlags(e, "user "+verb, "user "+verb+" NAME [--data DIR | --database DSN]")
	name, err := oneArg(fs, args, "NAME")
	if err != nil {
		return err
	}
	return withCatalog(ctx, e, o, func(cat *storage.Catalog) error {
		u, err := cat.GetUser(ctx, name)
		if err != nil {
			return err
		}
		msg, err := change(&u)
		if err != nil {
			return err
		}
		if err := cat.PutUser(ctx, u); err != nil {
			return err
		}
		if verb == "passwd" {
			if err := cat.DeleteSessionsOf(ctx, u.Name, storage.SessionUser); err != nil {
				return err
			}
		}
		fmt.Fprintf(e.out, msg+"\n", u.Name)
		return nil
	})
}

// readNewPassword reads a new password for name and returns its hash. From
// a terminal it asks twice (the module has no terminal package, so the
// password shows as it is typed); from a pipe it reads one line.
func readNewPassword(e *cmdEnv, name string) (string, error) {
	r := bufio.NewReader(e.in)
	line := func() (string, error) {
		s, err := r.ReadString('\n')
		if err != nil && (!errors.Is(err, io.EOF) || s == "") {
			if errors.Is(err, io.EOF) {
				return "", errors.New("no password on standard input")
			}
			return "", err
		}
		return strings.TrimRight(s, "\r\n"), nil
	}
	var pw string
	if isTerminal(e.in) {
		fmt.Fprintf(e.err, "Password for %s (at least %d characters): ", name, api.MinPasswordLength)
		a, err := line()
		if err != nil {
			return "", err
		}
		fmt.Fprint(e.err, "Again: ")
		b, err := line()
		if err != nil {
			return "", err
		}
		if a != b {
			return "", errors.New("the two passwords differ")
		}
		pw = a
	} else {
		var err error
		if pw, err = line(); err != nil {
			return "", err
		}
	}
	return api.HashPassword(pw)
}

// isTerminal reports whether r is a character device (a terminal).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
