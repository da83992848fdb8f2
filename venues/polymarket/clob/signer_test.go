package clob

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const hardhatKey = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" // public Hardhat test key

// TestSignerNeverPrintsKey formats a Signer and a struct holding one with every
// common verb, and checks neither the key nor its bare hex appears.
func TestSignerNeverPrintsKey(t *testing.T) {
	s, err := ParseSigner(hardhatKey)
	if err != nil {
		t.Fatal(err)
	}
	holder := struct {
		S     *Signer
		Creds Credentials
	}{s, Credentials{Key: "k", Secret: "c2VjcmV0LXNlY3JldA==", Passphrase: "pass-phrase-1"}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		out := fmt.Sprintf(verb, s) + fmt.Sprintf(verb, holder)
		for _, secret := range []string{hardhatKey[2:], "ac0974bec39a17e3", "c2VjcmV0LXNlY3JldA", "pass-phrase-1"} {
			if strings.Contains(strings.ToLower(out), strings.ToLower(secret)) {
				t.Errorf("%s printed a secret: %s", verb, out)
			}
		}
	}
	if !strings.Contains(s.String(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266") {
		t.Errorf("String() = %q, want the address", s.String())
	}
}

// TestLoadSignerErrorsHideKey: a malformed key file's error names the file and
// the rule, never the content.
func TestLoadSignerErrorsHideKey(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"short":   hardhatKey[:40],
		"nonhex":  "0x" + strings.Repeat("zz", 32) + hardhatKey[10:20],
		"toolong": hardhatKey + "00",
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadSigner(p)
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		if strings.Contains(err.Error(), hardhatKey[10:20]) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q leaks key material or omits the file", name, err)
		}
	}
	p := filepath.Join(dir, "good")
	if err := os.WriteFile(p, []byte("  "+hardhatKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(p)
	if err != nil || s.Address().Hex() != "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" {
		t.Fatalf("got %v, %v", s, err)
	}
}

func TestParseAddressChecksum(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", true},
		{"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", true},
		{"0xF39FD6E51AAD88F6F4CE6AB8827279CFFFB92266", true},
		{"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92267", false}, // mixed case, checksum broken by the last digit
		{"0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266", false}, // one letter's case flipped
		{"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb9226", false},
		{"f39Fd6e51aad88F6F4ce6aB8827279cffFb92266", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			a, err := ParseAddress(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("got %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && a.Hex() != "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" {
				t.Errorf("got %s", a.Hex())
			}
		})
	}
}

// TestBuildOrderRefusals: the argument checks a signer makes before signing.
func TestBuildOrderRefusals(t *testing.T) {
	s, _ := ParseSigner(hardhatKey)
	funder, _ := ParseAddress("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
	base := OrderArgs{Version: 2, TokenID: "123", MakerAmount: 1, TakerAmount: 1, Salt: 1, TimestampMs: 1}
	for name, mod := range map[string]func(*OrderArgs){
		"version 1":          func(a *OrderArgs) { a.Version = 1 },
		"type 1 no funder":   func(a *OrderArgs) { a.SignatureType = PolyProxy },
		"type 0 with funder": func(a *OrderArgs) { a.Funder = funder },
		"type 4":             func(a *OrderArgs) { a.SignatureType = 4; a.Funder = funder },
		"bad token":          func(a *OrderArgs) { a.TokenID = "0x12" },
		"salt too big":       func(a *OrderArgs) { a.Salt = 1 << 53 },
		"zero amount":        func(a *OrderArgs) { a.MakerAmount = 0 },
	} {
		a := base
		mod(&a)
		if _, err := s.BuildOrder(a); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := s.BuildOrder(base); err != nil {
		t.Fatal(err)
	}
	so, _ := s.BuildOrder(base)
	if _, err := so.PostBody("k", FOK, true, false); err == nil {
		t.Error("post-only FOK accepted")
	}
	if _, err := so.PostBody("k", "IOC", false, false); err == nil {
		t.Error("order type IOC accepted")
	}
}
