package polymarket

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sibylmcp/sibyl/venues/polymarket/clob"
)

// The environment variables sibyl reads for Polymarket. The names are fixed:
// scripts, docs and tests rely on them.
const (
	EnvGammaURL      = "SIBYL_POLYMARKET_GAMMA_URL"  // Gamma base URL (default the production host)
	EnvClobURL       = "SIBYL_POLYMARKET_CLOB_URL"   // CLOB base URL
	EnvDataURL       = "SIBYL_POLYMARKET_DATA_URL"   // Data API base URL
	EnvPrivateKey    = "POLYMARKET_PRIVATE_KEY_PATH" // file holding the wallet key as 0x-hex
	EnvSignatureType = "POLYMARKET_SIGNATURE_TYPE"   // 0 EOA, 1 proxy, 2 safe, 3 deposit wallet
	EnvFunder        = "POLYMARKET_FUNDER"           // the proxy, safe or deposit wallet address
	EnvAPIKey        = "POLYMARKET_API_KEY"          // optional L2 credentials; else derived or created with the key
	EnvAPISecret     = "POLYMARKET_API_SECRET"
	EnvAPIPassphrase = "POLYMARKET_API_PASSPHRASE"
)

// Settings is Polymarket's configuration as read from the environment.
type Settings struct {
	GammaURL, ClobURL, DataURL string
	Wallet                     *Wallet           // nil: read-only
	Credentials                *clob.Credentials // nil: derive or create with the key
}

// LoadSettings reads the Polymarket variables through getenv (os.Getenv in
// production). Without POLYMARKET_PRIVATE_KEY_PATH Polymarket is read-only, and
// setting the other credential variables without it is an error (a half
// configuration would otherwise silently trade nothing). Errors name the
// variable and the path, never a key or secret.
func LoadSettings(getenv func(string) string) (Settings, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	s := Settings{GammaURL: get(EnvGammaURL), ClobURL: get(EnvClobURL), DataURL: get(EnvDataURL)}
	for k, u := range map[string]string{EnvGammaURL: s.GammaURL, EnvClobURL: s.ClobURL, EnvDataURL: s.DataURL} {
		if _, err := baseURL(u, "x"); err != nil {
			return Settings{}, fmt.Errorf("%s: %w", k, err)
		}
	}
	key, typ, funder := get(EnvPrivateKey), get(EnvSignatureType), get(EnvFunder)
	apiKey, apiSecret, apiPass := get(EnvAPIKey), getenv(EnvAPISecret), getenv(EnvAPIPassphrase)
	if key == "" {
		for _, v := range []struct{ name, val string }{{EnvSignatureType, typ}, {EnvFunder, funder}, {EnvAPIKey, apiKey}, {EnvAPISecret, apiSecret}, {EnvAPIPassphrase, apiPass}} {
			if v.val != "" {
				return Settings{}, fmt.Errorf("%s is set but %s is not: set the key file to trade on Polymarket, or none of the credentials for read-only", v.name, EnvPrivateKey)
			}
		}
		return s, nil
	}
	signer, err := clob.LoadSigner(key)
	if err != nil {
		return Settings{}, fmt.Errorf("%s: %w", EnvPrivateKey, err)
	}
	w := &Wallet{Signer: signer}
	if typ != "" {
		n, err := strconv.Atoi(typ)
		if err != nil || n < 0 || n > 3 {
			return Settings{}, fmt.Errorf("%s=%q: want 0 (EOA), 1 (proxy), 2 (Gnosis safe) or 3 (deposit wallet)", EnvSignatureType, typ)
		}
		w.SignatureType = clob.SignatureType(n)
	}
	if funder != "" {
		a, err := clob.ParseAddress(funder)
		if err != nil {
			return Settings{}, fmt.Errorf("%s: %w", EnvFunder, err)
		}
		w.Funder = a
	}
	switch {
	case w.SignatureType != clob.EOA && w.Funder.IsZero():
		return Settings{}, fmt.Errorf("%s=%d needs %s, the wallet that holds the funds", EnvSignatureType, w.SignatureType, EnvFunder)
	case w.SignatureType == clob.EOA && !w.Funder.IsZero() && w.Funder != signer.Address():
		return Settings{}, fmt.Errorf("%s is %s but signature type 0 (EOA) trades the key's own address %s: set %s to 1, 2 or 3 for a proxy, safe or deposit wallet", EnvFunder, w.Funder, signer.Address(), EnvSignatureType)
	}
	s.Wallet = w
	switch {
	case apiKey == "" && apiSecret == "" && apiPass == "":
	case apiKey == "" || apiSecret == "" || apiPass == "":
		return Settings{}, fmt.Errorf("%s, %s and %s go together: set all three, or none to derive them with the key", EnvAPIKey, EnvAPISecret, EnvAPIPassphrase)
	default:
		s.Credentials = &clob.Credentials{Key: apiKey, Secret: strings.TrimSpace(apiSecret), Passphrase: apiPass}
	}
	return s, nil
}
