package db

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// committer batches writes (group commit). Each write is a function run
// inside a shared transaction under its own savepoint, so one write that
// fails (a lost lease) is rolled back alone while the others commit. On
// SQLite it is also the one writer of the process, so no write ever waits
// for another's lock.
type committer struct {
	db       *bun.DB
	pg       bool
	ops      chan *op
	maxBatch int
	wg       sync.WaitGroup
	closed   chan struct{}
	once     sync.Once
	// gate orders enqueue against close: once close holds it, no write
	// enters the queue after the loop's final drain.
	gate sync.RWMutex
	shut bool

	// The loop's own: a connection of its own, so that a batch takes none
	// from the pool (on SQLite the committer is the only writer anyway), the
	// hot statements prepared on it (see exec), and the open transaction.
	conn  bun.Conn // conn.Conn is nil until the first batch and after a failure
	stmts map[string]hotStmt
	tx    bun.Tx
	args  []driver.NamedValue // exec's, reused
	// stepArgs is upsertSteps' buffer of values, reused.
	stepArgs []any
	// pipe, while not nil, collects the statements of a batch instead of
	// running them (PostgreSQL: see tryPipelined).
	pipe    *pipeline
	rebinds map[string]string // the PostgreSQL text of each hot statement
	guards  map[string]string // guarded's text of each rebound statement
	// pipelined counts the batches committed pipelined, written the writes
	// committed (tests).
	pipelined int
	written   int
}

type op struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx bun.Tx) error
	done chan error
	// keys name the rows the write replaces (execution/step). An async
	// write is dropped when a later write in the same batch replaces the
	// same rows: the later one holds the newer state.
	keys  []string
	async bool
	// onErr, for an async write, learns of its failure — from the committer
	// itself, before any later write is acknowledged (see Store.Checkpoint).
	onErr func(error)
	// piped says fn only runs hot statements (DB.exec, DB.execGuarded) and
	// reads nothing back: on PostgreSQL its statements may be pipelined.
	piped bool
}

// finish reports a write's outcome.
func (o *op) finish(err error) {
	if err != nil && o.onErr != nil {
		o.onErr(err)
	}
	o.done <- err
}

var errClosed = errors.New("database closed")

func newCommitter(db *bun.DB, pg bool, maxBatch int) *committer {
	c := &committer{db: db, pg: pg, ops: make(chan *op, 4*maxBatch), maxBatch: maxBatch, closed: make(chan struct{})}
	c.wg.Add(1)
	go c.loop()
	return c
}

// do runs fn in the next batch and waits until that batch has committed.
func (c *committer) do(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return c.doKeyed(ctx, nil, false, fn)
}

// doKeyed is do for a write that replaces the rows named by keys; piped
// says fn may be pipelined (see op.piped).
func (c *committer) doKeyed(ctx context.Context, keys []string, piped bool, fn func(ctx context.Context, tx bun.Tx) error) error {
	o, err := c.enqueue(ctx, keys, piped, false, fn, nil)
	if err != nil {
		return err
	}
	// Once queued, the write happens: wait for it even if ctx ends, so the
	// caller never believes a committed write failed.
	return <-o.done
}

