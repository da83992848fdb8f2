package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sibylmcp/sibyl/store"
)

const keysHelp = `Usage:
  sibyl keys create --name NAME [--scopes read,trade] [--data-dir DIR]
                                   create an HTTP API key; the token is printed once
  sibyl keys list [--data-dir DIR] list keys (ids, names, scopes; never tokens)
  sibyl keys revoke ID [--data-dir DIR]
                                   revoke a key at once

Once a data file holds a key, 'sibyl serve --http' requires
'Authorization: Bearer <token>' on every request; revoking every key locks the
server rather than opening it (unless 'sibyl serve --insecure-no-auth'). Scopes: read (market data, grades,
your orders and positions, the audit log) and trade (also place and cancel orders).
While 'sibyl serve' holds the data file these commands run in it, through its local
socket, and a key created that way works at once.

Flags:
`

var validScopes = map[string]bool{"read": true, "trade": true}

// keysCmd runs `sibyl keys`.
func keysCmd(env *cliEnv, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysHelp)
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, keysHelp); fs.PrintDefaults() }
	dataDir := fs.String("data-dir", envString("SIBYL_DATA_DIR", defaultDataDir()), "`DIR` holding sibyl.db [SIBYL_DATA_DIR]")
	var sf storeFlags
	sf.register(fs)
	name := fs.String("name", "", "create: what the key is for (required)")
	scopes := fs.String("scopes", "read", "create: comma-separated scopes: read, trade")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	// Check the command line before opening the file: a mistake must not wait
	// on the lock of a running server, nor create a data file.
	if err := sf.check(); err != nil {
		return err
	}
	switch sub {
	case "create":
		if len(pos) > 0 {
			return fmt.Errorf("keys create: unexpected argument %q; name the key with --name", pos[0])
		}
		if *name == "" {
			return fmt.Errorf("keys create: --name is required (what the key is for)")
		}
		var sc []string
		for _, s := range strings.Split(*scopes, ",") {
			s = strings.TrimSpace(s)
			if !validScopes[s] {
				return fmt.Errorf("keys create: unknown scope %q; use read or trade", s)
			}
			sc = append(sc, s)
		}
		st, release, err := env.store(&sf, *dataDir, storeCreate)
		if err != nil {
			return err
		}
		defer release()
		token, key, err := st.CreateAPIKey(*name, sc, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", token)
		fmt.Fprintf(stderr, "created key %s (%s, scopes %s); the token above is shown only now: store it as a secret\n", key.ID, key.Name, strings.Join(sc, ","))
		if env != nil && env.m != nil && env.m.httpNoAuth.Load() {
			fmt.Fprintf(stderr, "the running HTTP server started without API keys and still accepts requests without one: restart it to require keys\n")
		}
		return nil
	case "list":
		if len(pos) > 0 {
			return fmt.Errorf("keys list: unexpected argument %q", pos[0])
		}
		st, release, err := env.store(&sf, *dataDir, storeExisting)
		if err != nil {
			return err
		}
		defer release()
		keys, err := st.APIKeys()
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED\tSTATUS")
		for _, k := range keys {
			status := "live"
			if !k.Revoked.IsZero() {
				status = "revoked " + k.Revoked.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","), k.Created.Format(time.RFC3339), status)
		}
		return tw.Flush()
	case "revoke":
		if len(pos) != 1 {
			return fmt.Errorf("keys revoke: name exactly one key id (sibyl keys list shows them)")
		}
		st, release, err := env.store(&sf, *dataDir, storeExisting)
		if err != nil {
			return err
		}
		defer release()
		if err := st.RevokeAPIKey(pos[0], time.Now()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", pos[0])
		return nil
	default:
		fmt.Fprintf(stderr, "sibyl keys: unknown subcommand %q\n\n", sub)
		fs.Usage()
		return errUsage
	}
}

// openExisting opens the data file at path, which must exist: reading commands
// must not create an empty one in a mistyped --data-dir and report nothing.
func openExisting(path string, opts store.Options) (store.Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no data file at %s: pass the --data-dir 'sibyl serve' uses (or set SIBYL_DATA_DIR)", path)
	}
	return store.OpenOptions(path, opts)
}
