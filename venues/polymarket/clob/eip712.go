package clob

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
)

// ChainID is Polygon mainnet, where Polymarket's exchanges live.
const ChainID = 137

// The exchange contracts on Polygon that verify orders (clob-client-v2 1.1.0
// MATIC_CONTRACTS).
var (
	// ExchangeV2 verifies version 2 orders of ordinary markets.
	ExchangeV2 = mustAddress("0xE111180000d2663C0091e4f400237545B87B996B")
	// NegRiskExchangeV2 verifies version 2 orders of neg-risk markets.
	NegRiskExchangeV2 = mustAddress("0xe2222d279d744050d28e00520010520000310F59")
	// ExchangeV3 verifies version 3 orders (Gamma markets whose version is "v2").
	ExchangeV3 = mustAddress("0xe3333700cA9d93003F00f0F71f8515005F6c00Aa")
)

func mustAddress(s string) Address {
	a, err := ParseAddress(s)
	if err != nil {
		panic(err)
	}
	return a
}

// exchangeName is the EIP-712 domain name of every CTF exchange version.
const exchangeName = "Polymarket CTF Exchange"

// orderTypeString is the EIP-712 type of version 2 and 3 orders. Expiration is
// not part of it: it travels in the POST body only.
const orderTypeString = "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)"

// typedDataSignTypeString is ERC-7739's wrapper type around an Order, followed by
// the referenced Order type as EIP-712 encodeType requires.
const typedDataSignTypeString = "TypedDataSign(Order contents,string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)" + orderTypeString

const domainTypeString = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"

var (
	orderTypeHash         = keccak256([]byte(orderTypeString))
	typedDataSignTypeHash = keccak256([]byte(typedDataSignTypeString))
	domainTypeHash        = keccak256([]byte(domainTypeString))
	exchangeNameHash      = keccak256([]byte(exchangeName))
	depositWalletNameHash = keccak256([]byte("DepositWallet"))
	depositWalletVerHash  = keccak256([]byte("1"))
)

// Domain is the EIP-712 domain an order is signed in.
type Domain struct {
	Version  string  // "2" or "3"
	ChainID  uint64  // 137
	Contract Address // the verifying exchange
}

// ExchangeDomain returns the domain of an order version: 2 (CTF Exchange V2, or its
// neg-risk twin when negRisk) or 3 (ExchangeV3, for Gamma markets of version
// "v2", neg-risk or not, as the official client does).
func ExchangeDomain(version int, negRisk bool) (Domain, error) {
	switch version {
	case 2:
		if negRisk {
			return Domain{Version: "2", ChainID: ChainID, Contract: NegRiskExchangeV2}, nil
		}
		return Domain{Version: "2", ChainID: ChainID, Contract: ExchangeV2}, nil
	case 3:
		return Domain{Version: "3", ChainID: ChainID, Contract: ExchangeV3}, nil
	}
	return Domain{}, fmt.Errorf("order version %d is not supported (want 2 or 3)", version)
}

// Separator returns the EIP-712 domain separator.
func (d Domain) Separator() [32]byte {
	v := keccak256([]byte(d.Version))
	return keccak256(domainTypeHash[:], exchangeNameHash[:], v[:], uint256(new(big.Int).SetUint64(d.ChainID)), d.Contract.word())
}

// Side is the order side as signed: BUY 0, SELL 1.
type Side uint8

// Order sides.
const (
	Buy  Side = 0
	Sell Side = 1
)

// String returns "BUY" or "SELL", as the POST body writes it.
func (s Side) String() string {
	if s == Sell {
		return "SELL"
	}
	return "BUY"
}

// SignatureType says who signs for the maker.
type SignatureType uint8

// Signature types.
const (
	EOA            SignatureType = 0 // the maker is the signing key's own address
	PolyProxy      SignatureType = 1 // the maker is a Polymarket proxy wallet owned by the key
	PolyGnosisSafe SignatureType = 2 // the maker is a Gnosis safe owned by the key
	Poly1271       SignatureType = 3 // the maker is a deposit wallet (ERC-1271); signer = maker, signature ERC-7739-wrapped
)

// Order is a version 2 or 3 order. Amounts are integers in units of 10^-6 (both
// pUSD and outcome tokens have 6 decimals).
type Order struct {
	Salt          uint64 // random, below 2^53 (the body writes it as a JSON number)
	Maker         Address
	Signer        Address
	TokenID       *big.Int // the outcome token (ERC-1155 position id)
	MakerAmount   uint64   // what the maker gives
	TakerAmount   uint64   // what the maker receives at least
	Side          Side
	SignatureType SignatureType
	Timestamp     uint64   // milliseconds since 1970
	Metadata      [32]byte // zero unless set
	Builder       [32]byte // builder code, zero unless set
	Expiration    uint64   // GTD expiry in seconds; 0 for none. Not signed.
}

