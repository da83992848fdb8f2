// Package redact is the policy that keeps secrets and oversized values out of
// the audit log: which argument names are secret, which string shapes are
// secrets wherever they appear, and how large a value may be before only its
// hash and length are kept.
//
// It works on values decoded by encoding/json (with or without UseNumber) and
// knows nothing of storage or of the protocol. It must never log or return a
// value it redacts.
package redact

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
)

// Redacted replaces a secret value.
const Redacted = "[redacted]"

// MaxString is the longest string value, in bytes, kept as it is; a longer one
// is replaced by Oversized's marker (its length and SHA-256), so a junk
// argument cannot grow the audit log by more than the marker.
const MaxString = 1024

// MaxElements is the most members an object or elements an array may have
// before it is replaced, whole, by Oversized's marker of its JSON encoding.
const MaxElements = 100

// Oversized returns the marker that replaces an oversized value: its length in
// bytes and the hex SHA-256 of those bytes (the string's UTF-8 bytes, or the
// compact JSON encoding, as encoding/json writes it, of an object or array
// after its own secrets were redacted), so that a copy of the value can still
// be matched against the log.
func Oversized(b []byte) string {
	sum := sha256.Sum256(b)
	return fmt.Sprintf("[oversized: %d bytes, sha256 %s]", len(b), hex.EncodeToString(sum[:]))
}

// secretParts mark a secret name wherever they appear in it (compared in lower
// case with _, -, . and spaces removed): clientsecret, apitoken, seed_phrase,
// Authorization, ...
var secretParts = []string{
	"secret", "password", "passwd", "passphrase", "token", "privkey", "privatekey",
	"apikey", "accesskey", "signingkey", "secretkey", "mnemonic", "seedphrase", "seedwords",
	"credential", "authorization", "cookie", "bearer", "jwt", "signature",
}

// secretWords mark a secret name when they are one of its words (split at
// separators and lower-to-upper case changes): "pwd", "otp", "key" (api_key,
// signingKey), and so on. As whole words only, so that "stopped" or "monkey"
// are not caught by "otp" or "key".
var secretWords = map[string]bool{
	"key": true, "keys": true, "pwd": true, "pw": true, "otp": true, "totp": true, "pin": true,
	"auth": true, "sig": true, "seed": true, "mfa": true, "2fa": true,
}

// notSecret are names that contain a secret part or word but are not secrets,
// compared in lower case with separators removed: the idempotency key and the
// ids and symbols of crypto tokens.
var notSecret = map[string]bool{
	"idempotencykey": true, "tokenid": true, "tokenids": true, "tokensymbol": true,
	"tokens": true,
}

var joiner = strings.NewReplacer("_", "", "-", "", ".", "", " ", "")

// Name reports whether an argument named name holds a secret: any name that
// contains a secret part (secret, password, token, privkey, apikey, signingkey,
// mnemonic, seedphrase, credential, authorization, cookie, bearer, jwt, ...)
// or has a secret word (key, pwd, otp, pin, auth, seed, ...), except the
// idempotency key and crypto-token ids (token_id, token_symbol).
func Name(name string) bool {
	if v, ok := nameCache.Load(name); ok {
		return v.(bool)
	}
	secret := isSecretName(name)
	// Argument names repeat (a tool's few declared names): remember them,
	// up to a bound so that made-up names cannot grow the cache.
	if nameCacheSize.Load() < maxNameCache {
		if _, loaded := nameCache.LoadOrStore(name, secret); !loaded {
			nameCacheSize.Add(1)
		}
	}
	return secret
}

// nameCache holds Name's answers for names seen before.
var (
	nameCache     sync.Map // string -> bool
	nameCacheSize atomic.Int64
)

const maxNameCache = 4096

func isSecretName(name string) bool {
	joined := joiner.Replace(strings.ToLower(name))
	if notSecret[joined] {
		return false
	}
	for _, p := range secretParts {
		if strings.Contains(joined, p) {
			return true
		}
	}
	for _, w := range words(name) {
		if secretWords[w] {
			return true
		}
	}
	// Names ending in "key" after another word, such as signingkey or
	// walletkey, written without separators.
	if strings.HasSuffix(joined, "key") || strings.HasSuffix(joined, "keys") {
		return true
	}
	return false
}

