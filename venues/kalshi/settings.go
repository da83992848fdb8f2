package kalshi

import (
	"fmt"
	"os"
	"strings"
)

// The environment variables sibyl reads for Kalshi. The names are fixed:
// scripts and tests rely on them.
const (
	EnvKalshiEnv     = "SIBYL_KALSHI_ENV"        // demo (default) or prod
	EnvKalshiURL     = "SIBYL_KALSHI_URL"        // base URL override, including /trade-api/v2
	EnvAPIKeyID      = "KALSHI_API_KEY_ID"       // API key id
	EnvPrivateKeyPth = "KALSHI_PRIVATE_KEY_PATH" // PEM file of the key's RSA private key
)

// Environments.
const (
	EnvDemo = "demo"
	EnvProd = "prod"
)

// Settings is Kalshi's configuration as read from the environment.
type Settings struct {
	Env     string  // EnvDemo or EnvProd
	BaseURL string  // the API root
	Signer  *Signer // nil without credentials (read-only)
}

// Live reports whether orders would move real money (the prod exchange with
// credentials).
func (s Settings) Live() bool { return s.Env == EnvProd && s.Signer != nil }

// LoadSettings reads the Kalshi variables through getenv (os.Getenv in
// production). Credentials are both-or-neither: only one of KALSHI_API_KEY_ID
// and KALSHI_PRIVATE_KEY_PATH is an error, as is a key file that cannot be read
// or parsed. Errors name the variable and the path, never the file's content.
func LoadSettings(getenv func(string) string) (Settings, error) {
	s := Settings{Env: strings.ToLower(strings.TrimSpace(getenv(EnvKalshiEnv)))}
	switch s.Env {
	case "":
		s.Env = EnvDemo
	case EnvDemo, EnvProd:
	default:
		return Settings{}, fmt.Errorf("%s=%q: want demo or prod", EnvKalshiEnv, s.Env)
	}
	s.BaseURL = DemoURL
	if s.Env == EnvProd {
		s.BaseURL = ProdURL
	}
	if u := strings.TrimSpace(getenv(EnvKalshiURL)); u != "" {
		if _, err := NewClient(Config{BaseURL: u}); err != nil {
			return Settings{}, fmt.Errorf("%s: %w", EnvKalshiURL, err)
		}
		if !strings.HasSuffix(strings.TrimRight(u, "/"), "/trade-api/v2") {
			return Settings{}, fmt.Errorf("%s=%q: the URL must include /trade-api/v2", EnvKalshiURL, u)
		}
		s.BaseURL = strings.TrimRight(u, "/")
	}
	id, path := strings.TrimSpace(getenv(EnvAPIKeyID)), strings.TrimSpace(getenv(EnvPrivateKeyPth))
	switch {
	case id == "" && path == "":
		return s, nil
	case id == "":
		return Settings{}, fmt.Errorf("%s is set but %s is not: set both to trade on Kalshi, or neither for read-only", EnvPrivateKeyPth, EnvAPIKeyID)
	case path == "":
		return Settings{}, fmt.Errorf("%s is set but %s is not: set both to trade on Kalshi, or neither for read-only", EnvAPIKeyID, EnvPrivateKeyPth)
	}
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return Settings{}, fmt.Errorf("%s=%s: cannot read the key file: %w", EnvPrivateKeyPth, path, err)
	}
	key, err := ParsePrivateKey(pemBytes)
	if err != nil {
		return Settings{}, fmt.Errorf("%s=%s: %w", EnvPrivateKeyPth, path, err)
	}
	signer, err := NewSigner(id, key, nil)
	if err != nil {
		return Settings{}, err
	}
	s.Signer = signer
	return s, nil
}
