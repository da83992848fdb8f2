package store

import "time"

// GatherBatch is the batching step of a group committer (Bolt's, and
// etcdstore's): it appends to batch the items already waiting in ch, up to
// max in all, and returns it. When fewer are there than last, the size of the
// previous batch (and that was 4 or more), it waits up to delay for more:
// callers that were just answered are about to submit their next item, and
// catching them in this batch saves them a whole commit. A lone caller (last
// under 4) never waits, nor does a caller passing last 0. It returns early
// when ch is closed.
func GatherBatch[T any](ch <-chan T, batch []T, last, max int, delay time.Duration) []T {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for len(batch) < max {
		select {
		case r, ok := <-ch:
			if !ok {
				return batch
			}
			batch = append(batch, r)
			continue
		default:
		}
		if len(batch) >= last || last < 4 {
			return batch
		}
		if timer == nil {
			timer = time.NewTimer(delay)
		}
		select {
		case r, ok := <-ch:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		case <-timer.C:
			return batch
		}
	}
	return batch
}
