package polymarket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sibylmcp/sibyl"
	"github.com/sibylmcp/sibyl/venues/polymarket/clob"
)

// Production hosts.
const (
	DefaultGammaURL = "https://gamma-api.polymarket.com"
	DefaultClobURL  = "https://clob.polymarket.com"
	DefaultDataURL  = "https://data-api.polymarket.com"
)

// maxBody bounds what is read of one answer (a full Gamma page is well below).
const maxBody = 8 << 20

// Config configures a Client. Zero URLs mean the production hosts.
type Config struct {
	GammaURL, ClobURL, DataURL string
	HTTP                       *http.Client      // default: 15s timeout
	Signer                     *clob.Signer      // nil: read-only
	Credentials                *clob.Credentials // L2 credentials; nil: derive or create them with the signer
	Now                        func() time.Time  // default time.Now
}

// Client talks to Gamma, the CLOB and the Data API. It is safe for concurrent
// use.
type Client struct {
	gamma, clobURL, data string
	http                 *http.Client
	signer               *clob.Signer
	now                  func() time.Time

	mu    sync.Mutex // guards creds
	creds *clob.Credentials
}

// NewClient checks the URLs and returns a Client.
func NewClient(cfg Config) (*Client, error) {
	c := &Client{http: cfg.HTTP, signer: cfg.Signer, creds: cfg.Credentials, now: cfg.Now}
	var err error
	if c.gamma, err = baseURL(cfg.GammaURL, DefaultGammaURL); err != nil {
		return nil, err
	}
	if c.clobURL, err = baseURL(cfg.ClobURL, DefaultClobURL); err != nil {
		return nil, err
	}
	if c.data, err = baseURL(cfg.DataURL, DefaultDataURL); err != nil {
		return nil, err
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 15 * time.Second}
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

func baseURL(s, def string) (string, error) {
	if s == "" {
		return def, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return "", fmt.Errorf("base URL %q: want http(s)://host[/path] without a query", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// request is one HTTP call. path is what L2 signs (no query string).
type request struct {
	method string
	base   string
	path   string
	query  url.Values
	body   []byte
	auth   bool // send L2 headers
	l1     map[string]string
}

// venueError is the CLOB's error body.
type venueError struct {
	Error any `json:"error"`
}

// do sends r and decodes a 2xx answer into out. Errors are *sibyl.Error:
// Unavailable when the outcome is unknown (transport failure, timeout, 5xx),
// RateLimited for 429, NotFound for 404, Unauthorized for 401/403, Invalid for
// other 4xx (with the venue's message).
func (c *Client) do(ctx context.Context, r request, out any) error {
	u := r.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return sibyl.WrapError(sibyl.Internal, err, "building the Polymarket request failed")
	}
	req.Header.Set("Accept", "application/json")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.auth {
		if err := c.authorize(ctx, req, r); err != nil {
			return err
		}
	}
	for k, v := range r.l1 {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return sibyl.WrapError(sibyl.Unavailable, err, "the Polymarket request was cancelled or timed out; its outcome is unknown")
		}
		return sibyl.WrapError(sibyl.Unavailable, err, "Polymarket did not answer; the outcome is unknown")
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return sibyl.WrapError(sibyl.Unavailable, err, "the Polymarket answer was cut off; the outcome is unknown")
	}
	if resp.StatusCode/100 != 2 {
		return statusError(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return sibyl.WrapError(sibyl.Unavailable, fmt.Errorf("decoding %s %s: %w", r.method, r.path, err), "Polymarket sent an answer sibyl cannot read")
	}
	return nil
}

// venueMessage returns the venue's error text, bounded, for the agent.
func venueMessage(data []byte) string {
	var ve venueError
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &ve) == nil && ve.Error != nil {
		if s, ok := ve.Error.(string); ok {
			msg = s
		} else if b, err := json.Marshal(ve.Error); err == nil {
			msg = string(b)
		}
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return msg
}

func statusError(code int, data []byte) error {
	msg := venueMessage(data)
	cause := fmt.Errorf("HTTP %d: %s", code, msg)
	switch {
	case code == http.StatusTooManyRequests:
		return sibyl.WrapError(sibyl.RateLimited, cause, "Polymarket is rate limiting requests; retry after a pause")
	case code == http.StatusNotFound:
		return sibyl.WrapError(sibyl.NotFound, cause, "Polymarket has no such item: "+msg)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return sibyl.WrapError(sibyl.Unauthorized, cause, "Polymarket refused the credentials: "+msg)
	case code >= 500 || code == http.StatusRequestTimeout:
		return sibyl.WrapError(sibyl.Unavailable, cause, fmt.Sprintf("Polymarket failed (HTTP %d); the outcome is unknown", code))
	}
	return sibyl.WrapError(sibyl.Invalid, cause, "Polymarket refused the request: "+msg)
}

// authorize adds the L2 headers, deriving or creating credentials first when
// only the key was given.
func (c *Client) authorize(ctx context.Context, req *http.Request, r request) error {
	if c.signer == nil {
		return sibyl.Errorf(sibyl.Unauthorized, "Polymarket trading needs POLYMARKET_PRIVATE_KEY_PATH; without it Polymarket is read-only")
	}
	creds, err := c.credentials(ctx)
	if err != nil {
		return err
	}
	h, err := clob.L2Headers(c.signer.Address(), creds, c.now().Unix(), r.method, r.path, r.body)
	if err != nil {
		return sibyl.WrapError(sibyl.Unauthorized, err, "the Polymarket API secret is not valid base64")
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	return nil
}

// apiKeyAnswer is POST /auth/api-key's and GET /auth/derive-api-key's answer.
type apiKeyAnswer struct {
	APIKey     string `json:"apiKey"`
	Secret     string `json:"secret"`
	Passphrase string `json:"passphrase"`
}

// credentials returns the configured L2 credentials, or creates them with L1
// auth (POST /auth/api-key) and, when the key already has some, derives them
// (GET /auth/derive-api-key), as the official createOrDeriveApiKey does. The
// result is kept for later calls.
func (c *Client) credentials(ctx context.Context) (clob.Credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.creds != nil {
		return *c.creds, nil
	}
	var a apiKeyAnswer
	err := c.do(ctx, request{method: http.MethodPost, base: c.clobURL, path: "/auth/api-key", l1: c.signer.L1Headers(c.now().Unix(), 0)}, &a)
	if err != nil || a.APIKey == "" {
		a = apiKeyAnswer{}
		if err := c.do(ctx, request{method: http.MethodGet, base: c.clobURL, path: "/auth/derive-api-key", l1: c.signer.L1Headers(c.now().Unix(), 0)}, &a); err != nil {
			return clob.Credentials{}, err
		}
	}
	if a.APIKey == "" || a.Secret == "" {
		return clob.Credentials{}, sibyl.Errorf(sibyl.Unauthorized, "Polymarket did not return API credentials for this wallet")
	}
	creds := clob.Credentials{Key: a.APIKey, Secret: a.Secret, Passphrase: a.Passphrase}
	c.creds = &creds
	return creds, nil
}

// isNotFound reports whether err is a NotFound *sibyl.Error.
func isNotFound(err error) bool {
	var e *sibyl.Error
	return errors.As(err, &e) && e.Code == sibyl.NotFound
}
