package hedge

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Markdown renders the plan as Markdown: a summary, the legs, the scenario
// table and the residual risks (for the README and for agents that show it).
func (p Plan) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Hedge of %s %s** (spot %s, entry %s, value %s): protect below %s until %s with contracts expiring %s.\n\n",
		strconv.FormatFloat(p.Quantity, 'f', -1, 64), p.Symbol, usd2(p.Spot), usd2(p.EntryPrice), usd(p.Unhedged.Value),
		usd(p.ProtectBelow), p.By.Format(time.DateOnly), p.Expiry.UTC().Format("2006-01-02 15:04 MST"))
	status := "meets the cap"
	if !p.MeetsCap {
		status = fmt.Sprintf("misses the cap by %s (budget-limited)", usd(p.Shortfall))
	}
	fmt.Fprintf(&b, "Total cost %s (fees %s). Worst hedged loss %s at %s against a cap of %s: %s. Unhedged loss at the protection level %s, at the floor %s.\n\n",
		usd(p.TotalCost), usd(p.Fees), usd(p.MaxLoss), usd(p.WorstPrice), usd(p.Cap), status, usd(p.Unhedged.LossAtProtect), usd(p.Unhedged.LossAtFloor))
	if len(p.Legs) > 0 {
		b.WriteString("| market | outcome | pays if below | contracts | price | cost | fair | edge |\n")
		b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|\n")
		for _, l := range p.Legs {
			fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %s | %s | %.3f | %+.3f |\n",
				l.MarketID, l.Outcome, usd(l.Strike), l.Contracts, usd2(l.Price), usd(l.Cost), l.FairProbability, l.Edge)
		}
		b.WriteString("\n")
	}
	b.WriteString("| price | move | unhedged P&L | hedge payoff | hedged P&L | |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---|\n")
	for _, s := range p.Scenarios {
		fmt.Fprintf(&b, "| %s | %+.1f%% | %s | %s | %s | %s |\n",
			usd(s.Price), 100*s.Move, usdSigned(s.UnhedgedPnL), usd(s.HedgePayoff), usdSigned(s.HedgedPnL), s.Label)
	}
	if len(p.Risks) > 0 {
		b.WriteString("\nResidual risks:\n\n")
		for _, r := range p.Risks {
			b.WriteString("- " + r + "\n")
		}
	}
	return b.String()
}

// usd formats whole dollars with thousands separators: $120,000.
func usd(x float64) string {
	s := "$" + group(strconv.FormatFloat(math.Abs(math.Round(x)), 'f', 0, 64))
	if math.Round(x) < 0 {
		return "-" + s
	}
	return s
}

// usd2 formats dollars with cents: $0.38, $163,119.95.
func usd2(x float64) string {
	s := strconv.FormatFloat(math.Abs(x), 'f', 2, 64)
	i, f, _ := strings.Cut(s, ".")
	if x <= -0.005 {
		return "-$" + group(i) + "." + f
	}
	return "$" + group(i) + "." + f
}

// usdSigned formats whole dollars with a sign: +$1,200, -$3,400.
func usdSigned(x float64) string {
	if math.Round(x) < 0 {
		return usd(x)
	}
	return "+" + usd(x)
}

func group(digits string) string {
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
