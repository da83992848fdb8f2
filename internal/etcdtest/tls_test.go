package etcdtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// tlsClient returns a client for endpoints with cfg (nil: plain), closed in cleanup.
func tlsClient(t *testing.T, cfg *tls.Config, endpoints []string, user, password string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: cfg, Logger: zap.NewNop(),
		DialTimeout: 2 * time.Second, Username: user, Password: password})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// poolOf reads a CA file into a pool.
func poolOf(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		t.Fatalf("no certificate in %s", path)
	}
	return p
}

// getErr does one linearizable Get bounded by d and returns its error.
func getErr(cli *clientv3.Client, key string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, err := cli.Get(ctx, key)
	return err
}

// TestTLSClientCertAuth: a cluster with WithClientCertAuth serves https only; its
// own client (the CA and client certificate of TLSFiles) reads and writes, and a
// member restarted comes back healthy over TLS. A client that trusts another CA, one
// that presents no certificate, one with a certificate of another CA, and a
// plain-http client to the https port are all refused. Then EnableAuth: root's
// clients (Client, the health checks, a restart) still work, a user made by AddUser
// reads and writes under its prefix and is refused outside it, a user granted
// nothing is refused everywhere, and a request carrying no token is taken as from
// the client certificate's user, who does not exist.
func TestTLSClientCertAuth(t *testing.T) {
	c := StartCluster(t, 3, WithClientCertAuth())
	files, ok := c.TLSFiles()
	if !ok {
		t.Fatal("TLSFiles: not a TLS cluster")
	}
	for _, ep := range c.Endpoints() {
		if !strings.HasPrefix(ep, "https://127.0.0.1:") {
			t.Fatalf("endpoint %s, want https://127.0.0.1:port", ep)
		}
	}
	for _, f := range []string{files.CA, files.ServerCert, files.ServerKey, files.ClientCert, files.ClientKey, files.OtherCA, files.OtherClientCert, files.OtherClientKey} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("TLS file: %v", err)
		}
	}
	cli := c.Client(t)
	mustPut(t, cli, "tls/k", "v")
	if got := mustGetValue(t, cli, "tls/k"); got != "v" {
		t.Fatalf("got %q, want v", got)
	}
	// The files are what the client uses: a config built from them works too.
	pair, err := tls.LoadX509KeyPair(files.ClientCert, files.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	fromFiles := tlsClient(t, &tls.Config{RootCAs: poolOf(t, files.CA), Certificates: []tls.Certificate{pair}}, c.Endpoints(), "", "")
	if err := getErr(fromFiles, "tls/k", 20*time.Second); err != nil {
		t.Fatalf("client from TLSFiles: %v", err)
	}

	otherPair, err := tls.LoadX509KeyPair(files.OtherClientCert, files.OtherClientKey)
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]*tls.Config{
		"trusts another CA":        {RootCAs: poolOf(t, files.OtherCA), Certificates: []tls.Certificate{pair}},
		"presents no certificate":  {RootCAs: poolOf(t, files.CA)},
		"certificate of other CA":  {RootCAs: poolOf(t, files.CA), Certificates: []tls.Certificate{otherPair}},
		"plain http to https port": nil,
	}
	t.Run("refused", func(t *testing.T) {
		for name, cfg := range refused {
			t.Run(name, func(t *testing.T) {
				t.Parallel() // each waits out its deadline
				eps := c.Endpoints()
				if cfg == nil {
					for i, ep := range eps {
						eps[i] = "http://" + strings.TrimPrefix(ep, "https://")
					}
				}
				err := getErr(tlsClient(t, cfg, eps, "", ""), "tls/k", 2*time.Second)
				if err == nil {
					t.Fatal("the Get succeeded, want it refused")
				}
				t.Logf("refused: %v", err)
			})
		}
	})

	ctx := ctxT(t, 60*time.Second)
	if err := c.Member(2).Kill(); err != nil {
		t.Fatal(err)
	}
	if err := c.Member(2).Restart(ctx); err != nil {
		t.Fatalf("restart over TLS: %v", err)
	}

	// Auth on.
	if err := c.AddUser(ctx, "app", "app-pass", "/app/"); err != nil {
		t.Fatal(err)
	}
	if err := c.EnableAuth(ctx, "root-pass"); err != nil {
		t.Fatal(err)
	}
	if err := c.AddUser(ctx, "nobody", "nobody-pass", ""); err != nil {
		t.Fatalf("AddUser after EnableAuth: %v", err)
	}
	tlsCfg := c.ClientTLS()
	app := tlsClient(t, tlsCfg, c.Endpoints(), "app", "app-pass")
	if _, err := app.Put(ctx, "/app/x", "1"); err != nil {
		t.Fatalf("app's put under its prefix: %v", err)
	}
	if _, err := app.Put(ctx, "/other/x", "1"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("app's put outside its prefix: got %v, want %v", err, rpctypes.ErrPermissionDenied)
	}
	nobody := tlsClient(t, tlsCfg, c.Endpoints(), "nobody", "nobody-pass")
	if err := getErr(nobody, "/app/x", 20*time.Second); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("nobody's get: got %v, want %v", err, rpctypes.ErrPermissionDenied)
	}
	// No token: etcd takes the request as from the certificate's user (ClientCertUser), who does not exist.
	if err := getErr(tlsClient(t, tlsCfg, c.Endpoints(), "", ""), "/app/x", 20*time.Second); err == nil {
		t.Fatal("a get without a token succeeded, want it refused")
	}
	root := c.Client(t)
	if got := mustGetValue(t, root, "/app/x"); got != "1" {
		t.Fatalf("root reads %q, want 1", got)
	}
	if err := c.Member(0).Kill(); err != nil {
		t.Fatal(err)
	}
	if err := c.Member(0).Restart(ctx); err != nil {
		t.Fatalf("restart with auth on: %v", err)
	}
	if _, err := app.Put(ctx, "/app/y", "2"); err != nil {
		t.Fatalf("app's put after a restart: %v", err)
	}
}

// TestTLSServerOnly: WithTLS alone serves https but asks for no client
// certificate, and EnableAuth works there with passwords alone.
func TestTLSServerOnly(t *testing.T) {
	c := StartCluster(t, 1, WithTLS())
	files, _ := c.TLSFiles()
	anon := tlsClient(t, &tls.Config{RootCAs: poolOf(t, files.CA)}, c.Endpoints(), "", "")
	ctx := ctxT(t, 30*time.Second)
	if _, err := anon.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("put without a client certificate: %v", err)
	}
	if err := c.AddUser(ctx, "app", "app-pass", "/app/"); err != nil {
		t.Fatal(err)
	}
	if err := c.EnableAuth(ctx, "root-pass"); err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Put(ctx, "/app/k", "v"); !errors.Is(err, rpctypes.ErrUserEmpty) && !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Fatalf("put without a user after EnableAuth: got %v, want refused", err)
	}
	app := tlsClient(t, &tls.Config{RootCAs: poolOf(t, files.CA)}, c.Endpoints(), "app", "app-pass")
	if _, err := app.Put(ctx, "/app/k", "v"); err != nil {
		t.Fatalf("app's put: %v", err)
	}
	if got := mustGetValue(t, c.Client(t), "/app/k"); got != "v" {
		t.Fatalf("root reads %q, want v", got)
	}
}
