package clob

import (
	"encoding/hex"
	"fmt"
	"strings"

	"golang.org/x/crypto/sha3"
)

// keccak256 is Ethereum's Keccak-256 (the pre-standard SHA-3 padding) of the
// concatenation of its arguments.
func keccak256(parts ...[]byte) [32]byte {
	h := sha3.NewLegacyKeccak256()
	for _, p := range parts {
		h.Write(p)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Address is a 20-byte Ethereum account address.
type Address [20]byte

// ParseAddress parses a 0x-prefixed 40-hex-digit address. A mixed-case address
// must carry a valid EIP-55 checksum (a typo in a funder address would send
// orders for a wallet nobody controls); all-lower or all-upper addresses are
// accepted as they are.
func ParseAddress(s string) (Address, error) {
	var a Address
	if len(s) != 42 || !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return a, fmt.Errorf("address %q: want 0x followed by 40 hex digits", s)
	}
	b, err := hex.DecodeString(s[2:])
	if err != nil {
		return a, fmt.Errorf("address %q: want 0x followed by 40 hex digits", s)
	}
	copy(a[:], b)
	body := s[2:]
	if body != strings.ToLower(body) && body != strings.ToUpper(body) && a.Hex() != "0x"+body {
		return Address{}, fmt.Errorf("address %q: bad EIP-55 checksum (want %s)", s, a.Hex())
	}
	return a, nil
}

// Hex returns the address in EIP-55 mixed-case checksum form, as the official
// client writes makers and signers into the order body.
func (a Address) Hex() string {
	low := hex.EncodeToString(a[:])
	h := keccak256([]byte(low))
	out := []byte(low)
	for i, c := range out {
		if c >= 'a' && c <= 'f' {
			nib := h[i/2]
			if i%2 == 0 {
				nib >>= 4
			}
			if nib&0x0f >= 8 {
				out[i] = c - 'a' + 'A'
			}
		}
	}
	return "0x" + string(out)
}

// String returns Hex.
func (a Address) String() string { return a.Hex() }

// IsZero reports whether a is the zero address.
func (a Address) IsZero() bool { return a == Address{} }

// word returns a left-padded to 32 bytes, its ABI encoding.
func (a Address) word() []byte {
	var w [32]byte
	copy(w[12:], a[:])
	return w[:]
}