// StructHash returns the EIP-712 hashStruct of the order (ERC-7739's "contents").
func (o Order) StructHash() [32]byte {
	tok := o.TokenID
	if tok == nil {
		tok = new(big.Int)
	}
	return keccak256(orderTypeHash[:],
		uint256(new(big.Int).SetUint64(o.Salt)), o.Maker.word(), o.Signer.word(), uint256(tok),
		uint256(new(big.Int).SetUint64(o.MakerAmount)), uint256(new(big.Int).SetUint64(o.TakerAmount)),
		uint256(big.NewInt(int64(o.Side))), uint256(big.NewInt(int64(o.SignatureType))),
		uint256(new(big.Int).SetUint64(o.Timestamp)), o.Metadata[:], o.Builder[:])
}

// Hash returns the order's EIP-712 digest in domain d: Polymarket's order id.
func (o Order) Hash(d Domain) [32]byte {
	sep := d.Separator()
	sh := o.StructHash()
	return keccak256([]byte{0x19, 0x01}, sep[:], sh[:])
}

// typedDataSignDigest is the digest a deposit wallet's owner signs for a type 3
// order: ERC-7739 TypedDataSign{contents: order, name "DepositWallet", version
// "1", chainId, verifyingContract: the wallet, salt 0} in the exchange's domain.
func (o Order) typedDataSignDigest(d Domain) [32]byte {
	contents := o.StructHash()
	var zero [32]byte
	sh := keccak256(typedDataSignTypeHash[:], contents[:], depositWalletNameHash[:], depositWalletVerHash[:],
		uint256(new(big.Int).SetUint64(d.ChainID)), o.Signer.word(), zero[:])
	sep := d.Separator()
	return keccak256([]byte{0x19, 0x01}, sep[:], sh[:])
}

// SignOrder signs o in domain d. Types 0-2 sign the order digest with the key,
// whose address must be o.Signer. Type 3 signs the ERC-7739 TypedDataSign digest
// with the wallet owner's key and appends the app domain separator, the order's
// struct hash, the order type string and its length (uint16), exactly as the
// official client does; o.Signer is the deposit wallet.
func (s *Signer) SignOrder(d Domain, o Order) ([]byte, error) {
	if o.SignatureType != Poly1271 {
		if o.Signer != s.addr {
			return nil, fmt.Errorf("order signer %s is not the key's address %s", o.Signer, s.addr)
		}
		sig := s.sign(o.Hash(d))
		return sig[:], nil
	}
	inner := s.sign(o.typedDataSignDigest(d))
	return wrap7739(inner, d, o), nil
}

func wrap7739(inner [65]byte, d Domain, o Order) []byte {
	sep := d.Separator()
	contents := o.StructHash()
	out := make([]byte, 0, 65+32+32+len(orderTypeString)+2)
	out = append(out, inner[:]...)
	out = append(out, sep[:]...)
	out = append(out, contents[:]...)
	out = append(out, orderTypeString...)
	return binary.BigEndian.AppendUint16(out, uint16(len(orderTypeString)))
}

// RecoverOrderSigner returns the address of the key that signed o in domain d.
// For types 0-2 that key's address must equal o.Signer for the order to be valid;
// for type 3 it is the deposit wallet's owner (the exchange asks the wallet o.Signer
// through ERC-1271), and the wrapped signature's separator, contents hash and type
// string are checked against o and d.
func RecoverOrderSigner(d Domain, o Order, sig []byte) (Address, error) {
	if o.SignatureType != Poly1271 {
		return Recover(o.Hash(d), sig)
	}
	n := len(orderTypeString)
	if len(sig) != 65+32+32+n+2 {
		return Address{}, fmt.Errorf("type 3 signature has %d bytes, want %d", len(sig), 65+32+32+n+2)
	}
	sep, contents := d.Separator(), o.StructHash()
	switch {
	case string(sig[65:97]) != string(sep[:]):
		return Address{}, errors.New("type 3 signature: app domain separator does not match the order's exchange")
	case string(sig[97:129]) != string(contents[:]):
		return Address{}, errors.New("type 3 signature: contents hash does not match the order")
	case string(sig[129:129+n]) != orderTypeString || int(binary.BigEndian.Uint16(sig[129+n:])) != n:
		return Address{}, errors.New("type 3 signature: wrong contents type")
	}
	return Recover(o.typedDataSignDigest(d), sig[:65])
}

// uint256 returns x's 32-byte big-endian ABI encoding. x must be non-negative and
// below 2^256.
func uint256(x *big.Int) []byte {
	var w [32]byte
	x.FillBytes(w[:])
	return w[:]
}
