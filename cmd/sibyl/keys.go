package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
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

Once a data file holds a live key, 'sibyl serve --http' requires
'Authorization: Bearer <token>' on every request. Scopes: read (market data, grades,
your orders and positions, the audit log) and trade (also place and cancel orders).
The server holds the data file while it runs: stop it to manage keys.

Flags:
`

var validScopes = map[string]bool{"read": true, "trade": true}

// keysCmd runs `sibyl keys`.
func keysCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysHelp)
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, keysHelp); fs.PrintDefaults() }
	dataDir := fs.String("data-dir", envString("SIBYL_DATA_DIR", defaultDataDir()), "`DIR` holding sibyl.db [SIBYL_DATA_DIR]")
	name := fs.String("name", "", "create: what the key is for (required)")
	scopes := fs.String("scopes", "read", "create: comma-separated scopes: read, trade")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	st, err := store.Open(filepath.Join(*dataDir, "sibyl.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "create":
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
		token, key, err := st.CreateAPIKey(*name, sc, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", token)
		fmt.Fprintf(stderr, "created key %s (%s, scopes %s); the token above is shown only now: store it as a secret\n", key.ID, key.Name, strings.Join(sc, ","))
		return nil
	case "list":
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
		if fs.NArg() != 1 {
			return fmt.Errorf("keys revoke: name exactly one key id (sibyl keys list shows them)")
		}
		if err := st.RevokeAPIKey(fs.Arg(0), time.Now()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", fs.Arg(0))
		return nil
	default:
		fmt.Fprintf(stderr, "sibyl keys: unknown subcommand %q\n\n", sub)
		fs.Usage()
		return errUsage
	}
}
