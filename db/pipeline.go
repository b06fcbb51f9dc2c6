package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"
)

// pipeline holds the statements of a batch on PostgreSQL, to be sent in one
// round trip. One statement after the other, a batch of the records of k
// executions cost 2 + 4k round trips (BEGIN, the statements, COMMIT), each
// of them waited for by the one committer while PostgreSQL sat idle: at 32
// concurrent executions weft used half a CPU and PostgreSQL less, and
// executions/s were bound by round trips (docs/performance.md). Pipelined,
// a batch costs one: BEGIN, every statement and COMMIT sent together. A
// guarded statement that finds its lease lost must then stop the commit by
// itself, so in a pipeline it raises an error (see guarded): PostgreSQL
// skips the rest of the batch, COMMIT included, and the transaction is
// rolled back.
type pipeline struct {
	stmts []pipedStmt
	op    int // the index in the batch of the write being collected
}

type pipedStmt struct {
	q     string
	args  []any
	guard bool // must change a row, or the write's lease is lost
	op    int
}

// add collects a statement of the current write; its arguments are
// converted now, as exec would.
func (p *pipeline) add(q string, guard bool, args []any) error {
	vals := make([]any, len(args))
	for i, a := range args {
		v, err := driverValue(a)
		if err != nil {
			return fmt.Errorf("argument %d: %w", i+1, err)
		}
		vals[i] = v
	}
	p.stmts = append(p.stmts, pipedStmt{q: q, args: vals, guard: guard, op: p.op})
	return nil
}

// allPiped reports whether every write of the batch may be pipelined.
func allPiped(batch []*op) bool {
	for _, o := range batch {
		if !o.piped {
			return false
		}
	}
	return true
}

// errUnpiped makes commit fall back to running the batch statement by
// statement, with a savepoint around each write, so that only the failing
// writes fail.
var errUnpiped = errors.New("pipelined batch failed")

// tryPipelined runs a batch of piped writes on PostgreSQL in one
// transaction and one round trip. ok is false, nothing committed, when a
// statement failed or a guard found its lease lost: commit then runs the
// batch the slow way, which tells each write its own outcome.
func (c *committer) tryPipelined(batch []*op) (errs []error, ok bool) {
	ctx := context.Background()
	errs = make([]error, len(batch))
	c.pipe = &pipeline{}
	for i, o := range batch {
		c.pipe.op = i
		if err := o.fn(o.ctx, bun.Tx{}); err != nil {
			c.pipe = nil
			return nil, false
		}
	}
	stmts := c.pipe.stmts
	c.pipe = nil
	if c.conn.Conn == nil {
		conn, err := c.db.Conn(ctx)
		if err != nil {
			return fill(errs, fmt.Errorf("begin: %w", err)), true
		}
		c.conn, c.stmts = conn, map[string]hotStmt{}
	}
	var commitErr error
	err := c.conn.Raw(func(dc any) error {
		pc, isPgx := dc.(interface{ Conn() *pgx.Conn })
		if !isPgx {
			return fmt.Errorf("database driver %T is not pgx", dc)
		}
		conn := pc.Conn()
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		for _, s := range stmts {
			q := c.rebound(s.q)
			if s.guard {
				q = c.guarded(q)
			}
			b.Queue(q, s.args...)
		}
		b.Queue("COMMIT")
		br := conn.SendBatch(ctx, b)
		_, err := br.Exec()
		for range stmts {
			if err != nil {
				break
			}
			_, err = br.Exec()
		}
		if err == nil {
			// Every statement succeeded: COMMIT's outcome is the batch's.
			var tag pgconn.CommandTag
			if tag, commitErr = br.Exec(); commitErr == nil && tag.String() != "COMMIT" {
				commitErr = fmt.Errorf("COMMIT answered %q", tag.String())
			}
			if cerr := br.Close(); commitErr == nil {
				commitErr = cerr
			}
			return commitErr
		}
		// A statement failed: PostgreSQL skipped what followed, COMMIT
		// too, and the transaction waits, failed, for its ROLLBACK.
		_ = br.Close()
		if _, rerr := conn.Exec(ctx, "ROLLBACK"); rerr != nil {
			return rerr // the connection is in doubt: released below
		}
		return errUnpiped
	})
	switch {
	case err == nil:
		c.pipelined++
		return errs, true
	case errors.Is(err, errUnpiped):
		return nil, false
	case commitErr != nil:
		c.release() // the connection may be left in a bad state
		return fill(errs, fmt.Errorf("commit: %w", commitErr)), true
	default:
		// The connection failed under the batch: nothing was committed
		// (PostgreSQL rolls back a transaction whose connection is gone).
		c.release()
		return nil, false
	}
}

// guarded returns a guarded statement (one that must change a row, or its
// lease is lost) as a statement that fails when it changes none: its rows
// counted, and one divided by the count — "division by zero" stops the
// pipelined transaction before its COMMIT. The statement's own work is
// done either way (a data-modifying WITH runs to its end).
func (c *committer) guarded(q string) string {
	if c.guards == nil {
		c.guards = map[string]string{}
	}
	g, ok := c.guards[q]
	if !ok {
		g = "WITH weft_guard AS (" + q + " RETURNING 1) SELECT 1 / count(*) FROM weft_guard"
		c.guards[q] = g
	}
	return g
}

// rebound returns q with PostgreSQL's placeholders, rebinding each text once.
func (c *committer) rebound(q string) string {
	if c.rebinds == nil {
		c.rebinds = map[string]string{}
	}
	r, ok := c.rebinds[q]
	if !ok {
		r = rebind(q)
		c.rebinds[q] = r
	}
	return r
}
