package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/sibylmcp/sibyl/store"
)

// openEtcd is replaced by storeetcd.go when package store/etcdstore lands.
func (f *storeFlags) openEtcd(ctx context.Context, opts store.Options, logger *slog.Logger) (store.Store, error) {
	return nil, errors.New("--store etcd: the etcd backend is not built into this binary yet")
}
