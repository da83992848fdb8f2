package etcdstore

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sibylmcp/sibyl/internal/etcdtest"
	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/store/storetest"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// tlsPrefixRoot is the key range the user "sibyl" may read and write on the TLS
// cluster; every store of TestTLSAndAuth lives under it.
const tlsPrefixRoot = "/tls-sibyl/"

// tlsConfig builds a client TLS configuration from PEM files, as sibyl's
// --etcd-ca, --etcd-cert and --etcd-key do (certFile "" presents none).
func tlsConfig(t *testing.T, caFile, certFile, keyFile string) *tls.Config {
	t.Helper()
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("no certificate in %s", caFile)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg
}

// openErr opens a store that must fail and returns its error and how long Open took.
func openErr(t *testing.T, o Options) (error, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	began := time.Now()
	s, err := Open(ctx, o)
	took := time.Since(began)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded, want an error")
	}
	t.Logf("Open failed after %v: %v", took.Round(time.Millisecond), err)
	return err, took
}

// roundTrip commits a bucket write and a record on s and reads both back.
func roundTrip(t *testing.T, s *Store) {
	t.Helper()
	if err := s.UpdateBucket("tls", func(b store.Bucket) error { return b.Put([]byte("k"), []byte("v")) }); err != nil {
		t.Fatalf("UpdateBucket: %v", err)
	}
	var got []byte
	if err := s.ViewBucket("tls", func(b store.Bucket) error { got = b.Get([]byte("k")); return nil }); err != nil || string(got) != "v" {
		t.Fatalf("ViewBucket: got %q, %v; want v", got, err)
	}
	rec := testRecord("tls-k")
	if err := s.Commit(func(tn store.Txn) error { return tn.PutRecord(rec) }); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if r, ok, err := s.Record(rec.ID); err != nil || !ok || r.Fingerprint != rec.Fingerprint {
		t.Fatalf("Record: %+v %v %v", r, ok, err)
	}
}

