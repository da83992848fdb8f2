// Command agent plays an agent that trades on sibyl's paper venue, to show what
// exactly-once orders mean in practice. It uses the official MCP Go SDK client:
//
//  1. finds an open market and places a limit order with an idempotency key;
//  2. "loses" the answer: it opens a new session, as an agent would after a
//     dropped connection, and retries with the same key and arguments; it gets
//     replayed=true and the same order id, and the venue holds one order;
//  3. tries the same key with other arguments: refused (idempotency_key_reused);
//  4. reads the audit log and verifies its hash chain.
//
// Run it against a fresh paper venue:
//
//	go run ./examples/agent                                  # starts `go run ./cmd/sibyl serve` over stdio
//	go run ./examples/agent -http http://127.0.0.1:7777/mcp  # a running `sibyl serve --http 127.0.0.1:7777`
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	command := flag.String("cmd", "go run ./cmd/sibyl serve", "command that starts sibyl on stdio (--data-dir DIR is appended)")
	dataDir := flag.String("data-dir", "", "sibyl's data dir; default a new temporary one for each run (removed at the end), so runs never see each other's orders")
	endpoint := flag.String("http", "", "connect to this Streamable HTTP endpoint instead of starting a process")
	flag.Parse()
	if *dataDir == "" {
		// A fresh world per run: a second run within a minute would otherwise
		// place the same order under a new key and be refused as a
		// possible duplicate of the first run's.
		dir, err := os.MkdirTemp("", "sibyl-agent-example-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "agent:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		*dataDir = dir
	}
	*command += " --data-dir " + *dataDir
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	connect := func() (*mcp.ClientSession, error) {
		c := mcp.NewClient(&mcp.Implementation{Name: "sibyl-example-agent", Version: "1.0.0"}, nil)
		return c.Connect(ctx, newTransport(*command, *endpoint), nil)
	}
	if err := run(ctx, connect, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		cancel()
		os.RemoveAll(*dataDir)
		os.Exit(1)
	}
}

func newTransport(command, endpoint string) mcp.Transport {
	if endpoint != "" {
		return &mcp.StreamableClientTransport{Endpoint: endpoint}
	}
	f := strings.Fields(command)
	cmd := exec.Command(f[0], f[1:]...)
	return &mcp.CommandTransport{Command: cmd}
}

// toolError is an isError result: the error object sibyl puts in structuredContent.
type toolError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field"`
	Retryable bool   `json:"retryable"`
}

func (e *toolError) Error() string { return e.Code + ": " + e.Message }

func call(ctx context.Context, s *mcp.ClientSession, name string, args map[string]any, out any) error {
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return err
	}
	if res.IsError {
		var e struct {
			Error toolError `json:"error"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("%s: %s", name, raw)
		}
		return &e.Error
	}
	return json.Unmarshal(raw, out)
}

type order struct {
	OrderID       string `json:"order_id"`
	ClientOrderID string `json:"client_order_id"`
	Status        string `json:"status"`
	Replayed      bool   `json:"replayed"`
}

// run is the walkthrough. connect opens a new session to the same server (on
// stdio with the same data dir, a new process: the strongest kind of "lost").
func run(ctx context.Context, connect func() (*mcp.ClientSession, error), out io.Writer) error {
	s, err := connect()
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	var found struct {
		Markets []struct {
			ID       string `json:"id"`
			Question string `json:"question"`
			Outcomes []struct {
				Bid float64 `json:"bid"`
				Ask float64 `json:"ask"`
			} `json:"outcomes"`
		} `json:"markets"`
	}
	if err := call(ctx, s, "search_markets", map[string]any{"query": "BTC above", "status": "open", "limit": 100}, &found); err != nil {
		return err
	}
	var market, question string
	var bid float64
	for _, m := range found.Markets {
		if b := m.Outcomes[0].Bid; b > 0.2 && b < 0.8 {
			market, question, bid = m.ID, m.Question, b
			break
		}
	}
	if market == "" {
		return errors.New("no open BTC market with a bid between 0.20 and 0.80")
	}
	fmt.Fprintf(out, "1. market %s: %s (Yes bid %.2f)\n", market, question, bid)

	key := "agent-example-" + uuid.NewString() // one key per intended order
	args := map[string]any{"market": market, "outcome": "Yes", "side": "buy", "quantity": 5,
		"limit_price": round2(bid - 0.05), "idempotency_key": key}
	var first order
	if err := call(ctx, s, "place_order", args, &first); err != nil {
		return err
	}
	fmt.Fprintf(out, "   placed order %s (client id %s), status %s, replayed=%v\n", first.OrderID, first.ClientOrderID, first.Status, first.Replayed)

	// 2. The agent never saw that answer (say the connection dropped): it
	// reconnects and retries the same action with the same key.
	s.Close()
	if s, err = connect(); err != nil {
		return fmt.Errorf("reconnecting: %w", err)
	}
	defer s.Close()
	var retry order
	if err := call(ctx, s, "place_order", args, &retry); err != nil {
		return err
	}
	fmt.Fprintf(out, "2. retry after a lost answer: order %s, replayed=%v\n", retry.OrderID, retry.Replayed)
	if retry.OrderID != first.OrderID || !retry.Replayed {
		return fmt.Errorf("retry gave order %s replayed=%v, want %s replayed=true", retry.OrderID, retry.Replayed, first.OrderID)
	}
	var list struct {
		Orders []order `json:"orders"`
	}
	if err := call(ctx, s, "list_orders", map[string]any{"market": market}, &list); err != nil {
		return err
	}
	n := 0
	for _, o := range list.Orders {
		if o.ClientOrderID == first.ClientOrderID {
			n++
		}
	}
	fmt.Fprintf(out, "   orders at the venue with that client id: %d\n", n)
	if n != 1 {
		return fmt.Errorf("the venue holds %d orders for one key, want 1", n)
	}

	// 3. The same key for a different order is refused; nothing is sent.
	other := map[string]any{}
	for k, v := range args {
		other[k] = v
	}
	other["quantity"] = 50
	err = call(ctx, s, "place_order", other, &order{})
	var te *toolError
	if !errors.As(err, &te) || te.Code != "idempotency_key_reused" {
		return fmt.Errorf("same key, other arguments: got %v, want idempotency_key_reused", err)
	}
	fmt.Fprintf(out, "3. same key, quantity 50: refused: %s (retryable=%v)\n", te.Code, te.Retryable)

	// 4. Every step is in the tamper-evident audit log.
	var log struct {
		Entries []struct {
			Seq     int    `json:"seq"`
			Tool    string `json:"tool"`
			Outcome string `json:"outcome"`
		} `json:"entries"`
		ChainOK     bool `json:"chain_ok"`
		ChainLength int  `json:"chain_length"`
	}
	if err := call(ctx, s, "get_audit_log", map[string]any{"tool": "place_order", "verify": true, "limit": 500}, &log); err != nil {
		return err
	}
	fmt.Fprintf(out, "4. audit log: %d entries, chain intact: %v; place_order entries:\n", log.ChainLength, log.ChainOK)
	for _, e := range log.Entries {
		fmt.Fprintf(out, "     #%d %s %s\n", e.Seq, e.Tool, e.Outcome)
	}
	if !log.ChainOK {
		return errors.New("the audit chain does not verify")
	}
	return nil
}

func round2(x float64) float64 { return float64(int(x*100+0.5)) / 100 }
