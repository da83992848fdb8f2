package kalshi

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// The request-signing headers.
const (
	HeaderKey       = "KALSHI-ACCESS-KEY"
	HeaderTimestamp = "KALSHI-ACCESS-TIMESTAMP"
	HeaderSignature = "KALSHI-ACCESS-SIGNATURE"
)

// pssSaltLength is Kalshi's RSA-PSS salt length: 32 bytes, the SHA-256 digest size.
const pssSaltLength = 32

var pssOptions = &rsa.PSSOptions{SaltLength: pssSaltLength, Hash: crypto.SHA256}

// SignedMessage returns the text Kalshi signs: the millisecond timestamp, the
// upper-case method and the path from /trade-api/v2 on, without the query.
func SignedMessage(timestamp, method, path string) string {
	return timestamp + method + path
}

// Signer signs requests with an API key id and its RSA private key. It prints
// as its key id only (String, GoString), so a Signer passed to a logger or an
// error never leaks the key.
type Signer struct {
	keyID string
	key   *rsa.PrivateKey
	now   func() time.Time
	rand  io.Reader
}

// NewSigner returns a Signer for keyID and key. now may be nil (time.Now).
func NewSigner(keyID string, key *rsa.PrivateKey, now func() time.Time) (*Signer, error) {
	if keyID == "" {
		return nil, errors.New("kalshi: empty API key id")
	}
	if key == nil {
		return nil, errors.New("kalshi: nil private key")
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{keyID: keyID, key: key, now: now, rand: rand.Reader}, nil
}

// KeyID returns the API key id the Signer signs for.
func (s *Signer) KeyID() string { return s.keyID }

// String describes the Signer without its key.
func (s *Signer) String() string {
	return "kalshi.Signer{key_id: " + s.keyID + ", private key redacted}"
}

// GoString describes the Signer without its key.
func (s *Signer) GoString() string { return s.String() }

// PublicKey returns the public half of the signing key.
func (s *Signer) PublicKey() *rsa.PublicKey { return &s.key.PublicKey }

// Sign returns the base64 RSA-PSS (SHA-256, MGF1-SHA-256, salt 32) signature of
// SignedMessage(timestamp, method, path).
func (s *Signer) Sign(timestamp, method, path string) (string, error) {
	digest := sha256.Sum256([]byte(SignedMessage(timestamp, method, path)))
	sig, err := rsa.SignPSS(s.rand, s.key, crypto.SHA256, digest[:], pssOptions)
	if err != nil {
		// The cause names no key material; keep it short anyway.
		return "", errors.New("kalshi: signing failed")
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// SignRequest sets the three KALSHI-ACCESS-* headers on h for a request with
// this method and path (path starts at /trade-api/v2; a query is stripped).
func (s *Signer) SignRequest(h http.Header, method, path string) error {
	ts := strconv.FormatInt(s.now().UnixMilli(), 10)
	sig, err := s.Sign(ts, method, stripQuery(path))
	if err != nil {
		return err
	}
	h.Set(HeaderKey, s.keyID)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, sig)
	return nil
}

func stripQuery(path string) string {
	for i := 0; i < len(path); i++ {
		if path[i] == '?' || path[i] == '#' {
			return path[:i]
		}
	}
	return path
}

// Verify checks a base64 signature of SignedMessage(timestamp, method, path)
// under pub with Kalshi's rule (RSA-PSS, SHA-256, MGF1-SHA-256, salt exactly 32).
func Verify(pub *rsa.PublicKey, timestamp, method, path, signatureB64 string) error {
	sig, err := base64.StdEncoding.DecodeString(signatureB64)
	if err != nil {
		return fmt.Errorf("kalshi: signature is not base64: %w", err)
	}
	digest := sha256.Sum256([]byte(SignedMessage(timestamp, method, path)))
	if err := rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, pssOptions); err != nil {
		return fmt.Errorf("kalshi: signature does not verify: %w", err)
	}
	return nil
}

// ParsePrivateKey reads an RSA private key from PEM (PKCS#1 "RSA PRIVATE KEY"
// or PKCS#8 "PRIVATE KEY", as Kalshi's key download gives). Its errors never
// quote the file's contents.
func ParsePrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("kalshi: the private key file holds no PEM block")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("kalshi: the PKCS#1 private key does not parse")
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("kalshi: the PKCS#8 private key does not parse")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("kalshi: the private key is not an RSA key")
		}
		return rk, nil
	}
	return nil, fmt.Errorf("kalshi: PEM block %q is not a private key", block.Type)
}

// ParsePublicKey reads an RSA public key from PEM ("PUBLIC KEY" PKIX or
// "RSA PUBLIC KEY" PKCS#1).
func ParsePublicKey(pemBytes []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("kalshi: no PEM block")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("kalshi: public key: %w", err)
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("kalshi: not an RSA public key")
		}
		return rk, nil
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	}
	return nil, fmt.Errorf("kalshi: PEM block %q is not a public key", block.Type)
}
