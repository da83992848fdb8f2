// Command client connects the official MCP Go SDK client to sibyl over stdio or
// HTTP, lists the tools and calls search_markets and get_market.
//
//	go run ./examples/client                                 # starts `go run ./cmd/sibyl serve` over stdio
//	go run ./examples/client -cmd "sibyl serve"              # a built binary
//	go run ./examples/client -http http://127.0.0.1:7777/mcp # a running `sibyl serve --http 127.0.0.1:7777`
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	command := flag.String("cmd", "go run ./cmd/sibyl serve", "command that starts sibyl on stdio")
	endpoint := flag.String("http", "", "connect to this Streamable HTTP endpoint instead of starting a process")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, transport(*command, *endpoint), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

func transport(command, endpoint string) mcp.Transport {
	if endpoint != "" {
		return &mcp.StreamableClientTransport{Endpoint: endpoint}
	}
	f := strings.Fields(command)
	cmd := exec.Command(f[0], f[1:]...)
	cmd.Stderr = os.Stderr // sibyl's banner and logs
	return &mcp.CommandTransport{Command: cmd}
}

// run lists the tools and looks at one market.
func run(ctx context.Context, t mcp.Transport, out io.Writer) error {
	client := mcp.NewClient(&mcp.Implementation{Name: "sibyl-example-client", Version: "1.0.0"}, nil)
	session, err := client.Connect(ctx, t, nil)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer session.Close()

	fmt.Fprintln(out, "tools:")
	for tool, err := range session.Tools(ctx, nil) {
		if err != nil {
			return fmt.Errorf("listing tools: %w", err)
		}
		fmt.Fprintf(out, "  %-18s %s\n", tool.Name, tool.Title)
	}

	var found struct {
		Markets []struct {
			ID       string `json:"id"`
			Question string `json:"question"`
		} `json:"markets"`
	}
	if err := call(ctx, session, "search_markets", map[string]any{"query": "ETH above", "status": "open", "limit": 1}, &found); err != nil {
		return err
	}
	if len(found.Markets) == 0 {
		return fmt.Errorf("no open ETH market")
	}
	var market struct {
		Question  string    `json:"question"`
		Outcomes  []outcome `json:"outcomes"`
		Simulated bool      `json:"simulated"`
	}
	if err := call(ctx, session, "get_market", map[string]any{"market": found.Markets[0].ID, "depth": 3}, &market); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%s (%s, simulated=%v)\n", market.Question, found.Markets[0].ID, market.Simulated)
	for _, o := range market.Outcomes {
		fmt.Fprintln(out, "  "+o.String())
	}
	return nil
}

// outcome is one outcome as get_market answers it. A price is absent (nil)
// when there is none: sibyl never sends 0 for "no quote".
type outcome struct {
	Name               string   `json:"name"`
	Bid                *float64 `json:"bid"`
	Ask                *float64 `json:"ask"`
	ImpliedProbability *float64 `json:"implied_probability"`
	ProbabilitySource  string   `json:"probability_source"`
}

func (o outcome) String() string {
	return fmt.Sprintf("%-4s bid %s ask %s  p=%s (%s)", o.Name, price(o.Bid, "none"), price(o.Ask, "none"), price(o.ImpliedProbability, "unknown"), o.ProbabilitySource)
}

// price formats an optional price, or says there is none.
func price(p *float64, none string) string {
	if p == nil {
		return none
	}
	return fmt.Sprintf("%.2f", *p)
}

// call calls a tool and decodes its structuredContent into out. A tool error
// (isError) becomes a Go error carrying the tool's error object.
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
		return fmt.Errorf("%s: %s", name, raw)
	}
	return json.Unmarshal(raw, out)
}
