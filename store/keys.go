package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

const bucketAPIKeys = "api_keys" // key id -> APIKey JSON

// APIKey is an HTTP API key as stored: only a hash of its secret is kept, so the
// token is shown once, when it is created, and never again.
type APIKey struct {
	ID      string    `json:"id"`      // public, 12 hex characters; the principal of its calls is "key:<ID>"
	Name    string    `json:"name"`    // what the key is for
	Scopes  []string  `json:"scopes"`  // such as read, trade
	Created time.Time `json:"created"` // UTC
	Revoked time.Time `json:"revoked,omitzero"`
	Hash    string    `json:"hash"` // hex SHA-256 of the secret part of the token
}

// Principal returns the principal that calls made with this key act as.
func (k APIKey) Principal() string { return "key:" + k.ID }

// tokenPrefix starts every token, so a leaked one is easy to recognise and scan for.
const tokenPrefix = "sibyl_"

// ErrBadAPIKey is returned by AuthenticateAPIKey for any token that does not
// name a live key. It says no more, on purpose.
var ErrBadAPIKey = errors.New("invalid or revoked API key")

// CreateAPIKey stores a new key with the given name and scopes and returns the
// token (shown once: only its hash is stored) and the stored key.
func (s *Bolt) CreateAPIKey(name string, scopes []string, now time.Time) (token string, key APIKey, err error) {
	token, key, err = NewAPIKey(name, scopes, now)
	if err != nil {
		return "", APIKey{}, err
	}
	raw, err := json.Marshal(key)
	if err != nil {
		return "", APIKey{}, err
	}
	err = s.updateDB(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucketAPIKeys))
		if err != nil {
			return err
		}
		return b.Put([]byte(key.ID), raw)
	})
	if err != nil {
		return "", APIKey{}, fmt.Errorf("storing API key: %w", err)
	}
	return token, key, nil
}

// AuthenticateAPIKey returns the live key a token names. Any malformed, unknown
// or revoked token, or a wrong secret, gives ErrBadAPIKey; the comparison of the
// secret's hash takes constant time.
func (s *Bolt) AuthenticateAPIKey(token string) (APIKey, error) {
	id, sec, ok := ParseAPIToken(token)
	if !ok {
		return APIKey{}, ErrBadAPIKey
	}
	key, found, err := s.apiKey(id)
	if err != nil {
		return APIKey{}, err
	}
	if !found || !key.Live(sec) {
		return APIKey{}, ErrBadAPIKey
	}
	return key, nil
}

func (s *Bolt) apiKey(id string) (key APIKey, found bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAPIKeys))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(id))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &key)
	})
	return key, found, err
}

// APIKeys returns every key (revoked ones too), oldest first.
func (s *Bolt) APIKeys() ([]APIKey, error) {
	var out []APIKey
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAPIKeys))
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var k APIKey
			if err := json.Unmarshal(v, &k); err != nil {
				return err
			}
			out = append(out, k)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, err
}

// RevokeAPIKey marks a key revoked: its token stops working at once. Revoking an
// unknown id is an error; revoking twice keeps the first time.
func (s *Bolt) RevokeAPIKey(id string, now time.Time) error {
	return s.updateDB(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketAPIKeys))
		var v []byte
		if b != nil {
			v = b.Get([]byte(id))
		}
		if v == nil {
			return NoAPIKeyError(id)
		}
		var k APIKey
		if err := json.Unmarshal(v, &k); err != nil {
			return err
		}
		if !k.Revoked.IsZero() {
			return nil
		}
		k.Revoked = now.UTC()
		raw, err := json.Marshal(k)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), raw)
	})
}
