package kalshi

import (
	"net/http"
	"testing"
)

// BenchmarkSign measures one request signature (RSA-2048 PSS), the share of
// an order's time the signing takes.
//
//	go test ./venues/kalshi -run '^$' -bench Sign
func BenchmarkSign(b *testing.B) {
	s, err := NewSigner("k", sharedKey(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.SignRequest(h, "POST", "/trade-api/v2/portfolio/events/orders"); err != nil {
			b.Fatal(err)
		}
	}
}
