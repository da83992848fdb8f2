package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/sibylmcp/sibyl/redact"
)

// The config file (--config FILE, TOML) mirrors the flags of sibyl serve with no
// second table of options: the FlagSet is the table. A key is a flag's name
// (risk-max-order = 100, http = "127.0.0.1:7777"); a TOML table prefixes its
// keys with its name and a dash ([risk] max-order = 100 is risk-max-order).
// Precedence: a flag on the command line, then its environment variable (the
// [SIBYL_...] at the end of its usage), then the file, then the default.
//
// So a flag added to sibyl serve (fs.StringVar(&x, "name", envString("SIBYL_NAME",
// def), "usage `PLACEHOLDER` [SIBYL_NAME]")) is at once a config key, shown by
// --print-config, with no other change. Two rules keep secrets out of the file:
// a key whose name looks secret (redact.Name: key, token, secret, password,
// ...) is refused unless its flag takes a path (its usage placeholder is FILE,
// DIR, PATH, URL or ADDR, as for --tls-key FILE) or a number or switch, and a value holding
// a PEM block is refused.
// Secrets come from the environment only (envSecrets lists them for
// --print-config).

// envSecrets are the environment variables that hold secrets. --print-config
// says whether each is set, never its value. Add a venue's credentials here.
var envSecrets = []string{"SIBYL_AUDIT_KEY", "SIBYL_ETCD_PASSWORD", "TOKEN_METRICS_API_KEY", "COINGECKO_API_KEY"}

// notInConfig are flags that make no sense in the file.
var notInConfig = map[string]bool{"config": true, "print-config": true, "help": true, "h": true}

// envOfUsage finds a flag's environment variable at the end of its usage.
var envOfUsage = regexp.MustCompile(`\[([A-Z][A-Z0-9_]*)\]\s*$`)

// envOf returns the environment variable of f, or "".
func envOf(f *flag.Flag) string {
	if m := envOfUsage.FindStringSubmatch(f.Usage); m != nil {
		return m[1]
	}
	return ""
}

// takesPath reports whether f's value says where something is (its usage
// placeholder is FILE, DIR, PATH, URL or ADDR): it may name a secret's place
// without being one.
func takesPath(f *flag.Flag) bool {
	name, _ := flag.UnquoteUsage(f)
	switch name {
	case "FILE", "DIR", "PATH", "URL", "ADDR":
		return true
	}
	return false
}

// secretFlag reports whether a flag (or config key) called name would hold a
// secret itself: its name looks secret (redact.Name) and its value is text that
// is not a path. A number or a switch (such as --seed, the paper world's public
// seed) is never a secret.
func secretFlag(name string, f *flag.Flag) bool {
	if f != nil {
		if takesPath(f) {
			return false
		}
		if g, ok := f.Value.(flag.Getter); ok {
			switch g.Get().(type) {
			case bool, int, int64, uint, uint64, float64:
				return false
			}
		}
	}
	return redact.Name(name)
}

// configPath returns the --config value in args (the flag package has not parsed
// them yet), else SIBYL_CONFIG.
func configPath(args []string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, p := range []string{"-config", "--config"} {
			if a == p && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, p+"="); ok {
				return v
			}
		}
	}
	return os.Getenv("SIBYL_CONFIG")
}

