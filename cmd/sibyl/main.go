// Command sibyl is the sibyl MCP server and its command-line companions.
//
// main is wiring only: it parses flags and environment variables, opens the data
// file, builds the venues and the tools, and hands them to the mcp package.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `sibyl — an MCP tool server for prediction markets and token grades

Usage:
  sibyl serve [flags]        serve MCP over stdio (default) or HTTP (--http ADDR)
  sibyl grade SYMBOL...      print token grades (add --ohlcv-dir DIR for real history)
  sibyl grade backtest --ohlcv-dir DIR
                             walk-forward backtest of the grades
  sibyl audit verify|tail|export
                             check or read the tamper-evident audit log
  sibyl keys create|list|revoke
                             manage HTTP API keys
  sibyl paper show|fund|reset --principal P
                             manage a paper account
  (keys, audit and paper run in the server through its local socket while one serves
  the data file)
  sibyl halt [--cancel-open] stop all trading on the running server within a second
  sibyl resume               allow trading again
  sibyl version              print the version

Run 'sibyl serve --help' for the server's flags and environment variables.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks an error already explained to the user by the flag package.
var errUsage = errors.New("usage")

// parseArgs parses fs's flags from args, wherever they appear among the
// positional arguments (so 'sibyl keys revoke ID --data-dir DIR' works as its
// usage says), and returns the positional arguments; everything after "--" is
// positional. It returns flag.ErrHelp for -h, or errUsage once the flag package
// has explained a bad flag.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		m := &Main{Stdin: stdin, Stdout: stdout, Stderr: stderr}
		if err = m.ParseFlags(args); err == nil {
			err = m.Run(ctx)
			if cerr := m.Close(); err == nil {
				err = cerr
			}
		}
	case "keys", "audit", "paper":
		// A running server holds the data file: it runs the command.
		if code, ok := viaServer(cmd, args, stdout, stderr); ok {
			return code
		}
		err = runCommand(ctx, &cliEnv{}, cmd, args, stdout, stderr)
	case "grade":
		err = gradeCmd(ctx, args, stdout, stderr)
	case "halt", "resume":
		err = haltCmd(ctx, args, cmd == "halt", stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "sibyl %s\n", version)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "sibyl: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	return exitCode(cmd, err, stderr)
}

// runCommand runs one of the commands that work on the data file (keys,
// audit, paper) in env.
func runCommand(ctx context.Context, env *cliEnv, cmd string, args []string, stdout, stderr io.Writer) error {
	switch cmd {
	case "keys":
		return keysCmd(env, args, stdout, stderr)
	case "audit":
		return auditCmd(env, args, stdout, stderr)
	case "paper":
		return paperCmd(ctx, env, args, stdout, stderr)
	}
	return fmt.Errorf("unknown command %q", cmd)
}

// exitCode reports err (if any) on stderr and returns the exit code.
func exitCode(cmd string, err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp), errors.Is(err, errPrinted):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "sibyl %s: %v\n", cmd, err)
		return 1
	}
}
