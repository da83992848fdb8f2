package etcdstore

import (
	"context"
	"errors"
	"sync"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

// login keeps this instance's etcd auth token, in place of clientv3's own
// Username/Password handling, which cannot recover once the token lapses
// against an etcd 3.4 server: clientv3 sends its Authenticate request with the
// old token attached, a 3.4 server refuses any request carrying an invalid
// token (Authenticate included) with "invalid auth token", and every call then
// fails until the process restarts (TestAuthTokenExpiry; tokens lapse after
// --auth-token-ttl, 300 s by default, without a request, or on a JWT's expiry).
// Here Authenticate goes over a connection of its own that carries no token,
// and a request refused for its token is sent again once, with a new one: etcd
// refuses such a request before applying it (ErrInvalidAuthToken before the
// proposal, ErrAuthOldRevision and ErrUserEmpty when applying it), so sending
// it again cannot apply it twice.
type login struct {
	user, password string
	auth           *clientv3.Client // carries no token: only Authenticate goes over it

	mu    sync.Mutex // held while logging in, so concurrent refusals log in once
	token string     // "" while etcd's auth is off
	gen   uint64     // counts logins
}

// newLogin dials the connection for Authenticate with cfg (which must hold no
// credentials) and logs in once. The caller closes it (close).
func newLogin(ctx context.Context, cfg clientv3.Config, user, password string) (*login, error) {
	auth, err := clientv3.New(cfg)
	if err != nil {
		return nil, err
	}
	l := &login{user: user, password: password, auth: auth}
	if err := l.refresh(ctx, 0); err != nil {
		auth.Close()
		return nil, err
	}
	return l, nil
}

// refresh logs in again, unless another call did since generation gen.
func (l *login) refresh(ctx context.Context, gen uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gen != gen {
		return nil
	}
	resp, err := l.auth.Authenticate(ctx, l.user, l.password)
	switch {
	case errors.Is(err, rpctypes.ErrAuthNotEnabled):
		l.token = ""
	case err != nil:
		return err
	default:
		l.token = resp.Token
	}
	l.gen++
	return nil
}

func (l *login) current() (string, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.token, l.gen
}

func (l *login) close() { l.auth.Close() }

// dialOptions attach the token to every request and renew it on refusal.
func (l *login) dialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithPerRPCCredentials(tokenCreds{l}), grpc.WithChainUnaryInterceptor(l.unary)}
}

// unary sends a request refused for its token once more after logging in.
func (l *login) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	_, gen := l.current()
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err == nil || !tokenRefused(err) {
		return err
	}
	if lerr := l.refresh(ctx, gen); lerr != nil {
		if errors.Is(lerr, rpctypes.ErrAuthFailed) {
			return lerr // the password changed: say so, not "invalid token"
		}
		return err
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// tokenRefused reports whether etcd refused a request for its token (lapsed,
// older than the last change to users and roles, or missing) without applying it.
func tokenRefused(err error) bool {
	e := rpctypes.Error(err)
	return errors.Is(e, rpctypes.ErrInvalidAuthToken) || errors.Is(e, rpctypes.ErrAuthOldRevision) || errors.Is(e, rpctypes.ErrUserEmpty)
}

// tokenCreds puts the current token in a request's metadata.
type tokenCreds struct{ l *login }

func (c tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	tok, _ := c.l.current()
	if tok == "" {
		return nil, nil
	}
	return map[string]string{rpctypes.TokenFieldNameGRPC: tok}, nil
}

// RequireTransportSecurity is false: etcd allows passwords over plain http,
// and so does sibyl (its README says to use TLS).
func (tokenCreds) RequireTransportSecurity() bool { return false }
