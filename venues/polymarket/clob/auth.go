package clob

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"
	"strconv"
	"strings"
)

// Header names of Polymarket's L1 and L2 authentication.
const (
	HeaderAddress    = "POLY_ADDRESS"
	HeaderSignature  = "POLY_SIGNATURE"
	HeaderTimestamp  = "POLY_TIMESTAMP"
	HeaderNonce      = "POLY_NONCE"
	HeaderAPIKey     = "POLY_API_KEY"
	HeaderPassphrase = "POLY_PASSPHRASE"
)

// clobAuthMessage is the fixed text every L1 signature attests.
const clobAuthMessage = "This message attests that I control the given wallet"

var (
	clobAuthDomainTypeHash = keccak256([]byte("EIP712Domain(string name,string version,uint256 chainId)"))
	clobAuthTypeHash       = keccak256([]byte("ClobAuth(address address,string timestamp,uint256 nonce,string message)"))
)

// ClobAuthDigest returns the EIP-712 digest of ClobAuth{address, timestamp (a
// decimal string of seconds), nonce, message} in domain {ClobAuthDomain, 1,
// chainId}: what an L1 header signs.
func ClobAuthDigest(addr Address, timestamp int64, nonce uint64) [32]byte {
	name, ver := keccak256([]byte("ClobAuthDomain")), keccak256([]byte("1"))
	sep := keccak256(clobAuthDomainTypeHash[:], name[:], ver[:], uint256(big.NewInt(ChainID)))
	ts := keccak256([]byte(strconv.FormatInt(timestamp, 10)))
	msg := keccak256([]byte(clobAuthMessage))
	sh := keccak256(clobAuthTypeHash[:], addr.word(), ts[:], uint256(new(big.Int).SetUint64(nonce)), msg[:])
	return keccak256([]byte{0x19, 0x01}, sep[:], sh[:])
}

// L1Headers returns the headers that create (POST /auth/api-key) or derive
// (GET /auth/derive-api-key) API credentials: the key's ClobAuth signature.
func (s *Signer) L1Headers(timestamp int64, nonce uint64) map[string]string {
	sig := s.sign(ClobAuthDigest(s.addr, timestamp, nonce))
	return map[string]string{
		HeaderAddress:   s.addr.Hex(),
		HeaderSignature: "0x" + hex.EncodeToString(sig[:]),
		HeaderTimestamp: strconv.FormatInt(timestamp, 10),
		HeaderNonce:     strconv.FormatUint(nonce, 10),
	}
}

// Credentials are L2 API credentials. Secret and Passphrase are secrets: String
// prints the key only.
type Credentials struct {
	Key        string // the API key (a UUID), also the order body's owner
	Secret     string // base64url HMAC key
	Passphrase string
}

// String prints the API key only.
func (c Credentials) String() string { return "polymarket api key " + c.Key }

// GoString prints the API key only.
func (c Credentials) GoString() string { return c.String() }

// decodeSecret decodes a base64url (or standard base64) secret with or without
// padding, as the official client's decodeBase64Secret does.
func decodeSecret(secret string) ([]byte, error) {
	s := strings.NewReplacer("-", "+", "_", "/").Replace(secret)
	s = strings.TrimRight(s, "=")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("api secret is not base64")
	}
	return b, nil
}

// HMACSignature returns POLY_SIGNATURE for a request: HMAC-SHA256 keyed by the
// decoded secret over timestamp + method + requestPath + body (the path without
// its query string; body empty when there is none), base64url with padding.
func HMACSignature(secret string, timestamp int64, method, requestPath string, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	if len(key) == 0 {
		return "", errors.New("api secret is empty")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strconv.FormatInt(timestamp, 10) + method + requestPath))
	m.Write(body)
	return base64.URLEncoding.EncodeToString(m.Sum(nil)), nil
}

// L2Headers returns the five L2 headers for a request. addr is the key's (EOA)
// address, as the official client sends it for every signature type.
func L2Headers(addr Address, c Credentials, timestamp int64, method, requestPath string, body []byte) (map[string]string, error) {
	sig, err := HMACSignature(c.Secret, timestamp, method, requestPath, body)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		HeaderAddress:    addr.Hex(),
		HeaderSignature:  sig,
		HeaderTimestamp:  strconv.FormatInt(timestamp, 10),
		HeaderAPIKey:     c.Key,
		HeaderPassphrase: c.Passphrase,
	}, nil
}

// VerifyHMAC reports whether sig is the right POLY_SIGNATURE for the request, in
// constant time. It is what a verifying server does.
func VerifyHMAC(secret string, timestamp int64, method, requestPath string, body []byte, sig string) bool {
	want, err := HMACSignature(secret, timestamp, method, requestPath, body)
	return err == nil && hmac.Equal([]byte(want), []byte(sig))
}
