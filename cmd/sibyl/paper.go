package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/venues/paper"
)

const paperHelp = `Usage:
  sibyl paper show [--principal P] [--data-dir DIR]
                                   list paper accounts (cash, reserved, open orders, positions)
  sibyl paper fund --principal P --amount USD [--data-dir DIR]
                                   add USD to P's available cash
  sibyl paper reset --principal P [--cash USD] [--data-dir DIR]
                                   cancel P's resting orders, drop its positions and set its
                                   cash to USD (default: --paper-cash / SIBYL_PAPER_CASH, 10000)

Principals: local (stdio clients) or an API key id (sibyl keys list). While 'sibyl serve'
holds the data file these commands run in it, through its local socket, and take effect
at once; fund and reset are audited (tools paper_fund and paper_reset).

Flags:
`

// paperCmd runs 'sibyl paper'.
func paperCmd(ctx context.Context, env *cliEnv, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, paperHelp)
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("paper "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, paperHelp); fs.PrintDefaults() }
	dataDir := fs.String("data-dir", envString("SIBYL_DATA_DIR", defaultDataDir()), "`DIR` holding sibyl.db [SIBYL_DATA_DIR]")
	var sf storeFlags
	sf.register(fs)
	principal := fs.String("principal", "", "the account's principal: local, or an API key id")
	amount := fs.Float64("amount", 0, "fund: dollars to add")
	defCash, err := strconv.ParseFloat(envString("SIBYL_PAPER_CASH", "10000"), 64)
	if err != nil {
		return fmt.Errorf("SIBYL_PAPER_CASH: want a number of dollars")
	}
	cash := fs.Float64("cash", defCash, "reset: the cash to reset to, dollars [SIBYL_PAPER_CASH]")
	seed, err := envInt("SIBYL_SEED", 1)
	if err != nil {
		return err
	}
	fs.Int64Var(&seed, "seed", seed, "the paper world's seed, as 'sibyl serve --seed' (without a running server) [SIBYL_SEED]")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case sub != "show" && sub != "fund" && sub != "reset":
		fmt.Fprintf(stderr, "sibyl paper: unknown subcommand %q\n\n", sub)
		fs.Usage()
		return errUsage
	case len(pos) > 0:
		return fmt.Errorf("paper %s: unexpected argument %q", sub, pos[0])
	case sub != "show" && *principal == "":
		return fmt.Errorf("paper %s: --principal is required (local for stdio clients, or an API key id)", sub)
	case sub == "fund" && !(*amount > 0):
		return fmt.Errorf("paper fund: --amount must be a positive number of dollars")
	case sub == "reset" && !(*cash >= 0):
		return fmt.Errorf("paper reset: --cash must be at least 0 dollars")
	}
	if err := sf.check(); err != nil {
		return err
	}
	pv, st, release, err := env.paperVenue(&sf, *dataDir, seed)
	if err != nil {
		return err
	}
	defer release()
	var info paper.AccountInfo
	switch sub {
	case "show":
		accts, err := pv.Accounts(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PRINCIPAL\tCASH\tRESERVED\tOPEN ORDERS\tPOSITIONS")
		for _, a := range accts {
			if *principal == "" || a.Principal == *principal {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", a.Principal, usd(a.Cash), usd(a.Reserved), a.OpenOrders, a.Positions)
			}
		}
		if len(accts) == 0 {
			fmt.Fprintf(stderr, "no paper accounts yet: a principal's first call opens one with %s\n", usd(pv.StartingCash()))
		}
		return tw.Flush()
	case "fund":
		info, err = pv.Fund(ctx, *principal, *amount)
	case "reset":
		info, err = pv.Reset(ctx, *principal, *cash)
	}
	if err != nil {
		return err
	}
	audited := map[string]any{"principal": *principal, "cash": *cash}
	if sub == "fund" {
		audited = map[string]any{"principal": *principal, "amount": *amount}
	}
	args2, _ := json.Marshal(audited)
	if err := st.Commit(func(t store.Txn) error {
		_, err := t.AppendAudit(store.AuditEntry{Time: time.Now().UTC(), Principal: "operator", Transport: "cli", Tool: "paper_" + sub, Args: args2, Outcome: "ok"})
		return err
	}); err != nil {
		return fmt.Errorf("the account changed but its audit entry failed: %w", err)
	}
	fmt.Fprintf(stdout, "%s: cash %s, reserved %s, %d open orders, %d positions\n", info.Principal, usd(info.Cash), usd(info.Reserved), info.OpenOrders, info.Positions)
	return nil
}

// paperVenue returns the paper venue on the store sf selects: the server's
// own when env runs in it, else one opened here on the existing store with
// the given seed.
func (e *cliEnv) paperVenue(sf *storeFlags, dataDir string, seed int64) (*paper.Venue, store.Store, func(), error) {
	if e != nil && e.m != nil && e.m.paper != nil {
		st, release, err := e.store(sf, dataDir, storeExisting)
		if err != nil {
			return nil, nil, nil, err
		}
		return e.m.paper, st, release, nil
	}
	st, release, err := e.store(sf, dataDir, storeExisting)
	if err != nil {
		return nil, nil, nil, err
	}
	cash, _ := strconv.ParseFloat(envString("SIBYL_PAPER_CASH", "10000"), 64)
	pv, err := paper.New(paper.Options{Seed: seed, Store: st, StartingCash: cash})
	if err != nil {
		release()
		return nil, nil, nil, fmt.Errorf("opening the paper venue: %w", err)
	}
	return pv, st, release, nil
}

// usd formats dollars with cents: $12,345.67.
func usd(x float64) string {
	neg := x < 0
	c := int64(x*100 + 0.5)
	if neg {
		c = int64(-x*100 + 0.5)
	}
	s := strconv.FormatInt(c/100, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	out := fmt.Sprintf("$%s.%02d", s, c%100)
	if neg {
		out = "-" + out
	}
	return out
}

// warnPaperCash says at start when --paper-cash (the opening balance of new
// principals) differs from what an existing paper account holds: the flag
// does not change existing accounts.
func (m *Main) warnPaperCash(ctx context.Context) {
	if m.paper == nil || !m.paperCashSet {
		return
	}
	accts, err := m.paper.Accounts(ctx)
	if err != nil {
		return
	}
	for _, a := range accts {
		if held := a.Cash + a.Reserved; held != m.PaperCash {
			fmt.Fprintf(m.Stderr, "  --paper-cash %s opens new paper accounts only: %s's existing account holds %s cash (%s reserved); 'sibyl paper fund|reset --principal %s' changes it\n",
				usd(m.PaperCash), a.Principal, usd(a.Cash), usd(a.Reserved), a.Principal)
		}
	}
}
