package store

import (
	"context"
	"fmt"
	"sync"
)

// Asynchronous audit of read-only tool calls.
//
// Tradeoff: a state-changing call is audited inside the transaction that changes
// the state, so the log and the state never disagree, at the price of that
// transaction's fsync (shared by group commit). A read-only call changes nothing,
// so its entry is queued and written with others in one transaction by a
// background goroutine: reads pay no fsync, and the chain stays a single ordered
// sequence because every append happens inside a write transaction. The
// cost: entries still queued when the process dies (not when it is closed) are
// lost, so the log may miss the last read calls before a crash (never an order).

// AuditQueue is a backend's asynchronous audit appender: Send queues an entry
// (Store.AuditAsync), Flush waits for everything queued before it
// (Store.FlushAudit), and one goroutine writes what is waiting, up to a batch
// at a time, through the backend's write function, which appends the entries
// to the chain in one transaction. Both backends use it.
type AuditQueue struct {
	ch       chan auditReq
	maxBatch int
	write    func([]AuditEntry) error

	mu     sync.RWMutex // guards closed and the sends on ch
	closed bool
	done   chan struct{} // closed when the loop has written everything and ended
}

type auditReq struct {
	entry AuditEntry
	flush chan error // non-nil: a flush marker, answered after everything before it is written
}

// NewAuditQueue starts the appender: a queue of size entries, written up to
// maxBatch at a time by write. Close it before closing what write uses.
func NewAuditQueue(size, maxBatch int, write func([]AuditEntry) error) *AuditQueue {
	q := &AuditQueue{ch: make(chan auditReq, size), maxBatch: maxBatch, write: write, done: make(chan struct{})}
	go q.loop()
	return q
}

// Send queues e and returns without waiting for it to be written. It blocks
// while the queue is full (until ctx ends) and fails with ErrClosed after
// Close.
func (q *AuditQueue) Send(ctx context.Context, e AuditEntry) error {
	return q.send(ctx, auditReq{entry: e})
}

// Flush waits until every entry queued before the call is written. It returns
// the first error the appender met since the previous flush.
func (q *AuditQueue) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	if err := q.send(ctx, auditReq{flush: done}); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (q *AuditQueue) send(ctx context.Context, r auditReq) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrClosed
	}
	select {
	case q.ch <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes what is queued and stops the appender. Sends after it fail
// with ErrClosed. It is safe to call more than once.
func (q *AuditQueue) Close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	<-q.done
}

func (q *AuditQueue) loop() {
	defer close(q.done)
	var pendingErr error
	batch := make([]auditReq, 0, q.maxBatch)
	entries := make([]AuditEntry, 0, q.maxBatch)
	for first := range q.ch {
		batch = GatherBatch(q.ch, append(batch[:0], first), 0, q.maxBatch, 0) // what is waiting; no wait
		entries = entries[:0]
		for _, r := range batch {
			if r.flush == nil {
				entries = append(entries, r.entry)
			}
		}
		if len(entries) > 0 {
			if err := q.write(entries); err != nil && pendingErr == nil {
				pendingErr = fmt.Errorf("writing %d audit entries: %w", len(entries), err)
			}
		}
		for _, r := range batch {
			if r.flush != nil {
				r.flush <- pendingErr
				pendingErr = nil
			}
		}
	}
}
