package paper

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/sibylmcp/sibyl"
)

// apply brings the memory forward by one change another instance committed
// (the keys and values it wrote, see commitShared), leaving it as load would
// build it from the store after that change (v.mu held). An error leaves the
// memory half changed: the caller reloads.
//
// Accounts come first (orders are added to their principal's account), then
// orders in id order (new ones join the books behind the ones resting), then
// the market makers' consumed liquidity. The bucket is never deleted from, so
// a change holds only puts.
func (v *Venue) apply(puts []kvPut) error {
	var accounts []*account
	var orders []*order
	mms := map[string]mmRecord{}
	for _, p := range puts {
		switch {
		case p.k == "meta":
			var m metaRecord
			if err := json.Unmarshal(p.v, &m); err != nil {
				return fmt.Errorf("decoding meta: %w", err)
			}
			if m.Seed != v.opts.Seed || m.World != nil && *m.World != *v.world {
				return &otherWorldError{fmt.Sprintf("paper state in %s was changed by an instance with other settings", v.opts.Store.Describe())}
			}
			v.st.orderSeq, v.st.fillSeq = m.OrderSeq, m.FillSeq
			v.claimed = v.claimed || m.World != nil
		case strings.HasPrefix(p.k, "a/"):
			a := &account{}
			if err := json.Unmarshal(p.v, a); err != nil {
				return fmt.Errorf("decoding %s: %w", p.k, err)
			}
			accounts = append(accounts, a)
		case strings.HasPrefix(p.k, "o/"):
			o := &order{}
			if err := json.Unmarshal(p.v, o); err != nil {
				return fmt.Errorf("decoding %s: %w", p.k, err)
			}
			orders = append(orders, o)
		case strings.HasPrefix(p.k, "m/"):
			var r mmRecord
			if err := json.Unmarshal(p.v, &r); err != nil {
				return fmt.Errorf("decoding %s: %w", p.k, err)
			}
			mms[strings.TrimPrefix(p.k, "m/")] = r
		default:
			return fmt.Errorf("unknown key %q in a change", p.k)
		}
	}
	for _, n := range accounts {
		if err := v.applyAccount(n); err != nil {
			return err
		}
	}
	sort.Slice(orders, func(i, j int) bool { return orders[i].Seq < orders[j].Seq })
	for _, n := range orders {
		if err := v.applyOrder(n); err != nil {
			return err
		}
	}
	cur, _ := v.bucketOf(v.now())
	for id, r := range mms {
		v.applyMM(id, r, cur)
	}
	return nil
}

// applyAccount replaces an account's cash and positions with n's, keeping
// its orders (which are applied on their own).
func (v *Venue) applyAccount(n *account) error {
	if n.Positions == nil {
		n.Positions = map[string]*position{}
	}
	a := v.st.accounts[n.Principal]
	if a == nil {
		n.open = map[string]*order{}
		v.st.accounts[n.Principal] = n
		a = n
	} else {
		a.Cash, a.Reserved, a.Positions = n.Cash, n.Reserved, n.Positions
	}
	for _, p := range a.Positions {
		if p.Settled {
			continue
		}
		def, ok := v.defByID(p.Market)
		if !ok {
			return fmt.Errorf("applying a change: position of %s names unknown market %s", a.Principal, p.Market)
		}
		v.market(def, true).holders[a.Principal] = struct{}{}
	}
	return nil
}

// applyOrder replaces an order with n, or adds n when it is new: an order
// that stopped resting leaves its book, one still resting keeps its place.
func (v *Venue) applyOrder(n *order) error {
	if n.Fills == nil {
		n.Fills = []sibyl.Fill{}
	}
	o := v.st.orders[n.NativeID]
	if o == nil {
		a := v.account(n.Principal, nil)
		if k := len(a.orders); k > 0 && a.orders[k-1].Seq > n.Seq {
			return fmt.Errorf("applying a change: order %s is older than %s", n.NativeID, a.orders[k-1].NativeID)
		}
		v.st.add(n, a)
		if !n.Status.Final() {
			def, ok := v.defByID(n.Native)
			if !ok {
				return fmt.Errorf("applying a change: order %s names unknown market %s", n.NativeID, n.Native)
			}
			v.book(v.market(def, true), n)
		}
		return nil
	}
	if o.Principal != n.Principal || o.Native != n.Native || o.YesBid != n.YesBid || o.Tick != n.Tick || o.Seq != n.Seq {
		return fmt.Errorf("applying a change: order %s changed its principal, market or limit", n.NativeID)
	}
	resting := !o.Status.Final()
	if resting && n.Status.Final() {
		if ms := v.st.markets[o.Native]; ms != nil {
			v.unbook(ms, o)
		} else if a := v.st.accounts[o.Principal]; a != nil {
			delete(a.open, o.NativeID)
		}
	}
	if !resting && !n.Status.Final() {
		return fmt.Errorf("applying a change: order %s was %s and is %s again", n.NativeID, o.Status, n.Status)
	}
	*o = *n
	return nil
}

// applyMM applies a market's consumed market-maker liquidity, as load does:
// the buckets already replayed, and what was used in the current bucket.
func (v *Venue) applyMM(id string, r mmRecord, cur int64) {
	ms := v.st.markets[id]
	if ms != nil && ms.synced && r.Sync > ms.syncBucket {
		ms.syncBucket = r.Sync
	}
	if r.Bucket != cur {
		return
	}
	def, ok := v.defByID(id)
	if !ok {
		return
	}
	ms = v.market(def, true)
	ms.bucket = r.Bucket
	ms.used = [2][ticks]int64{}
	for tk, n := range r.Bids {
		if tk > 0 && tk < ticks {
			ms.used[0][tk] = n
		}
	}
	for tk, n := range r.Asks {
		if tk > 0 && tk < ticks {
			ms.used[1][tk] = n
		}
	}
}
