package db

import (
	"context"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/weftworks/weft/core"
)

// held keeps the records of executions run at once by their creator
// (Engine.Execute, weft run --db) in memory until the first write that is
// awaited, or until defaultHoldFor has passed, and then writes them all at once.
// An execution that ends sooner — most of them — costs one insert of its
// final row and one write per step: no insert-then-update of the execution,
// no passage through the claim index, and none of the progress records its
// steps superseded meanwhile.
//
// After that awaited write the execution is held again, as a row that is in
// the database now: the records that nobody waits for (a parallel branch
// ended, a step's result that no call depends on yet) gather in memory,
// each step's latest state replacing the ones before, and go with the next
// awaited write — most often the final result — as one lease-guarded write,
// instead of a write each through the committer.
//
// This is what CreateExecution's contract allows for a leased execution
// (the create may be applied late, before the owner's later writes), and
// what Checkpoint.Async allows for the writes that are not awaited: a crash
// may lose them, never reorder them. Nobody else can claim a held execution
// before its first write: it is not in the database yet.
type held struct {
	mu sync.Mutex
	m  map[string]*heldExec
	// holdFor, when not zero, replaces defaultHoldFor (tests).
	holdFor time.Duration
}

// defaultHoldFor is how long an execution's records may stay in memory.
const defaultHoldFor = 50 * time.Millisecond

type heldExec struct {
	row   WorkflowExecution          // as it will be inserted: header changes applied
	steps map[string][]StepExecution // the latest rows of each step
	order []string                   // step keys in the order first written
	timer *time.Timer
	// inserted: the row is in the database (or queued to be) and what is
	// held is written under its lease as a Checkpoint would: hdr, the latest
	// header written, and release go with it, and row.UpdatedAt.
	inserted bool
	// merged: a write nobody waits for is among the held records, so the
	// write of them, when it fails, fails the lease's later ones (unwritten).
	merged  bool
	hdr     *WorkflowExecution
	release bool
}

// hold starts holding a new execution's records.
func (d *DB) hold(row *WorkflowExecution) {
	d.held.mu.Lock()
	defer d.held.mu.Unlock()
	d.holdLocked(&heldExec{row: *row})
}

// holdLocked starts holding h, and writes it when its time is up.
func (d *DB) holdLocked(h *heldExec) {
	row := &h.row
	h.steps = map[string][]StepExecution{}
	if d.held.m == nil {
		d.held.m = map[string]*heldExec{}
	}
	d.held.m[row.ID] = h
	wait := d.held.holdFor
	if wait == 0 {
		wait = defaultHoldFor
	}
	h.timer = time.AfterFunc(wait, func() {
		d.held.mu.Lock()
		defer d.held.mu.Unlock()
		if d.held.m[row.ID] == h {
			d.writeHeldLocked(h, true)
		}
	})
}

// mergeHeld applies a checkpoint to a held execution. ok is false when the
// execution is not held. When the checkpoint is awaited, the records are
// queued for writing and the returned op tells when they are durable.
func (d *DB) mergeHeld(id string, lease core.Lease, steps []StepExecution, hdr *WorkflowExecution, release, awaited bool, now int64) (o *op, ok bool, err error) {
	d.held.mu.Lock()
	defer d.held.mu.Unlock()
	h := d.held.m[id]
	if h == nil {
		return nil, false, nil
	}
	if h.row.LeaseOwner != lease.Owner || h.row.LeaseToken != lease.Token {
		if h.inserted {
			// Held under a lease that has since changed hands: its records
			// go now (to fail on its lease) and this write on its own.
			_, err := d.writeHeldLocked(h, true)
			return nil, false, err
		}
		return nil, true, core.ErrLeaseLost
	}
	for i := 0; i < len(steps); {
		j := i + 1
		for j < len(steps) && steps[j].StepKey == steps[i].StepKey {
			j++
		}
		key := steps[i].StepKey
		if _, seen := h.steps[key]; !seen {
			h.order = append(h.order, key)
		}
		h.steps[key] = steps[i:j:j]
		i = j
	}
	if h.inserted {
		if hdr != nil {
			h.hdr = hdr
		}
		h.release = h.release || release
	} else if hdr != nil {
		r := &h.row
		r.Status, r.Output, r.Error, r.FailedStep = hdr.Status, hdr.Output, hdr.Error, hdr.FailedStep
		r.StartedAt, r.FinishedAt, r.DurationMs, r.WakeAt = hdr.StartedAt, hdr.FinishedAt, hdr.DurationMs, hdr.WakeAt
	}
	h.row.UpdatedAt = now
	h.merged = h.merged || !awaited
	if release && !h.inserted {
		h.row.LeaseOwner, h.row.LeaseUntil = "", 0
	}
	if !awaited {
		return nil, true, nil
	}
	if o, err = d.writeHeldLocked(h, false); err != nil || release {
		return o, true, err
	}
	// Still running under this lease: its next records are held again.
	d.holdLocked(&heldExec{row: h.row, inserted: true})
	return o, true, nil
}

