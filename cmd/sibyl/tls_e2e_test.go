package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// testCert makes a self-signed certificate for 127.0.0.1 named cn and returns
// its PEM certificate and key.
func testCert(t *testing.T, cn string, serial int64) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), cert
}

// servedCN dials addr trusting pool and returns the served certificate's name.
func servedCN(addr string, pool *x509.CertPool) (string, error) {
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
}

// TestTLSWithSIGHUPRotation: sibyl serve --http with --tls-cert/--tls-key; the
// official SDK client connects over HTTPS; a new certificate written to the
// same files is served after SIGHUP, while the session made before it goes on
// working; a broken file at the next SIGHUP keeps the last good certificate.
func TestTLSWithSIGHUPRotation(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certA, keyA, a := testCert(t, "sibyl-a", 1)
	certB, keyB, b := testCert(t, "sibyl-b", 2)
	write := func(c, k []byte) {
		if err := os.WriteFile(certFile, c, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, k, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(certA, keyA)

	cmd := exec.Command(sibylBin, "serve", "--http", "127.0.0.1:0", "--data-dir", t.TempDir(), "--tls-cert", certFile, "--tls-key", keyFile)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`https://127\.0\.0\.1:\d+/mcp`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if u := re.FindString(sc.Text()); u != "" {
				found <- u
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	var url string
	select {
	case url = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("sibyl serve --tls-cert printed no https endpoint within 30s")
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "https://"), "/mcp")

	pool := func(certs ...*x509.Certificate) *x509.CertPool {
		p := x509.NewCertPool()
		for _, c := range certs {
			p.AddCert(c)
		}
		return p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	connect := func(p *x509.CertPool) (*sdk.ClientSession, error) {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p}}}
		c := sdk.NewClient(&sdk.Implementation{Name: "tls", Version: "1"}, nil)
		return c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: url, HTTPClient: hc, MaxRetries: -1},
			&sdk.ClientSessionOptions{ProtocolVersion: "2025-06-18"})
	}
	listVenues := func(cs *sdk.ClientSession) {
		t.Helper()
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "list_venues", Arguments: map[string]any{}})
		if err != nil || res.IsError {
			t.Fatalf("list_venues over HTTPS: %v %s", err, text(res))
		}
	}
	if _, err := connect(pool(b)); err == nil {
		t.Fatal("a client that trusts only B connected while A is served")
	}
	csA, err := connect(pool(a))
	if err != nil {
		t.Fatalf("the SDK client over HTTPS: %v", err)
	}
	defer csA.Close()
	listVenues(csA)
	if cn, err := servedCN(addr, pool(a, b)); err != nil || cn != "sibyl-a" {
		t.Fatalf("served certificate: got %q (%v), want sibyl-a", cn, err)
	}

	write(certB, keyB)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var cn string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cn, err = servedCN(addr, pool(a, b)); err == nil && cn == "sibyl-b" {
			break
		}
	}
	if cn != "sibyl-b" {
		t.Fatalf("after SIGHUP: served %q (%v), want sibyl-b", cn, err)
	}
	listVenues(csA) // the session made before the rotation goes on
	csB, err := connect(pool(b))
	if err != nil {
		t.Fatalf("a client that trusts only B after the rotation: %v", err)
	}
	defer csB.Close()
	listVenues(csB)

	// A broken file: the reload fails, the last good certificate stays.
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the signal be handled (the assertion is on what is served, not on time)
	if cn, err := servedCN(addr, pool(b)); err != nil || cn != "sibyl-b" {
		t.Errorf("after a SIGHUP with a broken file: served %q (%v), want sibyl-b still", cn, err)
	}
	listVenues(csB)
	if cmd.ProcessState != nil {
		t.Error("the server exited")
	}
}