// enqueue queues a write; its outcome comes on the op's done channel, and
// its failure to onErr (when not nil) first. Nobody waits for an async one.
func (c *committer) enqueue(ctx context.Context, keys []string, piped, async bool, fn func(ctx context.Context, tx bun.Tx) error, onErr func(error)) (*op, error) {
	o := &op{ctx: context.WithoutCancel(ctx), fn: fn, done: make(chan error, 1), keys: keys, async: async, onErr: onErr, piped: piped}
	c.gate.RLock()
	defer c.gate.RUnlock()
	if c.shut {
		return nil, errClosed
	}
	select {
	case c.ops <- o: // the loop drains the queue until close has the gate
		return o, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// async queues a write without waiting for it; its failure is reported to
// onErr (which must be quick: the committer calls it). Writes are applied in
// the order they are queued, and an async one may be dropped in favour of a
// later write of the same keys.
func (c *committer) async(ctx context.Context, keys []string, piped bool, fn func(ctx context.Context, tx bun.Tx) error, onErr func(error)) {
	if _, err := c.enqueue(context.WithoutCancel(ctx), keys, piped, true, fn, onErr); err != nil {
		onErr(err)
	}
}

func (c *committer) close() {
	c.once.Do(func() {
		c.gate.Lock() // writes being queued get in first; later ones are refused
		c.shut = true
		c.gate.Unlock()
		close(c.closed)
	})
	c.wg.Wait()
}

func (c *committer) loop() {
	defer c.wg.Done()
	defer c.release()
	batch := make([]*op, 0, c.maxBatch)
	for {
		batch = batch[:0]
		select {
		case o := <-c.ops:
			batch = append(batch, o)
		case <-c.closed:
			// Drain what was queued before the close.
			for {
				select {
				case o := <-c.ops:
					c.written++
					o.finish(c.commit([]*op{o})[0])
				default:
					return
				}
			}
		}
		batch = c.fill(batch)
		if allAsync(batch) {
			batch = c.fill(c.awaitCompany(batch))
		}
		batch = coalesce(batch)
		c.written += len(batch)
		for i, err := range c.commit(batch) {
			batch[i].finish(err)
		}
	}
}

// asyncLinger is how long a batch of writes nobody waits for waits for
// company: a write that is awaited, or the batch filling up. Async writes
// would otherwise cost a commit (an fsync) each on an idle committer; this
// way they ride the next awaited write's commit — an execution's progress
// records with its next durable point — at no cost to any caller, since
// none waits for them. A crash in between loses them, as Checkpoint.Async
// allows.
const asyncLinger = 50 * time.Millisecond

// allAsync reports whether nobody waits for any write of the batch.
func allAsync(batch []*op) bool {
	for _, o := range batch {
		if !o.async {
			return false
		}
	}
	return true
}

// awaitCompany waits for one more write to join a batch of async ones: it
// returns when an awaited write comes, the batch is full, asyncLinger has
// passed or the committer closes (fill then takes what came with it).
func (c *committer) awaitCompany(batch []*op) []*op {
	t := time.NewTimer(asyncLinger)
	defer t.Stop()
	for len(batch) < c.maxBatch {
		select {
		case o := <-c.ops:
			batch = append(batch, o)
			if !o.async {
				return batch
			}
		case <-t.C:
			return batch
		case <-c.closed:
			return batch
		}
	}
	return batch
}

// fill adds the writes already queued to a batch, up to maxBatch, without
// waiting.
func (c *committer) fill(batch []*op) []*op {
	for len(batch) < c.maxBatch {
		select {
		case o := <-c.ops:
			batch = append(batch, o)
		default:
			return batch
		}
	}
	return batch
}

// coalesce drops the async writes that a later write of the batch replaces.
func coalesce(batch []*op) []*op {
	later := map[string]bool{}
	keep := make([]*op, 0, len(batch))
	for i := len(batch) - 1; i >= 0; i-- {
		o := batch[i]
		replaced := o.async && len(o.keys) > 0
		for _, k := range o.keys {
			replaced = replaced && later[k]
		}
		if replaced {
			o.finish(nil)
			continue
		}
		for _, k := range o.keys {
			later[k] = true
		}
		keep = append(keep, o)
	}
	slices.Reverse(keep)
	return keep
}

// commit runs a batch in one transaction and returns each write's outcome.
// It first tries the batch as it is; only when a write fails (a lost lease,
// a conflict: rare) is the batch rolled back and run again with a savepoint
// around each write, so that only the failing writes are lost. On PostgreSQL
// a savepoint costs a round trip per write: the fast path saves them.
func (c *committer) commit(batch []*op) []error {
	if c.pg && allPiped(batch) {
		if errs, ok := c.tryPipelined(batch); ok {
			return errs
		}
	} else if errs, ok := c.try(batch, false); ok {
		return errs
	}
	errs, _ := c.try(batch, true)
	return errs
}

// try runs the batch in one transaction; without savepoints it gives up
// (ok=false, nothing committed) at the first failing write.
func (c *committer) try(batch []*op, savepoints bool) ([]error, bool) {
	errs := make([]error, len(batch))
	ctx := context.Background()
	tx, err := c.begin(ctx)
	if err != nil {
		return fill(errs, fmt.Errorf("begin: %w", err)), true
	}
	c.tx = tx
	defer func() { c.tx = bun.Tx{} }()
	for i, o := range batch {
		if !savepoints || len(batch) == 1 {
			if errs[i] = o.fn(o.ctx, tx); errs[i] != nil {
				_ = tx.Rollback()
				if len(batch) == 1 {
					return errs, true
				}
				return nil, false
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			_ = tx.Rollback()
			return fill(errs, fmt.Errorf("savepoint: %w", err)), true
		}
		if errs[i] = o.fn(o.ctx, tx); errs[i] != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT w"); err != nil {
				_ = tx.Rollback()
				return fill(errs, fmt.Errorf("rollback to savepoint: %w", err)), true
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT w"); err != nil {
			_ = tx.Rollback()
			return fill(errs, fmt.Errorf("release savepoint: %w", err)), true
		}
	}
	if err := tx.Commit(); err != nil {
		c.release() // the connection may be left in a bad state
		return fill(errs, fmt.Errorf("commit: %w", err)), true
	}
	return errs, true
}

// begin starts a transaction on the committer's connection, taking one from
// the pool when it has none. A connection that cannot begin is given back
// (the pool drops a broken one) and a fresh one tried once.
func (c *committer) begin(ctx context.Context) (bun.Tx, error) {
	for retried := false; ; retried = true {
		if c.conn.Conn == nil {
			conn, err := c.db.Conn(ctx)
			if err != nil {
				return bun.Tx{}, err
			}
			c.conn, c.stmts = conn, map[string]hotStmt{}
		}
		tx, err := c.conn.BeginTx(ctx, nil)
		if err == nil || retried {
			return tx, err
		}
		c.release()
	}
}

// release closes the hot statements and gives the connection back to the
// pool.
func (c *committer) release() {
	if c.conn.Conn == nil {
		return
	}
	_ = c.conn.Raw(func(any) error {
		for _, st := range c.stmts {
			_ = st.Close()
		}
		return nil
	})
	_ = c.conn.Close()
	c.conn, c.stmts = bun.Conn{}, nil
}

// fill sets err for every write that had not failed on its own.
func fill(errs []error, err error) []error {
	for i := range errs {
		if errs[i] == nil {
			errs[i] = err
		}
	}
	return errs
}
