package db

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/uptrace/bun"
)

// committer batches writes (group commit). Each write is a function run
// inside a shared transaction under its own savepoint, so one write that
// fails (a lost lease) is rolled back alone while the others commit. On
// SQLite it is also the one writer of the process, so no write ever waits
// for another's lock.
type committer struct {
	db       *bun.DB
	ops      chan *op
	maxBatch int
	wg       sync.WaitGroup
	closed   chan struct{}
	once     sync.Once
}

type op struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx bun.Tx) error
	done chan error
}

var errClosed = errors.New("database closed")

func newCommitter(db *bun.DB, maxBatch int) *committer {
	c := &committer{db: db, ops: make(chan *op, 4*maxBatch), maxBatch: maxBatch, closed: make(chan struct{})}
	c.wg.Add(1)
	go c.loop()
	return c
}

// do runs fn in the next batch and waits until that batch has committed.
func (c *committer) do(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	o := &op{ctx: context.WithoutCancel(ctx), fn: fn, done: make(chan error, 1)}
	select {
	case c.ops <- o:
	case <-c.closed:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the write happens: wait for it even if ctx ends, so the
	// caller never believes a committed write failed.
	return <-o.done
}

func (c *committer) close() {
	c.once.Do(func() { close(c.closed) })
	c.wg.Wait()
}

func (c *committer) loop() {
	defer c.wg.Done()
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
					o.done <- c.commit([]*op{o})[0]
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < c.maxBatch {
			select {
			case o := <-c.ops:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		for i, err := range c.commit(batch) {
			batch[i].done <- err
		}
	}
}

// commit runs a batch in one transaction and returns each write's outcome.
// It first tries the batch as it is; only when a write fails (a lost lease,
// a conflict: rare) is the batch rolled back and run again with a savepoint
// around each write, so that only the failing writes are lost. On PostgreSQL
// a savepoint costs a round trip per write: the fast path saves them.
func (c *committer) commit(batch []*op) []error {
	if errs, ok := c.try(batch, false); ok {
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
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fill(errs, fmt.Errorf("begin: %w", err)), true
	}
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
		return fill(errs, fmt.Errorf("commit: %w", err)), true
	}
	return errs, true
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
