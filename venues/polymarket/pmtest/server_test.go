package pmtest_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sibylmcp/sibyl/venues/polymarket/clob"
	"github.com/sibylmcp/sibyl/venues/polymarket/pmtest"
)

var creds = clob.Credentials{Key: "00000000-0000-0000-0000-000000000000", Secret: "mprcE0CZBcPTqPrppW-2FcQaMKTOwH3_JSekdvadNvg=", Passphrase: "test-passphrase"}

const cond = "0x1111111111111111111111111111111111111111111111111111111111111111"

func post(t *testing.T, url string, signer *clob.Signer, c clob.Credentials, body []byte) int {
	t.Helper()
	ts := time.Now().Unix()
	h, err := clob.L2Headers(signer.Address(), c, ts, "POST", "/order", body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), "POST", url+"/order", bytes.NewReader(body))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func order(t *testing.T, s *clob.Signer, typ clob.SignatureType, funder clob.Address, version int, maker uint64) []byte {
	t.Helper()
	rc, _ := clob.Rounding("0.01")
	m, tk, _ := clob.LimitAmounts(clob.Buy, decimal.NewFromInt(10), decimal.RequireFromString("0.3"), rc)
	if maker != 0 {
		m = maker
	}
	so, err := s.BuildOrder(clob.OrderArgs{Version: version, SignatureType: typ, Funder: funder, TokenID: "101", Side: clob.Buy,
		MakerAmount: m, TakerAmount: tk, Salt: 7, TimestampMs: uint64(time.Now().UnixMilli())})
	if err != nil {
		t.Fatal(err)
	}
	b, err := so.PostBody(creds.Key, clob.GTC, false, false)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestServerVerifies: the fake refuses what the real venue refuses — a wrong
// HMAC secret, an order whose signed amount was changed afterwards, an order
// signed for another version, a wallet the key does not own — and accepts the
// right order once.
func TestServerVerifies(t *testing.T) {
	srv := pmtest.New(creds)
	defer srv.Close()
	srv.AddMarket(pmtest.Market{ConditionID: cond, Question: "q", TokenIDs: []string{"101", "102"}})
	key, _ := clob.ParseSigner("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
	other, _ := clob.ParseSigner("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
	wallet, _ := clob.ParseAddress("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
	srv.Own(wallet, other.Address()) // the wallet is the other key's

	good := order(t, key, clob.EOA, clob.Address{}, 2, 0)
	wrong := creds
	wrong.Secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="
	if code := post(t, srv.URL, key, wrong, good); code != 401 || srv.BadAuth() != 1 {
		t.Errorf("wrong secret: HTTP %d, %d bad auth", code, srv.BadAuth())
	}
	tampered := bytes.Replace(good, []byte(`"makerAmount":"3000000"`), []byte(`"makerAmount":"3100000"`), 1)
	if bytes.Equal(tampered, good) {
		t.Fatal("tampering did not change the body")
	}
	if code := post(t, srv.URL, key, creds, tampered); code != 400 {
		t.Errorf("tampered amount: HTTP %d", code)
	}
	if code := post(t, srv.URL, key, creds, order(t, key, clob.EOA, clob.Address{}, 3, 0)); code != 400 {
		t.Errorf("version 3 order for a v1 market: HTTP %d", code)
	}
	for _, typ := range []clob.SignatureType{clob.PolyProxy, clob.PolyGnosisSafe, clob.Poly1271} {
		if code := post(t, srv.URL, key, creds, order(t, key, typ, wallet, 2, 0)); code != 400 {
			t.Errorf("type %d for a wallet the key does not own: HTTP %d", typ, code)
		}
		if code := post(t, srv.URL, other, creds, order(t, other, typ, wallet, 2, 0)); code != 200 {
			t.Errorf("type %d by the wallet's owner: HTTP %d", typ, code)
		}
	}
	if code := post(t, srv.URL, key, creds, good); code != 200 {
		t.Errorf("good order: HTTP %d", code)
	}
	if code := post(t, srv.URL, key, creds, good); code != 400 {
		t.Errorf("the same order again: HTTP %d, want a duplicate refusal", code)
	}
	if n := len(srv.Orders()); n != 4 {
		t.Errorf("%d orders accepted, want 4", n)
	}
	if got := srv.Count("POST /order"); got != 11 {
		t.Errorf("counted %d posts, want 11", got)
	}
}
