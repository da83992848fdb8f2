package polymarket_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/venues/polymarket"
	"github.com/sibylmcp/sibyl/venues/polymarket/clob"
	"github.com/sibylmcp/sibyl/venues/polymarket/pmtest"
	"github.com/sibylmcp/sibyl/venues/venuetest"
)

// pmFaults injects the suite's faults into the next POST /order of the fake.
type pmFaults struct{ srv *pmtest.Server }

func (f pmFaults) Inject(fl venuetest.Fault) bool {
	k, ok := map[venuetest.Fault]pmtest.FaultKind{
		venuetest.LostResponse: pmtest.DropAfter, venuetest.ServerErrorAfterAccept: pmtest.Fail5xxAfter,
		venuetest.RateLimited: pmtest.TooMany, venuetest.Timeout: pmtest.TimeoutAfter, venuetest.Slow: pmtest.Slow,
	}[fl]
	if ok {
		f.srv.Fault("POST /order", k)
	}
	return ok
}

// TestContract runs the venue contract suite against the adapter talking to
// the httptest Polymarket, which verifies the L2 HMAC of every request and
// recovers the EIP-712 signer of every order, with the suite's faults.
func TestContract(t *testing.T) {
	venuetest.Run(t, func(t *testing.T) venuetest.Harness {
		srv := pmtest.New(eoCreds)
		t.Cleanup(srv.Close)
		for i, cond := range []string{
			"0x7777777777777777777777777777777777777777777777777777777777777771",
			"0x7777777777777777777777777777777777777777777777777777777777777772",
			"0x7777777777777777777777777777777777777777777777777777777777777773",
		} {
			yes, no := []string{"701", "711", "721"}[i], []string{"702", "712", "722"}[i]
			srv.AddMarket(pmtest.Market{ConditionID: cond, Question: "Contract market " + cond[len(cond)-1:], TokenIDs: []string{yes, no}})
			srv.SetBook(yes, []pmtest.Level{{Price: "0.40", Size: "100"}, {Price: "0.39", Size: "50"}}, []pmtest.Level{{Price: "0.45", Size: "80"}, {Price: "0.47", Size: "10"}})
			srv.SetBook(no, []pmtest.Level{{Price: "0.55", Size: "80"}}, []pmtest.Level{{Price: "0.60", Size: "100"}})
		}
		signer, err := clob.ParseSigner(eoKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := polymarket.NewClient(polymarket.Config{GammaURL: srv.URL, ClobURL: srv.URL, DataURL: srv.URL, Signer: signer,
			HTTP: &http.Client{Timeout: 5 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		v, err := polymarket.New(polymarket.Options{Client: c, Wallet: &polymarket.Wallet{Signer: signer}, Live: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if srv.BadAuth() != 0 {
				t.Errorf("%d requests failed the fake's authentication", srv.BadAuth())
			}
		})
		return venuetest.Harness{Venue: v, Faults: pmFaults{srv}, Sent: func() int { return len(srv.Posts()) }}
	})
}
