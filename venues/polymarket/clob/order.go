package clob

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
)

// maxSalt keeps salts exact as JSON numbers (the official client writes
// parseInt(salt)); Math.round(Math.random()*Date.now()) stays below it too.
const maxSalt = 1 << 53

// OrderArgs is what BuildOrder needs beyond the key: everything that is fixed
// when the order is prepared (salt and timestamp included, so the signed order
// can be stored and resent byte for byte).
type OrderArgs struct {
	Version       int           // 2 or 3 (3 for Gamma markets of version "v2")
	NegRisk       bool          // the market is neg-risk (version 2 only changes the exchange)
	SignatureType SignatureType // 0-3
	Funder        Address       // the proxy, safe or deposit wallet; zero for type 0
	TokenID       string        // outcome token id, decimal
	Side          Side
	MakerAmount   uint64 // from LimitAmounts or MarketAmounts
	TakerAmount   uint64
	Expiration    uint64 // seconds; 0 unless GTD
	Salt          uint64 // below 2^53
	TimestampMs   uint64
	Metadata      [32]byte
	Builder       [32]byte
}

// SignedOrder is a signed order with the domain it was signed in.
type SignedOrder struct {
	Order
	Domain    Domain
	Signature []byte
}

// ID returns the order's hash in 0x-hex, the id Polymarket gives the order.
func (s SignedOrder) ID() string {
	h := s.Hash(s.Domain)
	return "0x" + hex.EncodeToString(h[:])
}

// BuildOrder makes and signs an order as the official client's createOrder does:
// maker = the funder when one is given (else the key's address), signer = the
// maker for type 3 and the key's address otherwise.
func (s *Signer) BuildOrder(a OrderArgs) (SignedOrder, error) {
	d, err := ExchangeDomain(a.Version, a.NegRisk)
	if err != nil {
		return SignedOrder{}, err
	}
	if a.SignatureType > Poly1271 {
		return SignedOrder{}, fmt.Errorf("signature type %d is not one of 0-3", a.SignatureType)
	}
	if a.SignatureType != EOA && a.Funder.IsZero() {
		return SignedOrder{}, fmt.Errorf("signature type %d needs the funder wallet's address", a.SignatureType)
	}
	if a.SignatureType == EOA && !a.Funder.IsZero() && a.Funder != s.addr {
		return SignedOrder{}, fmt.Errorf("signature type 0 (EOA) signs for the key's own address %s, not funder %s", s.addr, a.Funder)
	}
	tok, err := ParseTokenID(a.TokenID)
	if err != nil {
		return SignedOrder{}, err
	}
	if a.Salt >= maxSalt {
		return SignedOrder{}, fmt.Errorf("salt %d is not below 2^53", a.Salt)
	}
	if a.MakerAmount == 0 || a.TakerAmount == 0 {
		return SignedOrder{}, fmt.Errorf("amounts must be positive (maker %d, taker %d)", a.MakerAmount, a.TakerAmount)
	}
	maker := s.addr
	if !a.Funder.IsZero() {
		maker = a.Funder
	}
	signer := s.addr
	if a.SignatureType == Poly1271 {
		signer = maker
	}
	o := Order{
		Salt: a.Salt, Maker: maker, Signer: signer, TokenID: tok,
		MakerAmount: a.MakerAmount, TakerAmount: a.TakerAmount, Side: a.Side,
		SignatureType: a.SignatureType, Timestamp: a.TimestampMs,
		Metadata: a.Metadata, Builder: a.Builder, Expiration: a.Expiration,
	}
	sig, err := s.SignOrder(d, o)
	if err != nil {
		return SignedOrder{}, err
	}
	return SignedOrder{Order: o, Domain: d, Signature: sig}, nil
}

// ParseTokenID parses a decimal outcome token id (a uint256).
func ParseTokenID(s string) (*big.Int, error) {
	tok, ok := new(big.Int).SetString(s, 10)
	if !ok || tok.Sign() < 0 || tok.BitLen() > 256 || s == "" || s[0] == '+' || (len(s) > 1 && s[0] == '0') {
		return nil, fmt.Errorf("token id %q is not a decimal uint256", s)
	}
	return tok, nil
}

// Order types of the POST body.
const (
	GTC = "GTC" // good till cancelled
	GTD = "GTD" // good till Expiration
	FOK = "FOK" // fill all at once or nothing
	FAK = "FAK" // fill what is possible at once, cancel the rest
)

// bodyOrder is the order object of the POST body, fields in the official
// client's order (orderToJsonV2; its undefined taker is left out).
type bodyOrder struct {
	Salt          uint64 `json:"salt"`
	Maker         string `json:"maker"`
	Signer        string `json:"signer"`
	TokenID       string `json:"tokenId"`
	MakerAmount   string `json:"makerAmount"`
	TakerAmount   string `json:"takerAmount"`
	Side          string `json:"side"`
	SignatureType uint8  `json:"signatureType"`
	Timestamp     string `json:"timestamp"`
	Expiration    string `json:"expiration"`
	Metadata      string `json:"metadata"`
	Builder       string `json:"builder"`
	Signature     string `json:"signature"`
}

