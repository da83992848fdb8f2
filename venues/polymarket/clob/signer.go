package clob

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// Signer holds a wallet's secp256k1 private key and signs digests with it. The key
// never leaves it: no method returns it, and every fmt verb prints only the
// address. Its zero value is not usable; make one with LoadSigner or ParseSigner.
type Signer struct {
	key  *secp256k1.PrivateKey
	addr Address
}

// errKeyFormat never quotes the key material: a malformed key file must not put
// the secret (or most of it) into an error message.
var errKeyFormat = errors.New("want 0x followed by 64 hex digits")

// ParseSigner makes a Signer from a 0x-prefixed (or bare) 64-hex-digit key.
// The error never contains the key.
func ParseSigner(hexKey string) (*Signer, error) {
	s := strings.TrimSpace(hexKey)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if len(s) != 64 {
		return nil, errKeyFormat
	}
	raw, err := hex.DecodeString(s)
	if err != nil {
		return nil, errKeyFormat
	}
	defer clear(raw)
	var scalar secp256k1.ModNScalar
	if overflow := scalar.SetByteSlice(raw); overflow || scalar.IsZero() {
		return nil, errors.New("not a valid secp256k1 private key")
	}
	key := secp256k1.NewPrivateKey(&scalar)
	return &Signer{key: key, addr: pubAddress(key.PubKey())}, nil
}

// LoadSigner reads a file holding a 0x-hex private key (surrounding whitespace
// ignored) and makes a Signer. Errors name the file, never its content.
func LoadSigner(path string) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading private key file: %w", err)
	}
	defer clear(data)
	s, err := ParseSigner(string(bytes.TrimSpace(data)))
	if err != nil {
		return nil, fmt.Errorf("private key file %s: %w", path, err)
	}
	return s, nil
}

// Address returns the signer's (EOA) address.
func (s *Signer) Address() Address { return s.addr }

// String prints the address only.
func (s *Signer) String() string { return "polymarket signer " + s.addr.Hex() }

// GoString prints the address only.
func (s *Signer) GoString() string { return s.String() }

// Format prints the address only, whatever the verb, so %v, %+v and %#v of a
// struct holding a Signer cannot print the key.
func (s *Signer) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }

// sign signs a 32-byte digest and returns Ethereum's 65-byte r || s || v
// signature with v = 27 or 28 (deterministic RFC 6979 nonces, low s).
func (s *Signer) sign(digest [32]byte) [65]byte {
	compact := ecdsa.SignCompact(s.key, digest[:], false) // [27+recid] || r || s
	var out [65]byte
	copy(out[:64], compact[1:])
	out[64] = compact[0]
	return out
}

// Recover returns the address whose key made sig (65 bytes r || s || v, v 27/28
// or 0/1) over digest.
func Recover(digest [32]byte, sig []byte) (Address, error) {
	if len(sig) != 65 {
		return Address{}, fmt.Errorf("signature has %d bytes, want 65", len(sig))
	}
	v := sig[64]
	if v < 27 {
		v += 27
	}
	if v != 27 && v != 28 {
		return Address{}, fmt.Errorf("signature v = %d, want 27 or 28", sig[64])
	}
	compact := make([]byte, 65)
	compact[0] = v
	copy(compact[1:], sig[:64])
	pub, _, err := ecdsa.RecoverCompact(compact, digest[:])
	if err != nil {
		return Address{}, fmt.Errorf("recovering signer: %w", err)
	}
	return pubAddress(pub), nil
}

// pubAddress is the last 20 bytes of the Keccak-256 of the uncompressed public key
// without its 0x04 prefix.
func pubAddress(pub *secp256k1.PublicKey) Address {
	h := keccak256(pub.SerializeUncompressed()[1:])
	var a Address
	copy(a[:], h[12:])
	return a
}
