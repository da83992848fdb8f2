package clob

import (
	"testing"

	"github.com/shopspring/decimal"
)

// BenchmarkBuildOrder measures preparing one order (amounts, EIP-712 hash,
// secp256k1 signature, POST body): what PrepareOrder adds to an order before
// its claim. Type 3 signs the ERC-7739 wrapper instead.
func BenchmarkBuildOrder(b *testing.B) {
	s, err := ParseSigner(hardhatKey)
	if err != nil {
		b.Fatal(err)
	}
	funder, _ := ParseAddress("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
	rc, _ := Rounding("0.01")
	size, price := decimal.RequireFromString("33.33"), decimal.RequireFromString("0.57")
	for _, typ := range []SignatureType{EOA, Poly1271} {
		name := map[SignatureType]string{EOA: "EOA", Poly1271: "POLY_1271"}[typ]
		b.Run(name, func(b *testing.B) {
			var f Address
			if typ != EOA {
				f = funder
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				m, tk, err := LimitAmounts(Buy, size, price, rc)
				if err != nil {
					b.Fatal(err)
				}
				so, err := s.BuildOrder(OrderArgs{Version: 2, SignatureType: typ, Funder: f, TokenID: "71321045679252212594626385532706912750332728571942532289631379312455583992563",
					Side: Buy, MakerAmount: m, TakerAmount: tk, Salt: uint64(i) + 1, TimestampMs: 1700000000000})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := so.PostBody("00000000-0000-0000-0000-000000000000", GTC, false, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
