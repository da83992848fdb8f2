// Package serve runs the benchmark's peer servers over HTTP the same way, so
// that only the MCP library differs between them.
package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// HTTP serves h at /mcp on addr until ctx ends, then calls shutdown (the MCP
// handler's own, or nil if it has none) and shuts the HTTP server down, each
// given 5 s. It returns the listener's or the server's error.
func HTTP(ctx context.Context, addr string, h http.Handler, shutdown func(context.Context) error) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if shutdown != nil {
		_ = shutdown(sctx)
	}
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
