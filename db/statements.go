package db

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/uptrace/bun"
)

// The hot writes are prepared once per connection: bun would inline every
// value into a new SQL text, which SQLite then parses every time (a third of
// the write path's CPU) and PostgreSQL cannot cache.
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
		step_finished_at, step_duration_ms, started_at, finished_at, duration_ms, retry_delay_ms, wake_at, result`
	stepValues   = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`
	stepConflict = ` ON CONFLICT (execution_id, step_key, attempt) DO UPDATE SET
		status = excluded.status, step_status = excluded.step_status, input = excluded.input,
		output = excluded.output, error = excluded.error, step_error = excluded.step_error,
		step_started_at = excluded.step_started_at, step_finished_at = excluded.step_finished_at,
		step_duration_ms = excluded.step_duration_ms, started_at = excluded.started_at,
		finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
		retry_delay_ms = excluded.retry_delay_ms, wake_at = excluded.wake_at, result = excluded.result`
	sqlUpsertStep = `INSERT INTO step_executions (` + stepColumns + `) VALUES (` + stepValues + `)` + stepConflict
	// sqlUpsertStepGuarded writes a step row only while the lease is held: the
	// lease check and the write are one statement (no row: lease lost).
	sqlUpsertStepGuarded = `INSERT INTO step_executions (` + stepColumns + `) SELECT ` + stepValues + `
		WHERE EXISTS (SELECT 1 FROM workflow_executions WHERE id = ? AND lease_owner = ? AND lease_token = ?)` + stepConflict
)

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

// stmt returns the statement prepared for q, preparing it on first use
// (after the schema exists: a database opened without migrating may not
// have it yet).
func (d *DB) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	d.stmtMu.Lock()
	defer d.stmtMu.Unlock()
	if st, ok := d.stmts[q]; ok {
		return st, nil
	}
	text := q
	if d.pg {
		text = rebind(q)
	}
	st, err := d.bun.DB.PrepareContext(ctx, text)
	if err != nil {
		return nil, fmt.Errorf("prepare %.40q…: %w", q, err)
	}
	if d.stmts == nil {
		d.stmts = map[string]*sql.Stmt{}
	}
	d.stmts[q] = st
	return st, nil
}

// exec runs a prepared statement in a transaction.
func (d *DB) exec(ctx context.Context, tx bun.Tx, q string, args ...any) (sql.Result, error) {
	st, err := d.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return tx.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}
