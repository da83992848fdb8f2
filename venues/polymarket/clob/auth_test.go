package clob

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

type authVectors struct {
	L2 struct {
		Secret     string `json:"secret_base64url"`
		APIKey     string `json:"apiKey"`
		Passphrase string `json:"passphrase"`
		Timestamp  int64  `json:"timestamp"`
		Cases      []struct {
			Method      string  `json:"method"`
			RequestPath string  `json:"requestPath"`
			Body        *string `json:"body"`
			Signature   string  `json:"POLY_SIGNATURE"`
		} `json:"cases"`
		Full map[string]string `json:"fullHeaders_POST_order"`
	} `json:"l2HmacVectors"`
	L1 struct {
		Message struct {
			Address   string `json:"address"`
			Timestamp string `json:"timestamp"`
			Nonce     uint64 `json:"nonce"`
			Message   string `json:"message"`
		} `json:"message"`
		Digest    string            `json:"digest"`
		Signature string            `json:"POLY_SIGNATURE"`
		Headers   map[string]string `json:"headers"`
	} `json:"l1ClobAuthVector"`
	OrderVectors []struct {
		Input struct {
			PrivateKey string `json:"privateKey"`
		} `json:"input"`
	} `json:"orderVectors"`
}

func loadAuthVectors(t *testing.T) authVectors {
	t.Helper()
	data, err := os.ReadFile(sharedTestdata(t, "venues/polymarket-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var av authVectors
	if err := json.Unmarshal(data, &av); err != nil {
		t.Fatal(err)
	}
	return av
}

// TestL2HMACVectors reproduces every L2 HMAC of polymarket-vectors.json and the
// full header set of its POST /order case, and checks VerifyHMAC accepts them and
// refuses a changed body.
func TestL2HMACVectors(t *testing.T) {
	av := loadAuthVectors(t)
	l2 := av.L2
	if len(l2.Cases) == 0 {
		t.Fatal("no L2 cases")
	}
	for _, c := range l2.Cases {
		t.Run(c.Method+" "+c.RequestPath, func(t *testing.T) {
			var body []byte
			if c.Body != nil {
				body = []byte(*c.Body)
			}
			got, err := HMACSignature(l2.Secret, l2.Timestamp, c.Method, c.RequestPath, body)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.Signature {
				t.Errorf("POLY_SIGNATURE: got %s, want %s", got, c.Signature)
			}
			if !VerifyHMAC(l2.Secret, l2.Timestamp, c.Method, c.RequestPath, body, c.Signature) {
				t.Error("VerifyHMAC refused the vector")
			}
			if VerifyHMAC(l2.Secret, l2.Timestamp, c.Method, c.RequestPath, append(body, ' '), c.Signature) {
				t.Error("VerifyHMAC accepted a changed body")
			}
			if VerifyHMAC(l2.Secret, l2.Timestamp+1, c.Method, c.RequestPath, body, c.Signature) {
				t.Error("VerifyHMAC accepted a changed timestamp")
			}
		})
	}
	signer, err := ParseSigner(av.OrderVectors[0].Input.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	h, err := L2Headers(signer.Address(), Credentials{Key: l2.APIKey, Secret: l2.Secret, Passphrase: l2.Passphrase},
		l2.Timestamp, "POST", "/order", []byte(*l2.Cases[0].Body))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range l2.Full {
		if h[k] != want {
			t.Errorf("%s: got %q, want %q", k, h[k], want)
		}
	}
}

// TestL1ClobAuthVector reproduces the ClobAuth digest, signature and headers.
func TestL1ClobAuthVector(t *testing.T) {
	av := loadAuthVectors(t)
	l1 := av.L1
	signer, err := ParseSigner(av.OrderVectors[0].Input.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if signer.Address().Hex() != l1.Message.Address || l1.Message.Message != clobAuthMessage {
		t.Fatalf("vector is for %s / %q", l1.Message.Address, l1.Message.Message)
	}
	ts := int64(1700000000)
	if l1.Message.Timestamp != "1700000000" {
		t.Fatalf("vector timestamp %s", l1.Message.Timestamp)
	}
	d := ClobAuthDigest(signer.Address(), ts, l1.Message.Nonce)
	if got := "0x" + hex.EncodeToString(d[:]); got != l1.Digest {
		t.Errorf("digest: got %s, want %s", got, l1.Digest)
	}
	h := signer.L1Headers(ts, l1.Message.Nonce)
	for k, want := range l1.Headers {
		if h[k] != want {
			t.Errorf("%s: got %q, want %q", k, h[k], want)
		}
	}
	if len(h) != len(l1.Headers) {
		t.Errorf("got %d headers, want %d", len(h), len(l1.Headers))
	}
	sig, _ := hex.DecodeString(l1.Signature[2:])
	rec, err := Recover(d, sig)
	if err != nil || rec != signer.Address() {
		t.Errorf("recover: got %s, %v; want %s", rec, err, signer.Address())
	}
}
