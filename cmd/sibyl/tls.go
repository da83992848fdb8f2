package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// certReloader serves --tls-cert/--tls-key and reads them again on SIGHUP, so a
// renewed certificate is picked up without restarting (and without dropping
// sessions or connections: existing connections keep the certificate they
// were made with, new handshakes get the new one). A reload that fails keeps
// the previous certificate and logs why.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu   sync.RWMutex
	cert *tls.Certificate
}

// load reads the key pair; it returns an error naming the files on failure.
func (c *certReloader) load() error {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		// The error names the files and what is wrong with them, never the
		// key's contents.
		return fmt.Errorf("loading --tls-cert %s / --tls-key %s: %w", c.certFile, c.keyFile, err)
	}
	c.mu.Lock()
	c.cert = &cert
	c.mu.Unlock()
	return nil
}

func (c *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cert, nil
}

// config is the server's TLS configuration: TLS 1.2 or later, the certificate
// from getCertificate.
func (c *certReloader) config() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.getCertificate}
}

// startTLS loads the certificate when --tls-cert and --tls-key are given (nil,
// nil when not) and reloads it on every SIGHUP until ctx ends.
func (o *opsFlags) startTLS(ctx context.Context, log *slog.Logger) (*certReloader, error) {
	if o.tlsCert == "" {
		return nil, nil
	}
	c := &certReloader{certFile: o.tlsCert, keyFile: o.tlsKey, log: log}
	if err := c.load(); err != nil {
		return nil, err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := c.load(); err != nil {
					log.Error("SIGHUP: TLS certificate not reloaded; still serving the previous one", "err", err)
				} else {
					log.Info("SIGHUP: TLS certificate reloaded", "cert", c.certFile)
				}
			}
		}
	}()
	return c, nil
}
