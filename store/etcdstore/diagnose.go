package etcdstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// EndpointError says why Open could not use etcd endpoints: the TLS handshake
// failed (the CA given does not trust the server's certificate; errors.As finds
// the x509 error), the server refused the client certificate or asked for one,
// a TLS server was given as http://, or nothing answered at all. Open wraps one
// per distinct problem, beside store.ErrUnavailable, when no endpoint answered
// in time: gRPC itself only reports that the deadline passed.
type EndpointError struct {
	// Endpoints are the URLs (without credentials) that failed this way.
	Endpoints []string
	// Problem says what is wrong, for a person.
	Problem string
	// Err is the underlying error (a *tls.CertificateVerificationError, a
	// net.OpError, ...).
	Err error
}

func (e *EndpointError) Error() string {
	return fmt.Sprintf("etcd endpoint %s: %s: %v", strings.Join(e.Endpoints, ", "), e.Problem, e.Err)
}

// Unwrap returns the underlying error.
func (e *EndpointError) Unwrap() error { return e.Err }

// probeTimeout bounds one endpoint's diagnosis.
const probeTimeout = 2 * time.Second

// reachedServer reports whether err came from an etcd server's answer (an
// auth refusal, a timeout inside etcd) rather than from never reaching one.
func reachedServer(err error) bool {
	var ee rpctypes.EtcdError
	return errors.As(err, &ee)
}

// diagnose connects to each endpoint itself, as the client would (TCP, then TLS
// with cfg for https:// and unixs://), and returns an EndpointError per distinct
// problem found; none when every endpoint looks usable (the failure was then
// elsewhere: no quorum, a slow cluster).
func diagnose(ctx context.Context, endpoints []string, cfg *tls.Config) []error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	type found struct {
		problem string
		err     error
	}
	results := make([]*found, len(endpoints))
	var wg sync.WaitGroup
	for i, ep := range endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if problem, err := probe(ctx, ep, cfg); err != nil {
				results[i] = &found{problem, err}
			}
		}()
	}
	wg.Wait()
	var errs []error
	byKey := map[string]*EndpointError{}
	for i, r := range results {
		if r == nil {
			continue
		}
		key := r.problem + "\x00" + r.err.Error()
		if e, ok := byKey[key]; ok {
			e.Endpoints = append(e.Endpoints, safeURL(endpoints[i]))
			continue
		}
		e := &EndpointError{Endpoints: []string{safeURL(endpoints[i])}, Problem: r.problem, Err: r.err}
		byKey[key] = e
		errs = append(errs, e)
	}
	return errs
}

// probe checks one endpoint and returns what is wrong with it, if anything.
func probe(ctx context.Context, endpoint string, cfg *tls.Config) (string, error) {
	network, addr, secure, host, err := splitEndpoint(endpoint)
	if err != nil {
		return "not a usable URL", err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return "cannot connect", err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if !secure {
		// A TLS server behind an http:// URL hangs up on gRPC's cleartext
		// preface; say so when it completes a TLS handshake.
		tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec // only asks whether it speaks TLS
		if tc.HandshakeContext(ctx) == nil {
			return "the server speaks TLS", errors.New("write the endpoint as https:// (and give the CA that signed its certificate)")
		}
		return "", nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg != nil {
		c = cfg.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	tc := tls.Client(conn, c)
	if err := tc.HandshakeContext(ctx); err != nil {
		return "TLS handshake failed", err
	}
	// Under TLS 1.3 a server that refuses the client's certificate (or its
	// absence) says so after the client's side of the handshake is done: the
	// first read returns its alert. A server that accepts it sends its HTTP/2
	// settings, or nothing until the deadline.
	_ = tc.SetReadDeadline(time.Now().Add(probeTimeout / 4))
	var b [1]byte
	if _, err := tc.Read(b[:]); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "", nil
		}
		if cfg == nil || len(cfg.Certificates) == 0 && cfg.GetClientCertificate == nil {
			return "the server hung up after the TLS handshake (it requires a client certificate: none was given)", err
		}
		return "the server hung up after the TLS handshake (it refused the client certificate)", err
	}
	return "", nil
}

// splitEndpoint turns an etcd client URL into what to dial.
func splitEndpoint(endpoint string) (network, addr string, secure bool, host string, err error) {
	switch {
	case strings.HasPrefix(endpoint, "unix://"), strings.HasPrefix(endpoint, "unixs://"):
		secure = strings.HasPrefix(endpoint, "unixs://")
		path := endpoint[strings.Index(endpoint, "://")+3:]
		return "unix", path, secure, "localhost", nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", "", false, "", errors.New("cannot parse it")
	}
	switch u.Scheme {
	case "http":
	case "https":
		secure = true
	default:
		return "", "", false, "", fmt.Errorf("scheme %q: want http or https", u.Scheme)
	}
	addr = u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "2379")
	}
	return "tcp", addr, secure, u.Hostname(), nil
}

// safeURL is endpoint without any user:password part.
func safeURL(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	return endpoint
}