// renewHeld extends the leases of held executions and returns the ids of
// those it renewed.
func (d *DB) renewHeld(owner string, leases map[string]int64, until int64) map[string]bool {
	d.held.mu.Lock()
	defer d.held.mu.Unlock()
	var out map[string]bool
	for id, token := range leases {
		// An inserted execution's lease is renewed in the database.
		if h := d.held.m[id]; h != nil && !h.inserted && h.row.LeaseOwner == owner && h.row.LeaseToken == token {
			h.row.LeaseUntil = until
			if out == nil {
				out = map[string]bool{}
			}
			out[id] = true
		}
	}
	return out
}

// flushHeld writes a held execution now (someone reads it) and waits.
func (d *DB) flushHeld(id string) error {
	_, err := d.flushHeldWrote(id)
	return err
}

// flushHeldWrote is flushHeld, telling whether the execution was held.
func (d *DB) flushHeldWrote(id string) (bool, error) {
	d.held.mu.Lock()
	h := d.held.m[id]
	if h == nil {
		d.held.mu.Unlock()
		return false, nil
	}
	o, err := d.writeHeldLocked(h, false)
	d.held.mu.Unlock()
	if err != nil {
		return true, err
	}
	return true, <-o.done
}

// flushExpiredHeld queues the held executions whose lease has run out by
// now (micros), so that a claim queued next sees them. Only an injected
// clock gets there within defaultHoldFor, but a store must not hide what it holds.
// (An inserted execution's lease is in the database, renewed there; its
// held records are guarded by it when written.)
func (d *DB) flushExpiredHeld(now int64) {
	d.held.mu.Lock()
	defer d.held.mu.Unlock()
	for _, h := range d.held.m {
		if !h.inserted && h.row.LeaseUntil <= now {
			_, _ = d.writeHeldLocked(h, true)
		}
	}
}

// flushAllHeld queues every held execution for writing (the database closes).
func (d *DB) flushAllHeld() {
	d.held.mu.Lock()
	defer d.held.mu.Unlock()
	for _, h := range d.held.m {
		_, _ = d.writeHeldLocked(h, true)
	}
}

// writeHeldLocked stops holding h and queues its records. It queues while
// holding the lock, so that a checkpoint that no longer finds h held is
// queued after it.
func (d *DB) writeHeldLocked(h *heldExec, async bool) (*op, error) {
	delete(d.held.m, h.row.ID)
	h.timer.Stop()
	row := h.row
	n := 0
	for _, k := range h.order {
		n += len(h.steps[k])
	}
	steps := make([]StepExecution, 0, n) // rows are big: no regrowing
	for _, k := range h.order {
		steps = append(steps, h.steps[k]...)
	}
	var write func(ctx context.Context, tx bun.Tx) error
	if h.inserted {
		if async && len(steps) == 0 && h.hdr == nil && !h.release {
			return nil, nil // nothing came while it was held
		}
		write = d.checkpointWrite(row.ID, core.Lease{Owner: row.LeaseOwner, Token: row.LeaseToken}, steps, h.hdr, h.release, row.UpdatedAt)
	} else {
		write = func(ctx context.Context, tx bun.Tx) error {
			if err := d.insertExecution(ctx, tx, &row); err != nil {
				return err
			}
			return d.upsertSteps(ctx, tx, steps)
		}
	}
	var onErr func(error)
	if async || h.merged {
		onErr = func(err error) { d.unwritten(row.ID, row.LeaseToken, err) }
	}
	return d.batch.enqueue(context.Background(), nil, true, async, write, onErr)
}