// TestTLSAndAuth runs the store against a real 3-member cluster that serves
// clients over TLS only and requires a client certificate
// (etcdtest.WithClientCertAuth). First without etcd auth: Open with the CA and
// the client certificate commits and reads; a wrong CA, no client
// certificate, a client certificate of another CA, and an http:// endpoint
// for the https port each fail Open within the dial timeout with an error that
// wraps store.ErrUnavailable and says what is wrong. Then with auth enabled
// and the user "sibyl" granted readwrite on one prefix only: the store
// conformance suite and its two-instance part pass as that user over TLS; with
// no user name, etcd takes the requests as from the user the client
// certificate names, and once that user is granted a prefix the store works
// there with the certificate alone; a wrong password, an unknown user, a prefix outside the grant, and a user
// granted nothing each fail Open with an error that is not
// store.ErrUnavailable (retrying will not help), names the problem and holds
// no password.
func TestTLSAndAuth(t *testing.T) {
	c := etcdtest.StartCluster(t, 3, etcdtest.WithClientCertAuth())
	files, _ := c.TLSFiles()
	good := tlsConfig(t, files.CA, files.ClientCert, files.ClientKey)

	t.Run("client certificate", func(t *testing.T) {
		s := mustOpen(t, c.Endpoints(), tlsPrefixRoot+"cert/", func(o *Options) { o.TLS = good.Clone() })
		roundTrip(t, s)
	})

	refused := []struct {
		name      string
		tls       *tls.Config
		endpoints []string
		check     func(error) error
	}{
		{name: "wrong CA", tls: tlsConfig(t, files.OtherCA, files.ClientCert, files.ClientKey), check: func(err error) error {
			var ua x509.UnknownAuthorityError
			if !errors.As(err, &ua) {
				return errors.New("want it to wrap x509.UnknownAuthorityError")
			}
			return nil
		}},
		{name: "no client certificate", tls: tlsConfig(t, files.CA, "", ""), check: wantsEndpointError},
		{name: "client certificate of another CA", tls: tlsConfig(t, files.CA, files.OtherClientCert, files.OtherClientKey), check: wantsEndpointError},
		{name: "http endpoint of a TLS server", endpoints: httpEndpoints(c.Endpoints()), check: wantsEndpointError},
	}
	t.Run("refused", func(t *testing.T) {
		for _, tc := range refused {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel() // each waits out the dial timeout
				eps := tc.endpoints
				if eps == nil {
					eps = c.Endpoints()
				}
				refusedOpen(t, eps, tc.tls, tc.check)
			})
		}
	})
	if t.Failed() {
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const password = "Pw-tls-sibyl-9f3e1c"
	if err := c.AddUser(ctx, "sibyl", password, tlsPrefixRoot); err != nil {
		t.Fatal(err)
	}
	if err := c.AddUser(ctx, "nobody", password+"-nobody", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.EnableAuth(ctx, "root-"+password); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	asSibyl := func(o *Options) {
		o.TLS, o.Username, o.Password, o.Logger = good.Clone(), "sibyl", password, logger
	}

	t.Run("conformance as sibyl", func(t *testing.T) {
		var prefixes sync.Map
		var seq int
		var mu sync.Mutex
		newP := func() string {
			mu.Lock()
			defer mu.Unlock()
			seq++
			return fmt.Sprintf("%sc%d/", tlsPrefixRoot, seq)
		}
		open := func(t *testing.T, prefix string, key []byte) store.Store {
			s := mustOpen(t, c.Endpoints(), prefix, asSibyl, func(o *Options) { o.AuditKey = key })
			prefixes.Store(store.Store(s), prefix)
			return s
		}
		storetest.Run(t, func(t *testing.T) store.Store { return open(t, newP(), nil) },
			storetest.WithReopen(func(t *testing.T, closed store.Store) store.Store {
				p, _ := prefixes.Load(closed)
				return open(t, p.(string), nil)
			}),
			storetest.WithAuditKey(func(t *testing.T, key []byte) store.Store { return open(t, newP(), key) }))
		storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
			p := newP()
			return open(t, p, nil), open(t, p, nil)
		})
	})

	// etcd's certificate auth: a request with no token is taken as from the
	// user the client certificate's CommonName names; once that user exists
	// with the same grant, the store works with the certificate alone.
	t.Run("certificate user without a password", func(t *testing.T) {
		if err := c.AddUser(ctx, etcdtest.ClientCertUser, "unused-"+password, tlsPrefixRoot+"cn/"); err != nil {
			t.Fatal(err)
		}
		s := mustOpen(t, c.Endpoints(), tlsPrefixRoot+"cn/", func(o *Options) { o.TLS = good.Clone() })
		roundTrip(t, s)
	})

	denied := []struct {
		name   string
		user   string
		pass   string
		prefix string
		want   error
	}{
		{"wrong password", "sibyl", password + "-wrong", tlsPrefixRoot + "d/", rpctypes.ErrAuthFailed},
		{"unknown user", "mallory", password, tlsPrefixRoot + "d/", rpctypes.ErrAuthFailed},
		{"prefix outside the grant", "sibyl", password, "/elsewhere/", rpctypes.ErrPermissionDenied},
		{"user granted nothing", "nobody", password + "-nobody", tlsPrefixRoot + "d/", rpctypes.ErrPermissionDenied},
	}
	for _, tc := range denied {
		t.Run(tc.name, func(t *testing.T) {
			err, _ := openErr(t, Options{Endpoints: c.Endpoints(), Prefix: tc.prefix, TLS: good.Clone(), Username: tc.user, Password: tc.pass,
				DialTimeout: 5 * time.Second, OpTimeout: 5 * time.Second, Logger: logger})
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want an error wrapping %v", err, tc.want)
			}
			if errors.Is(err, store.ErrUnavailable) {
				t.Errorf("got %v, which wraps store.ErrUnavailable: a retry will not help, it must not say so", err)
			}
			if !strings.Contains(err.Error(), tc.user) {
				t.Errorf("got %v, want it to name the user %s", err, tc.user)
			}
			for _, p := range []string{password, tc.pass} {
				if strings.Contains(err.Error(), p) {
					t.Errorf("the error holds a password: %v", err)
				}
			}
		})
	}
	if strings.Contains(logs.String(), password) {
		t.Errorf("the logs hold the password:\n%s", logs.String())
	}
}

