package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/uptrace/bun"

	"github.com/weftworks/weft/core"
)

// The hot writes are prepared once, on the committer's connection: bun would
// inline every value into a new SQL text, which SQLite then parses every time
// (a third of the write path's CPU) and PostgreSQL cannot cache.
const (
	sqlInsertExecution = `INSERT INTO workflow_executions (id, workflow_id, workflow_version, workflow_name, status,
		input, output, error, failed_step, created_at, started_at, finished_at, duration_ms, wake_at,
		lease_owner, lease_token, lease_until, updated_at, due_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlGuard = `UPDATE workflow_executions SET updated_at = ? WHERE id = ? AND lease_owner = ? AND lease_token = ?`
	// baseDueSQL is dueAt in SQL: the due time of the row without its lease.
	baseDueSQL      = `CASE WHEN status = 'WAITING' THEN wake_at ELSE created_at END`
	sqlGuardRelease = `UPDATE workflow_executions SET updated_at = ?, lease_owner = '', lease_until = 0,
		due_at = ` + baseDueSQL + ` WHERE id = ? AND lease_owner = ? AND lease_token = ?`
	headerSet = `updated_at = ?, status = ?, output = ?, error = ?, failed_step = ?,
		started_at = ?, finished_at = ?, duration_ms = ?, wake_at = ?`
	// due_at: see dueAt; the argument is the due time without the lease
	// (given twice to sqlHeader, which keeps the lease).
	sqlHeader = `UPDATE workflow_executions SET ` + headerSet + `,
		due_at = CASE WHEN lease_until > ? THEN lease_until ELSE ? END WHERE id = ? AND lease_owner = ? AND lease_token = ?`
	sqlHeaderRelease = `UPDATE workflow_executions SET ` + headerSet + `, lease_owner = '', lease_until = 0,
		due_at = ? WHERE id = ? AND lease_owner = ? AND lease_token = ?`
	stepColumns = `execution_id, step_key, attempt, step_id, step_type, parent_key,
		item_index, fallback_for, status, step_status, input, output, error, step_error, step_started_at,
		step_finished_at, step_duration_ms, started_at, finished_at, duration_ms, retry_delay_ms, wake_at, result, logs`
	stepValues   = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`
	stepConflict = ` ON CONFLICT (execution_id, step_key, attempt) DO UPDATE SET
		status = excluded.status, step_status = excluded.step_status, input = excluded.input,
		output = excluded.output, error = excluded.error, step_error = excluded.step_error,
		step_started_at = excluded.step_started_at, step_finished_at = excluded.step_finished_at,
		step_duration_ms = excluded.step_duration_ms, started_at = excluded.started_at,
		finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
		retry_delay_ms = excluded.retry_delay_ms, wake_at = excluded.wake_at, result = excluded.result,
		logs = excluded.logs`
	// sqlUpsertStepGuarded writes a step row only while the lease is held: the
	// lease check and the write are one statement (no row: lease lost).
	sqlUpsertStepGuarded = `INSERT INTO step_executions (` + stepColumns + `) SELECT ` + stepValues + `
		WHERE EXISTS (SELECT 1 FROM workflow_executions WHERE id = ? AND lease_owner = ? AND lease_token = ?)` + stepConflict
)

// maxRowsPerUpsert bounds the step rows one statement writes: a statement
// per row costs SQLite a VM start and reset each, which a batch of the rows
// of a finished execution (3 for a 3-step workflow) shares.
const maxRowsPerUpsert = 8

// sqlUpsertSteps[n] writes n step rows, n from 1 to maxRowsPerUpsert, or
// updates those that exist.
var sqlUpsertSteps = func() []string {
	qs := make([]string, maxRowsPerUpsert+1)
	values := "(" + stepValues + ")"
	for n := 1; n <= maxRowsPerUpsert; n++ {
		qs[n] = `INSERT INTO step_executions (` + stepColumns + `) VALUES ` + values + stepConflict
		values += ", (" + stepValues + ")"
	}
	return qs
}()

// upsertSteps writes step rows, several to a statement. Rows with the same
// key must not share a statement (PostgreSQL refuses to update a row twice
// in one); those are written in the order given, one to a statement.
func (d *DB) upsertSteps(ctx context.Context, tx bun.Tx, rows []StepExecution) error {
	for len(rows) > 0 {
		n := min(len(rows), maxRowsPerUpsert)
		if !distinctKeys(rows[:n]) {
			n = 1
		}
		// The committer's own buffer: writes run one at a time on its
		// goroutine, and exec (or the pipeline) copies the values out.
		c := d.batch
		args := c.stepArgs[:0]
		for i := range rows[:n] {
			args = appendStepArgs(args, &rows[i])
		}
		_, err := d.exec(ctx, tx, sqlUpsertSteps[n], args...)
		clear(args) // drop the rows' values: the buffer outlives them
		c.stepArgs = args[:0]
		if err != nil {
			return fmt.Errorf("save step %s: %w", rows[0].StepKey, err)
		}
		rows = rows[n:]
	}
	return nil
}