// loadConfig applies the config file named by --config or SIBYL_CONFIG (if any)
// to fs, whose flags must all be defined. A key whose flag's environment
// variable is set is left to the environment; the command line, parsed after,
// wins over both.
func (o *opsFlags) loadConfig(fs *flag.FlagSet, args []string) error {
	o.fromConfig = map[string]bool{}
	path := configPath(args)
	if path == "" {
		return nil
	}
	var raw map[string]any
	if _, err := toml.DecodeFile(path, &raw); err != nil {
		return fmt.Errorf("--config %s: %w", path, err)
	}
	flat := map[string]any{}
	if err := flatten("", raw, flat); err != nil {
		return fmt.Errorf("--config %s: %w", path, err)
	}
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f := fs.Lookup(k)
		if secretFlag(k, f) {
			return fmt.Errorf("--config %s: %q looks like a secret, and the config file holds no secrets: set it in the environment, or give the path of a file that holds it", path, k)
		}
		if f == nil || notInConfig[k] {
			return fmt.Errorf("--config %s: unknown key %q; keys are the flags of 'sibyl serve --help' without the dashes (such as http, data-dir, risk-max-order)", path, k)
		}
		val, err := configValue(flat[k])
		if err != nil {
			return fmt.Errorf("--config %s: %s: %w", path, k, err)
		}
		if strings.Contains(val, "-----BEGIN") {
			return fmt.Errorf("--config %s: %s holds a PEM block; the config file holds no secrets: give the path of the file instead", path, k)
		}
		if u, err := url.Parse(val); err == nil && u.User != nil && u.Host != "" {
			return fmt.Errorf("--config %s: %s holds a URL with credentials; the config file holds no secrets", path, k)
		}
		if env := envOf(f); env != "" && os.Getenv(env) != "" {
			continue // the environment wins
		}
		if err := fs.Set(k, val); err != nil {
			return fmt.Errorf("--config %s: %s = %q: %w", path, k, val, err)
		}
		o.fromConfig[k] = true
	}
	return nil
}

// flatten turns nested TOML tables into dash-joined keys.
func flatten(prefix string, in map[string]any, out map[string]any) error {
	for k, v := range in {
		if prefix != "" {
			k = prefix + "-" + k
		}
		if t, ok := v.(map[string]any); ok {
			if err := flatten(k, t, out); err != nil {
				return err
			}
			continue
		}
		out[k] = v
	}
	return nil
}

// configValue renders a TOML value as a flag's text: strings, numbers and
// booleans as they are, arrays of them comma-joined (for list flags).
func configValue(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := configValue(e)
			if err != nil || strings.Contains(s, ",") {
				return "", fmt.Errorf("want a list of plain values")
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	default:
		return "", fmt.Errorf("a %T is not a flag value; want a string, number, boolean or list", v)
	}
}

// print writes the effective configuration as TOML that --config accepts, each
// value with where it came from; secret values are masked, and secrets in the
// environment are named with "set" or "not set".
func (o *opsFlags) print(fs *flag.FlagSet, w io.Writer) error {
	onLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) {
		if !o.fromConfig[f.Name] {
			onLine[f.Name] = true
		}
	})
	fmt.Fprintln(w, "# sibyl serve: effective configuration (flag > environment > config file > default)")
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if notInConfig[f.Name] || err != nil {
			return
		}
		src := "default"
		switch env := envOf(f); {
		case onLine[f.Name]:
			src = "flag"
		case env != "" && os.Getenv(env) != "":
			src = "env " + env
		case o.fromConfig[f.Name]:
			src = "config"
		}
		val := tomlValue(f)
		if secretFlag(f.Name, f) && f.Value.String() != "" {
			val = `"[redacted]"`
		}
		_, err = fmt.Fprintf(w, "%s = %s # %s\n", f.Name, val, src)
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "# secrets, from the environment only:")
	for _, e := range envSecrets {
		state := "not set"
		if os.Getenv(e) != "" {
			state = "set"
		}
		fmt.Fprintf(w, "#   %s: %s\n", e, state)
	}
	return nil
}

// tomlValue is f's value as a TOML literal: booleans and numbers bare, the rest
// quoted.
func tomlValue(f *flag.Flag) string {
	if g, ok := f.Value.(flag.Getter); ok {
		switch v := g.Get().(type) {
		case bool:
			return strconv.FormatBool(v)
		case int, int64, uint, uint64:
			return fmt.Sprint(v)
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return strconv.Quote(f.Value.String())
}
