package etcdstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/sibylmcp/sibyl/store"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func errorsIsUnavailable(err error) bool { return errors.Is(err, store.ErrUnavailable) }

func (s *Store) apiKeyKey(id string) string { return s.prefix + keyAPIKeys + id }

// CreateAPIKey stores a new key (only its hash) and returns its token, shown
// once. Every instance authenticates it from then on.
func (s *Store) CreateAPIKey(name string, scopes []string, now time.Time) (string, store.APIKey, error) {
	token, key, err := store.NewAPIKey(name, scopes, now)
	if err != nil {
		return "", store.APIKey{}, err
	}
	raw, err := json.Marshal(key)
	if err != nil {
		return "", store.APIKey{}, err
	}
	err = s.Commit(func(tn store.Txn) error {
		t := tn.(*etcdTxn).t
		if _, ok, err := t.get(s.apiKeyKey(key.ID)); err != nil {
			return err
		} else if ok {
			return errors.New("etcdstore: API key id collision; try again")
		}
		return t.put(s.apiKeyKey(key.ID), raw)
	})
	if err != nil {
		return "", store.APIKey{}, fmt.Errorf("storing API key: %w", err)
	}
	return token, key, nil
}

// AuthenticateAPIKey returns the live key a token names, or
// store.ErrBadAPIKey (or an error wrapping store.ErrUnavailable when etcd
// cannot be read).
func (s *Store) AuthenticateAPIKey(token string) (store.APIKey, error) {
	if err := s.checkOpen(); err != nil {
		return store.APIKey{}, err
	}
	id, sec, ok := store.ParseAPIToken(token)
	if !ok {
		return store.APIKey{}, store.ErrBadAPIKey
	}
	ctx, cancel := s.opCtx()
	resp, err := s.cli.Get(ctx, s.apiKeyKey(id))
	cancel()
	if err != nil {
		return store.APIKey{}, s.etcdErr("reading an API key", err)
	}
	if len(resp.Kvs) == 0 {
		return store.APIKey{}, store.ErrBadAPIKey
	}
	var key store.APIKey
	if err := json.Unmarshal(resp.Kvs[0].Value, &key); err != nil {
		return store.APIKey{}, fmt.Errorf("decoding API key: %w", err)
	}
	if !key.Live(sec) {
		return store.APIKey{}, store.ErrBadAPIKey
	}
	return key, nil
}

// APIKeys returns every key (revoked ones too), oldest first.
func (s *Store) APIKeys() ([]store.APIKey, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	ctx, cancel := s.opCtx()
	resp, err := s.cli.Get(ctx, s.prefix+keyAPIKeys, clientv3.WithPrefix())
	cancel()
	if err != nil {
		return nil, s.etcdErr("reading API keys", err)
	}
	var out []store.APIKey
	for _, kv := range resp.Kvs {
		var k store.APIKey
		if err := json.Unmarshal(kv.Value, &k); err != nil {
			return nil, fmt.Errorf("decoding API key: %w", err)
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// RevokeAPIKey marks a key revoked: its token stops working on every
// instance at once. Revoking an unknown id is an error; revoking twice keeps
// the first time.
func (s *Store) RevokeAPIKey(id string, now time.Time) error {
	return s.Commit(func(tn store.Txn) error {
		t := tn.(*etcdTxn).t
		v, ok, err := t.get(s.apiKeyKey(id))
		if err != nil {
			return err
		}
		if !ok {
			return store.NoAPIKeyError(id)
		}
		var k store.APIKey
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
		return t.put(s.apiKeyKey(id), raw)
	})
}