func words(name string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	prevLower := false
	for _, r := range name {
		switch {
		case r == '_' || r == '-' || r == '.' || r == ' ':
			flush()
			prevLower = false
			continue
		case unicode.IsUpper(r) && prevLower:
			flush()
		}
		cur = append(cur, r)
		prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
	}
	flush()
	return out
}

// Shapes of secret values, redacted in any argument whatever its name.
var (
	// sibyl's own API tokens: sibyl_<id>_<secret>.
	sibylToken = regexp.MustCompile(`sibyl_[0-9a-fA-F]{6,}_[A-Za-z0-9_-]{16,}`)
	// A JSON Web Token: three base64url parts, the first a JSON header.
	jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`)
	// An HTTP Authorization value.
	bearerShape = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}`)
	// A 32-byte hex private key (Ethereum/Polymarket wallets), alone in the value.
	hexKeyShape = regexp.MustCompile(`^\s*(0x)?[0-9a-fA-F]{64}\s*$`)
)

// idNames are argument names whose values are public identifiers that may look
// like a hex key (Polymarket condition ids, transaction hashes).
func idName(name string) bool {
	j := joiner.Replace(strings.ToLower(name))
	return j == "market" || j == "markets" || strings.HasSuffix(j, "id") || strings.HasSuffix(j, "ids") || strings.HasSuffix(j, "hash")
}

// SecretValue reports whether a string value held under an argument named name
// (empty for array elements) looks like a secret whatever its name: a PEM block,
// a sibyl API token, a JSON Web Token, an Authorization header value, or a
// 32-byte hex string (with or without 0x) alone in the value, unless the name
// is an identifier's (market, *_id, *_hash).
func SecretValue(name, s string) bool {
	switch {
	case strings.Contains(s, "-----BEGIN"), strings.Contains(s, "PRIVATE KEY"):
		return true
	case strings.Contains(s, "sibyl_") && sibylToken.MatchString(s):
		return true
	case strings.Contains(s, "eyJ") && jwtShape.MatchString(s):
		return true
	case (containsFold(s, "bearer") || containsFold(s, "basic")) && bearerShape.MatchString(s):
		return true
	case len(s) >= 64 && len(s) <= 80 && hexKeyShape.MatchString(s) && !idName(name):
		return true
	}
	return false
}

// Value returns v, a value decoded by encoding/json, with every secret and
// oversized value replaced, at any depth: members whose name is secret (Name)
// become "[redacted]", strings that look secret (SecretValue) too, strings
// longer than MaxString and objects or arrays with more than MaxElements
// entries become Oversized's marker. Maps and slices are changed in place.
func Value(v any) any { return value("", v) }

func value(name string, v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if Name(k) {
				v[k] = Redacted
			} else {
				v[k] = value(k, e)
			}
		}
		if len(v) > MaxElements {
			return oversizedJSON(v) // of the redacted members
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = value(name, e)
		}
		if len(v) > MaxElements {
			return oversizedJSON(v)
		}
		return v
	case string:
		if SecretValue(name, v) {
			return Redacted
		}
		if len(v) > MaxString {
			return Oversized([]byte(v))
		}
		return v
	}
	return v
}

func oversizedJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return Redacted
	}
	return Oversized(b)
}

// containsFold reports whether s contains the lower-case ASCII word w in any
// case, without allocating.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		j := 0
		for ; j < len(w); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != w[j] {
				break
			}
		}
		if j == len(w) {
			return true
		}
	}
	return false
}

// JSON returns args, a JSON document, with every secret and oversized value
// replaced by Value's policy (secret names and value shapes at any depth,
// long strings and large arrays as their length and hash). Arguments that are
// not valid JSON come back as a JSON string saying so, never as the raw bytes.
func JSON(args json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(args)) == 0 {
		return args
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return json.RawMessage(`"[redacted: arguments are not valid JSON]"`)
	}
	out, err := json.Marshal(Value(v))
	if err != nil {
		return json.RawMessage(`"[redacted: arguments could not be encoded]"`)
	}
	return out
}
