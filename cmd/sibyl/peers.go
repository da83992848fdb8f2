package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sibylmcp/sibyl/store"
)

// Rate limits across instances (README "Several instances"): --rate-limit is
// a budget per API key for the whole deployment, not per process. Instances
// sharing a store beat a heartbeat into bucket instances every peerBeat, and
// each enforces rps/N with N the instances alive, with no store write per
// request. An approximation: exact when the load balancer spreads a key's
// requests evenly; a key whose requests all reach one instance gets rps/N.
//
//	bucket instances: owner -> its clock at its last beat (unix ns, 8 bytes big-endian)
const bucketInstances = "instances"

const (
	// peerBeat is the heartbeat period: one small store write per instance.
	peerBeat = 2 * time.Second
	// peerTTL: an instance whose beat has not changed for this long (three
	// beats missed) is no longer counted, so the others' shares grow back.
	peerTTL = 3 * peerBeat
	// peerForget: a beat unchanged for this long is deleted from the bucket.
	peerForget = 10 * time.Minute
)

// peers counts the live instances sharing a store. Liveness is judged by
// whether an instance's beat changes, on this instance's own clock, so the
// instances' clocks need not agree. An entry seen for the first time counts
// as live for peerTTL: a new instance starts with the stricter share.
type peers struct {
	st    store.Store
	owner string
	now   func() time.Time

	mu   sync.Mutex
	seen map[string]peerSeen
}

type peerSeen struct {
	beat    []byte
	changed time.Time // on this instance's clock
}

func newPeers(st store.Store, owner string, now func() time.Time) *peers {
	return &peers{st: st, owner: owner, now: now, seen: map[string]peerSeen{}}
}

// beat stores this instance's heartbeat and returns the number of live
// instances, itself included. On a store error nothing is counted: the
// caller keeps the shares it had.
func (p *peers) beat() (int, error) {
	now := p.now()
	v := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
	if err := p.st.UpdateBucket(bucketInstances, func(b store.Bucket) error {
		return b.Put([]byte(p.owner), v)
	}); err != nil {
		return 0, fmt.Errorf("storing this instance's heartbeat: %w", err)
	}
	all := map[string][]byte{}
	if err := p.st.ViewBucket(bucketInstances, func(b store.Bucket) error {
		return b.ForEachPrefix(nil, func(k, v []byte) error {
			all[string(k)] = v
			return nil
		})
	}); err != nil {
		return 0, fmt.Errorf("reading the instances' heartbeats: %w", err)
	}
	p.mu.Lock()
	n := 0
	var forget []string
	for owner, b := range all {
		s, ok := p.seen[owner]
		if !ok || !bytes.Equal(s.beat, b) {
			s = peerSeen{beat: b, changed: now}
			p.seen[owner] = s
		}
		switch age := now.Sub(s.changed); {
		case owner == p.owner || age <= peerTTL:
			n++
		case age > peerForget:
			forget = append(forget, owner)
		}
	}
	for owner := range p.seen {
		if _, ok := all[owner]; !ok {
			delete(p.seen, owner) // it left
		}
	}
	stale := map[string][]byte{}
	for _, owner := range forget {
		stale[owner] = p.seen[owner].beat
	}
	p.mu.Unlock()
	if len(stale) > 0 {
		// Only if unchanged since: an instance that came back stays.
		_ = p.st.UpdateBucket(bucketInstances, func(b store.Bucket) error {
			for owner, beat := range stale {
				if bytes.Equal(b.Get([]byte(owner)), beat) {
					if err := b.Delete([]byte(owner)); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	return max(n, 1), nil
}

// leave removes this instance's heartbeat, so the others count it out at
// their next beat rather than after peerTTL.
func (p *peers) leave() error {
	return p.st.UpdateBucket(bucketInstances, func(b store.Bucket) error {
		return b.Delete([]byte(p.owner))
	})
}

// run beats every peerBeat until ctx ends, calling set with the count when
// it changes, then leaves. A failed beat is logged and changes nothing.
func (p *peers) run(ctx context.Context, set func(n int), last int, log *slog.Logger) {
	t := time.NewTicker(peerBeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := p.leave(); err != nil {
				log.Warn("removing this instance's heartbeat", "err", err)
			}
			return
		case <-t.C:
			n, err := p.beat()
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("instance heartbeat (rate-limit shares unchanged)", "err", err)
				}
				continue
			}
			if n != last {
				log.Info("instances sharing the store changed: each enforces its share of --rate-limit", "instances", n)
				set(n)
				last = n
			}
		}
	}
}