type body struct {
	DeferExec bool      `json:"deferExec"`
	PostOnly  bool      `json:"postOnly"`
	Order     bodyOrder `json:"order"`
	Owner     string    `json:"owner"`
	OrderType string    `json:"orderType"`
}

// PostBody returns the POST /order body exactly as the official client's
// JSON.stringify(orderToJsonV2(...)) writes it. owner is the API key. Post-only
// is refused for FOK and FAK, as the official client refuses it.
func (s SignedOrder) PostBody(owner, orderType string, postOnly, deferExec bool) ([]byte, error) {
	switch orderType {
	case GTC, GTD, FOK, FAK:
	default:
		return nil, fmt.Errorf("order type %q is not GTC, GTD, FOK or FAK", orderType)
	}
	if postOnly && (orderType == FOK || orderType == FAK) {
		return nil, fmt.Errorf("post-only is not supported for %s orders", orderType)
	}
	b := body{
		DeferExec: deferExec, PostOnly: postOnly, Owner: owner, OrderType: orderType,
		Order: bodyOrder{
			Salt: s.Salt, Maker: s.Maker.Hex(), Signer: s.Signer.Hex(), TokenID: s.TokenID.String(),
			MakerAmount: strconv.FormatUint(s.MakerAmount, 10), TakerAmount: strconv.FormatUint(s.TakerAmount, 10),
			Side: s.Side.String(), SignatureType: uint8(s.SignatureType),
			Timestamp: strconv.FormatUint(s.Timestamp, 10), Expiration: strconv.FormatUint(s.Expiration, 10),
			Metadata: "0x" + hex.EncodeToString(s.Metadata[:]), Builder: "0x" + hex.EncodeToString(s.Builder[:]),
			Signature: "0x" + hex.EncodeToString(s.Signature),
		},
	}
	return marshalJS(b)
}

// marshalJS encodes v as JSON.stringify would for the ASCII strings it holds: no
// HTML escaping, no trailing newline. Strings outside printable ASCII are
// refused, because there the two encoders differ.
func marshalJS(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	for _, c := range out {
		if c < 0x20 || c > 0x7e || c == '\\' {
			return nil, fmt.Errorf("body holds a character JSON.stringify would write differently")
		}
	}
	return out, nil
}

// ParsedBody is a POST /order body read back: the order and its options.
type ParsedBody struct {
	Order     Order
	Signature []byte
	Owner     string
	OrderType string
	PostOnly  bool
	DeferExec bool
}

// ParseBody reads a POST /order body (the inverse of PostBody). It is what a
// verifying server does before checking the signature.
func ParseBody(data []byte) (ParsedBody, error) {
	var b body
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return ParsedBody{}, fmt.Errorf("order body: %w", err)
	}
	var p ParsedBody
	var err error
	o := &p.Order
	o.Salt = b.Order.Salt
	if o.Maker, err = ParseAddress(b.Order.Maker); err != nil {
		return p, err
	}
	if o.Signer, err = ParseAddress(b.Order.Signer); err != nil {
		return p, err
	}
	if o.TokenID, err = ParseTokenID(b.Order.TokenID); err != nil {
		return p, err
	}
	for _, f := range []struct {
		s   string
		dst *uint64
	}{{b.Order.MakerAmount, &o.MakerAmount}, {b.Order.TakerAmount, &o.TakerAmount}, {b.Order.Timestamp, &o.Timestamp}, {b.Order.Expiration, &o.Expiration}} {
		if *f.dst, err = strconv.ParseUint(f.s, 10, 64); err != nil {
			return p, fmt.Errorf("order body: %q is not an unsigned integer", f.s)
		}
	}
	switch b.Order.Side {
	case "BUY":
		o.Side = Buy
	case "SELL":
		o.Side = Sell
	default:
		return p, fmt.Errorf("order body: side %q", b.Order.Side)
	}
	if b.Order.SignatureType > 3 {
		return p, fmt.Errorf("order body: signature type %d", b.Order.SignatureType)
	}
	o.SignatureType = SignatureType(b.Order.SignatureType)
	if err := decodeHex32(b.Order.Metadata, &o.Metadata); err != nil {
		return p, fmt.Errorf("order body: metadata: %w", err)
	}
	if err := decodeHex32(b.Order.Builder, &o.Builder); err != nil {
		return p, fmt.Errorf("order body: builder: %w", err)
	}
	if len(b.Order.Signature) < 2 || b.Order.Signature[:2] != "0x" {
		return p, fmt.Errorf("order body: signature is not 0x-hex")
	}
	if p.Signature, err = hex.DecodeString(b.Order.Signature[2:]); err != nil {
		return p, fmt.Errorf("order body: signature is not 0x-hex")
	}
	p.Owner, p.OrderType, p.PostOnly, p.DeferExec = b.Owner, b.OrderType, b.PostOnly, b.DeferExec
	return p, nil
}

func decodeHex32(s string, dst *[32]byte) error {
	if len(s) != 66 || s[:2] != "0x" {
		return fmt.Errorf("want 0x and 64 hex digits")
	}
	_, err := hex.Decode(dst[:], []byte(s[2:]))
	return err
}
