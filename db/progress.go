package db

import (
	"sync"
	"time"

	"github.com/weftworks/weft/core"
)

// progressDelay is how long a progress record waits before it is written.
const progressDelay = 50 * time.Millisecond

// isProgress tells a checkpoint that only says steps are under way (an
// attempt starts, a retry waits) from one that records how steps ended. The
// first kind may be held back; a finished step's state — a nested step's
// result among them — never is.
func isProgress(cp *core.Checkpoint) bool {
	if len(cp.Results) > 0 || cp.Execution != nil || cp.Release {
		return false
	}
	for _, st := range cp.Steps {
		if st.Status.Terminal() {
			return false
		}
	}
	return true
}

// heldBack holds asynchronous progress records back for progressDelay and
// drops those a later write of their steps supersedes in the meantime.
//
// Every decision — write it, drop it — is taken under mu, and a record is
// queued to the committer while mu is held: a later write of the execution
// settles under mu before queuing itself, so it is queued (and applied)
// after any record it did not drop. Queued outside mu, a step's final state
// could be overwritten by the progress record it superseded.
type heldBack struct {
	mu      sync.Mutex
	pending map[string]map[string]*heldRecord // execution id → write key → record
}

type heldRecord struct {
	timer *time.Timer
	write func() // queues the record
}

// later holds back a progress record of execution id naming the steps keys.
func (h *heldBack) later(id string, keys []string, write func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := &heldRecord{write: write}
	r.timer = time.AfterFunc(progressDelay, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.drop(id, r, keys) {
			r.write()
		}
	})
	if h.pending == nil {
		h.pending = map[string]map[string]*heldRecord{}
	}
	m := h.pending[id]
	if m == nil {
		m = map[string]*heldRecord{}
		h.pending[id] = m
	}
	for _, k := range keys {
		if old := m[k]; old != nil {
			// Superseded by this newer progress (a record naming other steps
			// too is dropped whole: progress may be lost, never reordered).
			old.timer.Stop()
			h.drop(id, old, nil)
		}
		m[k] = r
	}
	h.pending[id] = m // drop forgets an execution's map when it empties
}

// settle is called before a write of execution id naming the steps keys:
// their held-back records are superseded and dropped. When the write is
// awaited (flush), the execution's other held-back records are queued now,
// ahead of it.
func (h *heldBack) settle(id string, keys []string, flush bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.pending[id]
	if m == nil {
		return
	}
	for _, k := range keys {
		if r := m[k]; r != nil {
			r.timer.Stop()
			h.drop(id, r, nil)
		}
	}
	if flush {
		h.flushLocked(id)
	}
}

// flushLocked queues the held-back records of execution id.
func (h *heldBack) flushLocked(id string) {
	m := h.pending[id]
	for len(m) > 0 {
		for _, r := range m {
			r.timer.Stop()
			h.drop(id, r, nil)
			r.write()
			break
		}
	}
}

// drop forgets r under every key it is pending at (keys, when given, are
// where to look) and reports whether it was still pending anywhere.
func (h *heldBack) drop(id string, r *heldRecord, keys []string) bool {
	m := h.pending[id]
	found := false
	if keys == nil {
		for k, p := range m {
			if p == r {
				delete(m, k)
				found = true
			}
		}
	} else {
		for _, k := range keys {
			if m[k] == r {
				delete(m, k)
				found = true
			}
		}
	}
	if len(m) == 0 {
		delete(h.pending, id)
	}
	return found
}

// flushAll queues every held-back record now (the database closes).
func (h *heldBack) flushAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id := range h.pending {
		h.flushLocked(id)
	}
}