// wantsEndpointError checks err names the endpoint that failed.
func wantsEndpointError(err error) error {
	var ee *EndpointError
	if !errors.As(err, &ee) {
		return errors.New("want it to wrap an *EndpointError saying why the endpoint could not be used")
	}
	return nil
}

func httpEndpoints(eps []string) []string {
	out := make([]string, len(eps))
	for i, ep := range eps {
		out[i] = "http://" + strings.TrimPrefix(ep, "https://")
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// refusedOpen opens the TLS cluster with tlsCfg on eps and checks Open fails, soon, with an error wrapping
// store.ErrUnavailable that check accepts.
func refusedOpen(t *testing.T, eps []string, tlsCfg *tls.Config, check func(error) error) {
	t.Helper()
	const dial = 2 * time.Second
	err, took := openErr(t, Options{Endpoints: eps, Prefix: tlsPrefixRoot + "x/", TLS: tlsCfg, DialTimeout: dial, OpTimeout: dial})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("got %v, want an error wrapping store.ErrUnavailable", err)
	}
	if cerr := check(err); cerr != nil {
		t.Errorf("got %v: %v", err, cerr)
	}
	// A liveness bound, not a timing assertion: Open must not hang.
	if took > 20*time.Second {
		t.Errorf("Open took %v to fail", took)
	}
}

// TestUserWithoutPassword: a user name without a password (or the reverse) is
// refused by Open before it connects, naming the user: the client would
// otherwise send no credentials at all, and etcd would take the requests as
// from whichever user the client certificate names.
func TestUserWithoutPassword(t *testing.T) {
	for _, o := range []Options{{Username: "sibyl"}, {Password: "Pw-only-3e9a"}} {
		o.Endpoints = shared.Endpoints()
		s, err := Open(context.Background(), o)
		if err == nil {
			s.Close()
			t.Fatalf("Open(user %q, password set %v) succeeded, want an error", o.Username, o.Password != "")
		}
		if o.Username != "" && !strings.Contains(err.Error(), o.Username) || o.Password != "" && strings.Contains(err.Error(), o.Password) {
			t.Errorf("got %v, want it to name the user and hold no password", err)
		}
	}
}

// TestAuthTokenExpiry: etcd's auth tokens lapse after --auth-token-ttl of
// disuse (300 s by default; 1 s here). An instance logged in as a user that
// sits idle longer than that, and longer than its own session TTL, still
// commits and reads afterwards, and its lease stayed alive: the client logs in
// again by itself and the session's keep-alives are not refused.
func TestAuthTokenExpiry(t *testing.T) {
	c := etcdtest.StartCluster(t, 1, etcdtest.WithFlags("--auth-token-ttl=1"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const password = "Pw-ttl-2b7d"
	if err := c.AddUser(ctx, "sibyl", password, "/ttl/"); err != nil {
		t.Fatal(err)
	}
	if err := c.EnableAuth(ctx, "root-"+password); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, c.Endpoints(), "/ttl/", func(o *Options) {
		o.Username, o.Password, o.SessionTTL = "sibyl", password, 2*time.Second
	})
	roundTrip(t, s)
	lease := s.lease.Load()
	time.Sleep(5 * time.Second) // idle: past the token's TTL and the session's
	if err := s.UpdateBucket("tls", func(b store.Bucket) error { return b.Put([]byte("k2"), []byte("v2")) }); err != nil {
		t.Fatalf("commit after the token lapsed: %v", err)
	}
	if !s.OwnerLive(s.Owner()) {
		t.Fatal("OwnerLive after idling: false, want true")
	}
	if got := s.lease.Load(); got != lease {
		t.Errorf("the instance lease changed from %x to %x while idle: it lapsed", lease, got)
	}
}
