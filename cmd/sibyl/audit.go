package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
)

const auditHelp = `Usage:
  sibyl audit verify [--data-dir DIR] [--anchor FILE]
                                                 walk the hash chain (and check it against the
                                                 anchor's checkpoints); exit 0 when intact, 1
                                                 naming the first bad entry or checkpoint
  sibyl audit tail [--data-dir DIR] [-n N] [--tool NAME]
                                                 print the last N entries as JSON lines
  sibyl audit export --jsonl [--data-dir DIR] [--after SEQ]
                                                 write every entry as canonical JSON lines

While 'sibyl serve' holds the data file these commands run in it, through its local
socket; without a server they read the file (a read-only copy will do). With SIBYL_AUDIT_KEY
set, verify also checks every entry's HMAC.

Flags:
`

// auditCmd runs `sibyl audit`.
func auditCmd(env *cliEnv, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditHelp)
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("audit "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, auditHelp); fs.PrintDefaults() }
	dataDir := fs.String("data-dir", envString("SIBYL_DATA_DIR", defaultDataDir()), "`DIR` holding sibyl.db [SIBYL_DATA_DIR]")
	var sf storeFlags
	sf.register(fs)
	n := fs.Int("n", 20, "tail: how many entries")
	tool := fs.String("tool", "", "tail: only entries of this tool")
	jsonl := fs.Bool("jsonl", false, "export: write JSON lines (the only format)")
	after := fs.Uint64("after", 0, "export: only entries after this sequence number")
	anchorFile := fs.String("anchor", "", "verify: also check the chain against the checkpoints in `FILE` (written by 'sibyl serve --audit-anchor FILE'); fails naming the first checkpoint whose entry is missing or different")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case sub != "verify" && sub != "tail" && sub != "export":
		fmt.Fprintf(stderr, "sibyl audit: unknown subcommand %q\n\n", sub)
		fs.Usage()
		return errUsage
	case len(pos) > 0:
		return fmt.Errorf("audit %s: unexpected argument %q ('sibyl audit %s -h' lists the flags)", sub, pos[0], sub)
	case sub == "export" && !*jsonl:
		return fmt.Errorf("export needs --jsonl (the only format)")
	}
	if err := sf.check(); err != nil {
		return err
	}
	// Read only: the audit commands work on a read-only copy of the file
	// (or, while a server holds it, in the server through its socket).
	st, release, err := env.store(&sf, *dataDir, storeRead)
	if err != nil {
		return err
	}
	defer release()
	switch sub {
	case "verify":
		v, err := st.VerifyAudit()
		if err != nil {
			return err
		}
		if !v.OK {
			return fmt.Errorf("audit chain broken at entry %d: %s: %s (%d entries before it verified)", v.BadSeq, v.Problem, v.Detail, v.Entries)
		}
		hmac := "no HMAC key set"
		if v.HMACChecked {
			hmac = "HMACs checked"
		}
		anchored := ""
		if *anchorFile != "" {
			n, last, err := verifyAnchor(st, *anchorFile, auditKey(), v.Head)
			if err != nil {
				return err
			}
			anchored = fmt.Sprintf("; %d anchor checkpoints match, the latest at seq %d", n, last.Seq)
		}
		fmt.Fprintf(stdout, "audit chain intact: %d entries, head %s (%s)%s\n", v.Entries, v.Head.Hash, hmac, anchored)
		return nil
	case "tail":
		es, err := st.TailAudit(*n, *tool)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, e := range es {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	default: // export
		_, err := st.ExportAudit(stdout, *after)
		return err
	}
}
