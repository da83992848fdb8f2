package paper

import (
	"context"
	"math"
	"sort"
	"strings"

	"github.com/sibylmcp/sibyl"
)

// AccountInfo describes one principal's paper account.
type AccountInfo struct {
	Principal  string
	Exists     bool    // false: the principal never traded; it opens with the starting cash
	Cash       float64 // available, dollars
	Reserved   float64 // held by resting buys, dollars
	OpenOrders int     // resting orders
	Positions  int     // holdings with contracts
}

func (v *Venue) info(p string) AccountInfo {
	a := v.st.accounts[p]
	if a == nil {
		return AccountInfo{Principal: p, Cash: v.opts.StartingCash}
	}
	n := 0
	for _, pos := range a.Positions {
		if pos.Qty > 0 {
			n++
		}
	}
	return AccountInfo{Principal: p, Exists: true, Cash: centsToDollars(a.Cash), Reserved: centsToDollars(a.Reserved),
		OpenOrders: len(a.open), Positions: n}
}

// StartingCash is the opening balance of a principal that has no account yet.
func (v *Venue) StartingCash() float64 { return v.opts.StartingCash }

// Accounts lists every principal's account, by principal.
func (v *Venue) Accounts(ctx context.Context) ([]AccountInfo, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	var out []AccountInfo
	if err := v.run(ctx, v.now(), false, func(t *tx) {
		names := make([]string, 0, len(v.st.accounts))
		for p := range v.st.accounts {
			names = append(names, p)
		}
		sort.Strings(names)
		out = make([]AccountInfo, len(names))
		for i, p := range names {
			out[i] = v.info(p)
		}
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// Account returns principal's account (a principal without one shows the
// starting cash and Exists false).
func (v *Venue) Account(ctx context.Context, principal string) (AccountInfo, error) {
	if err := ctxErr(ctx); err != nil {
		return AccountInfo{}, err
	}
	p, err := checkPrincipal(principal)
	if err != nil {
		return AccountInfo{}, err
	}
	var info AccountInfo
	if err := v.run(ctx, v.now(), false, func(t *tx) { info = v.info(p) }); err != nil {
		return AccountInfo{}, err
	}
	return info, nil
}

// Fund adds amount dollars (whole cents, > 0) to principal's available cash,
// opening the account with the starting cash first when it has none, and
// returns the account after. It is durable when it returns.
func (v *Venue) Fund(ctx context.Context, principal string, amount float64) (AccountInfo, error) {
	if err := ctxErr(ctx); err != nil {
		return AccountInfo{}, err
	}
	p, err := checkPrincipal(principal)
	if err != nil {
		return AccountInfo{}, err
	}
	cents, err := exactCents(amount, "amount")
	if err != nil {
		return AccountInfo{}, err
	}
	if cents <= 0 {
		return AccountInfo{}, sibyl.FieldErrorf(sibyl.Invalid, "amount", "must be a positive number of dollars, got %v", amount)
	}
	var info AccountInfo
	if err := v.run(ctx, v.now(), true, func(t *tx) {
		a := v.account(p, t)
		a.Cash += cents
		t.accounts[a] = struct{}{}
		info = v.info(p)
	}); err != nil {
		return AccountInfo{}, err
	}
	return info, nil
}

// Reset sets principal's account to cash dollars (whole cents, >= 0) and no
// positions: its resting orders are cancelled first (their reserved cash is
// released, then replaced by cash). Orders and fills stay in its history. It
// returns the account after; it is durable when it returns.
func (v *Venue) Reset(ctx context.Context, principal string, cash float64) (AccountInfo, error) {
	if err := ctxErr(ctx); err != nil {
		return AccountInfo{}, err
	}
	p, err := checkPrincipal(principal)
	if err != nil {
		return AccountInfo{}, err
	}
	cents, err := exactCents(cash, "cash")
	if err != nil {
		return AccountInfo{}, err
	}
	if cents < 0 {
		return AccountInfo{}, sibyl.FieldErrorf(sibyl.Invalid, "cash", "must be at least 0 dollars, got %v", cash)
	}
	now := v.now()
	var info AccountInfo
	if err := v.run(ctx, now, true, func(t *tx) {
		a := v.account(p, t)
		ids := make([]string, 0, len(a.open))
		for id := range a.open {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			o := a.open[id]
			v.unbook(v.st.markets[o.Native], o)
			v.release(o, t)
			o.Status = sibyl.OrderCancelled
			o.RejectReason = "cancelled by a paper account reset"
			o.UpdatedAt = now
		}
		a.Cash, a.Reserved = cents, 0
		for k, pos := range a.Positions {
			if pos.Qty > 0 || pos.Committed > 0 {
				delete(a.Positions, k)
			}
		}
		t.accounts[a] = struct{}{}
		info = v.info(p)
	}); err != nil {
		return AccountInfo{}, err
	}
	return info, nil
}

func checkPrincipal(p string) (string, error) {
	p = strings.TrimSpace(p)
	if p == "" || strings.ContainsRune(p, 0) {
		return "", sibyl.FieldErrorf(sibyl.Invalid, "principal", "a principal is required: local for stdio clients, or an API key id (sibyl keys list)")
	}
	return p, nil
}

// exactCents converts dollars to cents, refusing fractions of a cent and
// amounts too large to hold.
func exactCents(x float64, field string) (int64, error) {
	c := x * 100
	if math.IsNaN(c) || math.IsInf(c, 0) || math.Abs(c) > 1e15 || math.Abs(c-math.Round(c)) > 1e-6 {
		return 0, sibyl.FieldErrorf(sibyl.Invalid, field, "must be dollars in whole cents, at most $10,000,000,000,000, got %v", x)
	}
	return int64(math.Round(c)), nil
}
