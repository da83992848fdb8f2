package kalshi

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

type signatureVector struct {
	PublicKeyPEM  string            `json:"public_key_pem"`
	Method        string            `json:"method"`
	Path          string            `json:"path"`
	Headers       map[string]string `json:"headers"`
	SignedMessage string            `json:"signed_message"`
}

func loadVector(t *testing.T) signatureVector {
	t.Helper()
	var v signatureVector
	if err := json.Unmarshal(readTestdata(t, "kalshi-signature.json"), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The official client's signature verifies under Verify, and nothing else
// does: a changed timestamp, method or path, or a flipped bit, fails.
func TestOfficialSignatureVector(t *testing.T) {
	v := loadVector(t)
	pub, err := ParsePublicKey([]byte(v.PublicKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	ts, sig := v.Headers[HeaderTimestamp], v.Headers[HeaderSignature]
	if got := SignedMessage(ts, v.Method, v.Path); got != v.SignedMessage {
		t.Fatalf("signed message: got %q, want %q", got, v.SignedMessage)
	}
	if err := Verify(pub, ts, v.Method, v.Path, sig); err != nil {
		t.Fatalf("official signature does not verify: %v", err)
	}
	bad := []struct{ name, ts, method, path, sig string }{
		{"timestamp", ts + "1", v.Method, v.Path, sig},
		{"method", ts, "GET", v.Path, sig},
		{"path", ts, v.Method, v.Path + "/x", sig},
		{"query signed", ts, v.Method, v.Path + "?limit=1", sig},
		{"signature", ts, v.Method, v.Path, flipBit(sig)},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			if err := Verify(pub, b.ts, b.method, b.path, b.sig); err == nil {
				t.Errorf("got nil, want a verification failure")
			}
		})
	}
}

func flipBit(b64 string) string {
	b := []byte(b64)
	if b[10] == 'A' {
		b[10] = 'B'
	} else {
		b[10] = 'A'
	}
	return string(b)
}

// Our signer's headers verify under the same rule, with the timestamp from
// the injected clock and the query string left out.
func TestSignerRoundTrip(t *testing.T) {
	key := mustKey(t)
	now := time.UnixMilli(1795749770950)
	s, err := NewSigner("test-key-id", key, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	if err := s.SignRequest(h, "POST", "/trade-api/v2/portfolio/events/orders?x=1"); err != nil {
		t.Fatal(err)
	}
	if got, want := h.Get(HeaderTimestamp), "1795749770950"; got != want {
		t.Errorf("timestamp: got %s, want %s", got, want)
	}
	if got := h.Get(HeaderKey); got != "test-key-id" {
		t.Errorf("key: got %s", got)
	}
	if err := Verify(&key.PublicKey, h.Get(HeaderTimestamp), "POST", "/trade-api/v2/portfolio/events/orders", h.Get(HeaderSignature)); err != nil {
		t.Errorf("own signature does not verify: %v", err)
	}
	// Salt length is part of the rule: a PSS signature with another salt
	// length does not verify.
	other, _ := NewSigner("k", mustKey(t), nil)
	sig, _ := other.Sign("1", "GET", "/p")
	if Verify(&key.PublicKey, "1", "GET", "/p", sig) == nil {
		t.Error("a signature by another key verified")
	}
}

// The signer's key never shows in any print form, nor in the key-parsing errors.
func TestSignerNeverPrintsKey(t *testing.T) {
	key := mustKey(t)
	s, _ := NewSigner("key-id-1", key, nil)
	der := x509.MarshalPKCS1PrivateKey(key)
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}))
	body := strings.Split(pemText, "\n")[1] // a line of the key's base64
	dText := key.D.String()[:20]
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, s)
		if strings.Contains(out, body) || strings.Contains(out, dText) {
			t.Errorf("%s prints key material: %s", format, out)
		}
		if !strings.Contains(out, "key-id-1") {
			t.Errorf("%s does not name the key id: %s", format, out)
		}
	}
	broken := strings.Replace(pemText, body, body[:len(body)-8]+"AAAAAAAA", 1)
	if _, err := ParsePrivateKey([]byte(broken)); err == nil || strings.Contains(err.Error(), body[:20]) {
		t.Errorf("broken key: got %v", err)
	}
	if k, err := ParsePrivateKey([]byte(pemText)); err != nil || !k.Equal(key) {
		t.Errorf("PKCS#1 key: got %v", err)
	}
	p8, _ := x509.MarshalPKCS8PrivateKey(key)
	if k, err := ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})); err != nil || !k.Equal(key) {
		t.Errorf("PKCS#8 key: got %v", err)
	}
	if _, err := ParsePrivateKey([]byte("not a pem")); err == nil {
		t.Error("garbage parsed as a key")
	}
}

func mustKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