// stepParams is the number of values of one step row.
var stepParams = strings.Count(stepValues, "?")

func distinctKeys(rows []StepExecution) bool {
	for i := range rows {
		for j := range i {
			if rows[i].ExecutionID == rows[j].ExecutionID && rows[i].StepKey == rows[j].StepKey && rows[i].Attempt == rows[j].Attempt {
				return false
			}
		}
	}
	return true
}

// rebind turns ? placeholders into PostgreSQL's $1, $2 …
func rebind(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// hotStmt is a statement prepared by the driver itself (see exec).
type hotStmt interface {
	driver.Stmt
	driver.StmtExecContext
}

// exec runs one of the hot statements in tx, which must be the transaction
// of the committer's batch. The statement runs on the committer's driver
// connection directly (inside the transaction: it is the same connection),
// prepared on it once, with its arguments converted by a type switch.
// Through database/sql every statement cost a reflective conversion of its
// arguments, a Tx-bound copy of the Stmt (Tx.StmtContext) and its locks: ~5 %
// of the CPU, all of it in the committer's serial section
// (docs/performance.md).
func (d *DB) exec(ctx context.Context, tx bun.Tx, q string, args ...any) (sql.Result, error) {
	return d.execAs(ctx, tx, false, q, args)
}

// execGuarded is exec for a statement that must change a row: one that
// changes none means the execution's lease is lost (core.ErrLeaseLost).
func (d *DB) execGuarded(ctx context.Context, tx bun.Tx, q string, args ...any) error {
	res, err := d.execAs(ctx, tx, true, q, args)
	if err != nil || res == nil {
		return err // res is nil when pipelined: the guard is checked then
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return core.ErrLeaseLost
	}
	return nil
}

// execAs runs a hot statement, or, while the committer pipelines a batch,
// adds it to the pipeline (the result is nil then).
func (d *DB) execAs(ctx context.Context, tx bun.Tx, guard bool, q string, args []any) (sql.Result, error) {
	c := d.batch
	if c.pipe != nil {
		return nil, c.pipe.add(q, guard, args)
	}
	if tx.Tx == nil || tx.Tx != c.tx.Tx {
		return nil, errors.New("a prepared statement outside the committer's transaction")
	}
	nv := c.args[:0]
	for i, a := range args {
		v, err := driverValue(a)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		nv = append(nv, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	defer func() { c.args = nv[:0]; clear(nv) }()
	var res driver.Result
	err := c.conn.Raw(func(dc any) error {
		st, err := c.prepared(ctx, dc, q)
		if err != nil {
			return err
		}
		res, err = st.ExecContext(ctx, nv)
		return err
	})
	return res, err
}

// prepared returns the statement prepared for q on the committer's driver
// connection dc, preparing it on first use (after the schema exists: a
// database opened without migrating may not have it yet).
func (c *committer) prepared(ctx context.Context, dc any, q string) (hotStmt, error) {
	if st, ok := c.stmts[q]; ok {
		return st, nil
	}
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("database driver %T cannot prepare statements with a context", dc)
	}
	text := q
	if c.pg {
		text = rebind(q)
	}
	st, err := pc.PrepareContext(ctx, text)
	if err != nil {
		return nil, fmt.Errorf("prepare %.40q…: %w", q, err)
	}
	hs, ok := st.(hotStmt)
	if !ok {
		_ = st.Close()
		return nil, fmt.Errorf("database driver %T cannot execute statements with a context", dc)
	}
	c.stmts[q] = hs
	return hs, nil
}

// driverValue converts an argument of a hot statement to a driver value:
// the types they use by a type switch, anything else as database/sql would.
func driverValue(v any) (driver.Value, error) {
	switch x := v.(type) {
	case nil, int64, string, []byte, float64, bool:
		return v, nil
	case int:
		return int64(x), nil
	case JSON:
		if len(x) == 0 {
			return x.Value()
		}
		// Bound as text, as Value does, without copying it: encoded JSON
		// is never changed once made.
		return unsafe.String(&x[0], len(x)), nil
	case ExecutionStatus:
		return string(x), nil
	case *int:
		if x == nil {
			return nil, nil
		}
		return int64(*x), nil
	}
	return driver.DefaultParameterConverter.ConvertValue(v)
}
