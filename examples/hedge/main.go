// Command hedge is the README's worked example: on the paper venue, protect a
// 2 BTC position against a fall of more than 15% over the next month with
// prediction-market contracts, first as a preview, then placed exactly once.
//
//	go run ./examples/hedge    # starts `go run ./cmd/sibyl serve --paper-cash 100000` on a fresh data dir
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

	"github.com/google/uuid"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	dir, err := os.MkdirTemp("", "sibyl-hedge-example")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	command := flag.String("cmd", "go run ./cmd/sibyl serve --paper-cash 100000 --data-dir "+dir, "command that starts sibyl on stdio")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := strings.Fields(*command)
	client := mcp.NewClient(&mcp.Implementation{Name: "sibyl-hedge-example", Version: "1.0.0"}, nil)
	s, err := client.Connect(ctx, &mcp.CommandTransport{Command: exec.Command(f[0], f[1:]...)}, nil)
	if err == nil {
		defer s.Close()
		err = run(ctx, s, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hedge:", err)
		os.Exit(1)
	}
}

type leg struct {
	Market          string  `json:"market"`
	Outcome         string  `json:"outcome"`
	Contracts       float64 `json:"contracts"`
	Price           float64 `json:"price"`
	FillNow         float64 `json:"fill_now"`
	Rests           float64 `json:"rests"`
	Cost            float64 `json:"cost"`
	Strike          float64 `json:"strike"`
	FairProbability float64 `json:"fair_probability"`
	OrderID         string  `json:"order_id"`
	Status          string  `json:"status"`
	Filled          float64 `json:"filled"`
	Replayed        bool    `json:"replayed"`
}

type answer struct {
	Spot      float64 `json:"spot"`
	Expiry    string  `json:"expiry"`
	Vol       float64 `json:"vol"`
	Legs      []leg   `json:"legs"`
	TotalCost float64 `json:"total_cost"`
	MaxLoss   float64 `json:"max_loss"`
	Cap       float64 `json:"cap"`
	Scenarios []struct {
		Price       float64 `json:"price"`
		Move        float64 `json:"move"`
		UnhedgedPnL float64 `json:"unhedged_pnl"`
		HedgePayoff float64 `json:"hedge_payoff"`
		HedgedPnL   float64 `json:"hedged_pnl"`
		Label       string  `json:"label"`
	} `json:"scenarios"`
	Risks     []string `json:"risks"`
	Complete  bool     `json:"complete"`
	Status    string   `json:"status"`
	NextStep  string   `json:"next_step"`
	Cash      *float64 `json:"cash_available"`
	Unhedged  float64  `json:"unhedged_contracts"`
	Simulated bool     `json:"simulated"`
}

// hedge calls tool (plan_hedge to preview, read-only; hedge_position to place).
func hedge(ctx context.Context, s *mcp.ClientSession, tool string, args map[string]any) (answer, error) {
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return answer{}, err
	}
	raw, _ := json.Marshal(res.StructuredContent)
	if res.IsError {
		return answer{}, fmt.Errorf("%s: %s", tool, raw)
	}
	var a answer
	return a, json.Unmarshal(raw, &a)
}

func run(ctx context.Context, s *mcp.ClientSession, out io.Writer) error {
	by := time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
	// Spot from the latest daily close; protect 15% under it.
	spot, err := spotFromHistory(ctx, s)
	if err != nil {
		return err
	}
	args := map[string]any{"symbol": "BTC", "quantity": 2, "protect_below": float64(int(spot * 0.85)), "by": by}
	a, err := hedge(ctx, s, "plan_hedge", args)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Preview: 2 BTC at spot $%.0f, protect below $%.0f until %s; legs expire %s; realised vol %.0f%%; simulated=%v\n\n",
		a.Spot, args["protect_below"], by, a.Expiry, 100*a.Vol, a.Simulated)
	fmt.Fprintln(out, "| market | buy | pays if BTC below | contracts | fill now | rest | limit | cost | model p |")
	fmt.Fprintln(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, l := range a.Legs {
		fmt.Fprintf(out, "| %s | %s | $%.0f | %.0f | %.0f | %.0f | $%.2f | $%.2f | %.3f |\n", l.Market, l.Outcome, l.Strike, l.Contracts, l.FillNow, l.Rests, l.Price, l.Cost, l.FairProbability)
	}
	fmt.Fprintf(out, "\nTotal cost $%.2f; worst hedged loss $%.0f (cap $%.0f).\n\n", a.TotalCost, a.MaxLoss, a.Cap)
	fmt.Fprintln(out, "| BTC at expiry | move | unhedged P&L | hedge payoff | hedged P&L | |")
	fmt.Fprintln(out, "|---:|---:|---:|---:|---:|---|")
	for _, r := range a.Scenarios {
		fmt.Fprintf(out, "| $%.0f | %+.0f%% | $%.0f | $%.0f | $%.0f | %s |\n", r.Price, 100*r.Move, r.UnhedgedPnL, r.HedgePayoff, r.HedgedPnL, r.Label)
	}
	fmt.Fprintln(out, "\nResidual risks:")
	for _, r := range a.Risks {
		fmt.Fprintln(out, "- "+r)
	}

	args["execute"] = true
	args["idempotency_key"] = "hedge-example-" + uuid.NewString()
	placed, err := hedge(ctx, s, "hedge_position", args)
	if err != nil {
		return err
	}
	again, err := hedge(ctx, s, "hedge_position", args)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nExecuted (status=%s, complete=%v, %.0f contracts not yet filled):\n\n", placed.Status, placed.Complete, placed.Unhedged)
	if placed.NextStep != "" {
		fmt.Fprintf(out, "Next step: %s\n\n", placed.NextStep)
	}
	fmt.Fprintln(out, "| leg | order | status | filled | same order on retry |")
	fmt.Fprintln(out, "|---|---|---|---:|---|")
	for i, l := range placed.Legs {
		fmt.Fprintf(out, "| %d %s | %s | %s | %.0f | %v (replayed=%v) |\n", i+1, l.Market, l.OrderID, l.Status, l.Filled,
			again.Legs[i].OrderID == l.OrderID, again.Legs[i].Replayed)
	}
	return nil
}

func spotFromHistory(ctx context.Context, s *mcp.ClientSession) (float64, error) {
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "get_price_history", Arguments: map[string]any{"symbol": "BTC"}})
	if err != nil || res.IsError {
		return 0, fmt.Errorf("get_price_history: %v", err)
	}
	raw, _ := json.Marshal(res.StructuredContent)
	var h struct {
		Candles []struct {
			Close float64 `json:"close"`
		} `json:"candles"`
	}
	if err := json.Unmarshal(raw, &h); err != nil || len(h.Candles) == 0 {
		return 0, fmt.Errorf("get_price_history: %s", raw)
	}
	return h.Candles[len(h.Candles)-1].Close, nil
}
