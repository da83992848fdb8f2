package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/sibylmcp/sibyl/store"
	"github.com/sibylmcp/sibyl/store/etcdstore"
)

// openEtcd opens the etcd store the flags name.
func (f *storeFlags) openEtcd(ctx context.Context, opts store.Options, logger *slog.Logger) (store.Store, error) {
	tlsCfg, err := f.tlsConfig()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	st, err := etcdstore.Open(ctx, etcdstore.Options{
		Endpoints:   f.endpointList(),
		Prefix:      f.prefix,
		TLS:         tlsCfg,
		Username:    f.username,
		Password:    os.Getenv("SIBYL_ETCD_PASSWORD"),
		DialTimeout: f.dialTimeout,
		OpTimeout:   f.opTimeout,
		SessionTTL:  f.sessionTTL,
		AuditKey:    opts.AuditKey,
		MaxBatch:    opts.MaxBatch,
		MaxTxnOps:   f.maxTxnOps,
		OnCommit:    opts.OnCommit,
		Logger:      logger,
	})
	if err != nil {
		return nil, fmt.Errorf("opening the etcd store: %w", err) // err names the endpoints, without credentials
	}
	return st, nil
}
