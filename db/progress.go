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
		if h.drop(id, r) {
			r.write()
		}
	})
	// Older records of these steps are superseded (one that names other
	// steps too is dropped whole: progress may be lost, never reordered).
	h.supersede(id, keys)
	if h.pending == nil {
		h.pending = map[string]map[string]*heldRecord{}
	}
	m := h.pending[id]
	if m == nil {
		m = map[string]*heldRecord{}
		h.pending[id] = m
	}
	for _, k := range keys {
		m[k] = r
	}
}

// settle is called before a write of execution id naming the steps keys:
// their held-back records are superseded and dropped. When the write is
// awaited (flush), the execution's other held-back records are queued now,
// ahead of it.
func (h *heldBack) settle(id string, keys []string, flush bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.supersede(id, keys)
	if flush {
		h.flushLocked(id)
	}
}

// flushAll queues every held-back record now (the database closes).
func (h *heldBack) flushAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id := range h.pending {
		h.flushLocked(id)
	}
}

// supersede drops the held-back records of execution id naming keys.
func (h *heldBack) supersede(id string, keys []string) {
	for _, k := range keys {
		if r := h.pending[id][k]; r != nil {
			r.timer.Stop()
			h.drop(id, r)
		}
	}
}

// flushLocked queues the held-back records of execution id.
func (h *heldBack) flushLocked(id string) {
	for _, r := range h.pending[id] {
		if h.drop(id, r) { // false: already taken under another of its keys
			r.timer.Stop()
			r.write()
		}
	}
}

// drop forgets r under every key it is pending at, and the execution's map
// once it is empty. It reports whether r was still pending.
func (h *heldBack) drop(id string, r *heldRecord) bool {
	m := h.pending[id]
	found := false
	for k, p := range m {
		if p == r {
			delete(m, k)
			found = true
		}
	}
	if len(m) == 0 {
		delete(h.pending, id)
	}
	return found
}
