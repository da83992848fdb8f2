package etcdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// WithTLS makes the members serve clients over TLS only: https:// client URLs, a
// server certificate for 127.0.0.1 and localhost signed by a throwaway CA made for
// this cluster (ECDSA P-256, PEM files in the cluster's directory, see TLSFiles).
// Clients need not present a certificate (WithClientCertAuth requires one). Peer
// traffic between the members stays plain http on loopback.
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithClientCertAuth is WithTLS plus etcd's --client-cert-auth: a client must
// present a certificate signed by the cluster's CA (TLSFiles.ClientCert). With auth
// enabled (EnableAuth), etcd takes a request that carries no token as from the user
// the certificate's CommonName names; the client certificate here names
// ClientCertUser, which no helper creates, so such a request is refused unless the
// test adds that user.
func WithClientCertAuth() Option {
	return func(c *config) { c.tls, c.clientCertAuth = true, true }
}

// ClientCertUser is the CommonName of TLSFiles.ClientCert: the etcd user a request
// without a token is taken to be from when auth and client-cert auth are both on.
const ClientCertUser = "etcdtest-client"

// TLSFiles names the PEM files of a TLS cluster's throwaway PKI (WithTLS).
type TLSFiles struct {
	// CA is the certificate of the CA that signed everything below
	// (sibyl's --etcd-ca).
	CA string
	// ServerCert and ServerKey are every member's certificate (for 127.0.0.1,
	// ::1 and localhost) and its key.
	ServerCert, ServerKey string
	// ClientCert and ClientKey are a client certificate (CommonName
	// ClientCertUser) and its key (sibyl's --etcd-cert and --etcd-key).
	ClientCert, ClientKey string
	// OtherCA is the certificate of another CA, which signed nothing of this
	// cluster's: trusting it alone must fail the TLS handshake.
	OtherCA string
	// OtherClientCert and OtherClientKey are a client certificate signed by
	// OtherCA: a cluster with client-cert auth must refuse it.
	OtherClientCert, OtherClientKey string
}

// TLSFiles returns the cluster's PEM files; ok is false for a plain-http cluster.
func (c *Cluster) TLSFiles() (files TLSFiles, ok bool) {
	if c.pki == nil {
		return TLSFiles{}, false
	}
	return c.pki.files, true
}

// ClientTLS returns a new TLS configuration that trusts the cluster's CA and
// presents its client certificate, the one the cluster's own clients use; nil for
// a plain-http cluster.
func (c *Cluster) ClientTLS() *tls.Config {
	if c.pki == nil {
		return nil
	}
	return c.pki.clientConfig()
}

// pki is the CA, certificates and keys of a TLS cluster.
type pki struct {
	files  TLSFiles
	pool   *x509.CertPool
	client tls.Certificate
}

func (p *pki) clientConfig() *tls.Config {
	return &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.client}, MinVersion: tls.VersionTLS12}
}

// issuer is a CA that signs certificates.
type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

// newPKI makes two CAs, a server and two client certificates in dir and writes
// them as PEM files (keys readable by the owner only).
func newPKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := newCA("etcdtest CA")
	if err != nil {
		return nil, err
	}
	other, err := newCA("etcdtest other CA")
	if err != nil {
		return nil, err
	}
	f := TLSFiles{
		CA:              filepath.Join(dir, "ca.pem"),
		ServerCert:      filepath.Join(dir, "server.pem"),
		ServerKey:       filepath.Join(dir, "server-key.pem"),
		ClientCert:      filepath.Join(dir, "client.pem"),
		ClientKey:       filepath.Join(dir, "client-key.pem"),
		OtherCA:         filepath.Join(dir, "other-ca.pem"),
		OtherClientCert: filepath.Join(dir, "other-client.pem"),
		OtherClientKey:  filepath.Join(dir, "other-client-key.pem"),
	}
	if err := writePEM(f.CA, "CERTIFICATE", ca.der); err != nil {
		return nil, err
	}
	if err := writePEM(f.OtherCA, "CERTIFICATE", other.der); err != nil {
		return nil, err
	}
	// The server certificate serves clients and, for etcd's gateway dialling its
	// own gRPC server with it under --client-cert-auth, is a client one too.
	server := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "etcdtest server"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if _, err := ca.issue(server, f.ServerCert, f.ServerKey); err != nil {
		return nil, err
	}
	client := &x509.Certificate{
		Subject:     pkix.Name{CommonName: ClientCertUser},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	clientPair, err := ca.issue(client, f.ClientCert, f.ClientKey)
	if err != nil {
		return nil, err
	}
	otherClient := &x509.Certificate{
		Subject:     pkix.Name{CommonName: ClientCertUser},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if _, err := other.issue(otherClient, f.OtherClientCert, f.OtherClientKey); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return &pki{files: f, pool: pool, client: clientPair}, nil
}

func newCA(name string) (*issuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("making the test CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &issuer{cert: cert, key: key, der: der}, nil
}

// issue signs tmpl (valid a day) with a new key and writes both as PEM files.
func (ca *issuer) issue(tmpl *x509.Certificate, certPath, keyPath string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("signing %s: %w", tmpl.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writePEM(certPath, "CERTIFICATE", der); err != nil {
		return tls.Certificate{}, err
	}
	if err := writePEM(keyPath, "EC PRIVATE KEY", keyDER); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(certPath, keyPath)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

func writePEM(path, typ string, der []byte) error {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
