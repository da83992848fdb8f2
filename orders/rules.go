package orders

import (
	"context"
	"sync"
	"time"

	sibyl "github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/store"
)

// rulesTTL is how long a market's order rules are reused before the venue is
// asked again. Venues change a market's steps rarely (Kalshi announces tick
// changes days ahead); a stale step only means the venue itself refuses.
const rulesTTL = time.Minute

// rulesCacheMax bounds the cached markets; the cache is emptied when full.
const rulesCacheMax = 4096

// rulesCache keeps the order rules of recently traded markets.
type rulesCache struct {
	mu sync.Mutex
	m  map[string]cachedRules
}

type cachedRules struct {
	rules sibyl.OrderRules
	until time.Time
}

// marketRules returns the order rules of market native at the named venue,
// from the cache or from v.Market. A venue error is returned as it is
// (NotFound for an unknown market, Unavailable when the venue cannot be
// reached); rules that are not usable are an Invalid error naming the market.
func (s *Service) marketRules(ctx context.Context, venueName string, v sibyl.Venue, native string) (sibyl.OrderRules, error) {
	k := venueName + "\x00" + native
	now := time.Now()
	s.rules.mu.Lock()
	c, ok := s.rules.m[k]
	s.rules.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.rules, nil
	}
	m, err := v.Market(ctx, native)
	if err != nil {
		if _, isErr := err.(*sibyl.Error); !isErr || sibyl.ErrorCode(err) == sibyl.Internal {
			return sibyl.OrderRules{}, sibyl.WrapError(sibyl.Unavailable, err, "could not read the market's price and quantity steps; nothing was recorded or sent; retry with the same idempotency_key")
		}
		return sibyl.OrderRules{}, err
	}
	if err := m.OrderRules.Valid(); err != nil {
		return sibyl.OrderRules{}, sibyl.WrapError(sibyl.Invalid, err,
			"venue "+venueName+" gives no usable price and quantity steps for market "+native+", so orders on it are refused before anything is sent")
	}
	s.rules.mu.Lock()
	if s.rules.m == nil || len(s.rules.m) >= rulesCacheMax {
		s.rules.m = map[string]cachedRules{}
	}
	s.rules.m[k] = cachedRules{rules: m.OrderRules, until: now.Add(rulesTTL)}
	s.rules.mu.Unlock()
	return m.OrderRules, nil
}

// checkSteps refuses an order whose quantity or limit price is not on its
// market's steps, before anything is recorded or sent, so that no off-step
// price or count ever reaches a venue's wire. It runs only for a key not used
// before: a retry of a recorded key gets the stored outcome (or reconciles
// and resends the order that passed this check), even when the market has
// since closed or changed its steps. The error names the valid steps.
//
// absent reports that the key's record was read and not found: the claim
// need not read it again before its transaction (which checks it anyway).
func (s *Service) checkSteps(ctx context.Context, principal, key, venueName, native string, req sibyl.OrderRequest) (absent bool, err error) {
	v, ok := s.venues[venueName]
	if !ok || ValidateKey(key) != nil {
		return false, nil // Do refuses these with the proper error
	}
	if _, used, err := s.store.Record(store.RecordID{Principal: principal, Tool: ToolPlaceOrder, Key: key}); err != nil || used {
		return false, nil
	}
	rules, err := s.marketRules(ctx, venueName, v, native)
	if err != nil {
		return true, err
	}
	return true, rules.CheckOrder(req)
}
