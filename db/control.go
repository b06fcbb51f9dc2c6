package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// Cancel implements core.ExecutionStore. The lease is revoked in the same
// statement that records CANCELLED, so the engine running the execution
// fails its next guarded write (or renewal) and stops without writing.
func (s *Store) Cancel(ctx context.Context, id string, e *sdk.Error, now time.Time) error {
	if err := s.db.flushHeld(id); err != nil {
		return fmt.Errorf("cancel execution %s: %w", id, err)
	}
	// Steps under way whose records are held back are written first (queued
	// ahead of the cancel), so the record shows them, cancelled.
	s.db.progress.settle(id, nil, true)
	errJSON, err := toJSON(e)
	if err != nil {
		return err
	}
	t := micros(now)
	err = s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewRaw(`UPDATE workflow_executions SET status = 'CANCELLED', error = ?, finished_at = ?,
			duration_ms = CASE WHEN started_at > 0 THEN (? - started_at) / 1000 ELSE 0 END, wake_at = 0,
			lease_owner = '', lease_until = 0, due_at = ?, updated_at = ?
			WHERE id = ? AND `+unfinishedSQL, errJSON, t, t, t, t, id).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return s.whyNot(ctx, tx, id)
		}
		_, err = tx.NewRaw(`UPDATE step_executions SET step_status = 'CANCELLED', step_finished_at = ?, wake_at = 0,
			status = CASE WHEN status = 'RUNNING' OR status = 'PENDING' OR status = 'WAITING' THEN 'CANCELLED' ELSE status END,
			finished_at = CASE WHEN finished_at = 0 THEN ? ELSE finished_at END
			WHERE execution_id = ? AND (step_status = 'RUNNING' OR step_status = 'PENDING' OR step_status = 'WAITING')`,
			t, t, id).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("cancel execution %s: %w", id, err)
	}
	return nil
}

// Reopen implements core.ExecutionStore.
func (s *Store) Reopen(ctx context.Context, id string, results, steps []string, now time.Time) error {
	t := micros(now)
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewRaw(`UPDATE workflow_executions SET status = 'PENDING', output = NULL, error = NULL, failed_step = '',
			finished_at = 0, duration_ms = 0, wake_at = 0, lease_owner = '', lease_until = 0, due_at = ?, updated_at = ?
			WHERE id = ? AND (status = 'FAILED' OR status = 'CANCELLED' OR status = 'TIMED_OUT')`, t, t, id).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return s.whyNot(ctx, tx, id)
		}
		if len(results) > 0 {
			if _, err := tx.NewRaw(`UPDATE step_executions SET result = NULL WHERE execution_id = ? AND step_key IN (?)`,
				id, bun.In(results)).Exec(ctx); err != nil {
				return err
			}
		}
		if len(steps) > 0 {
			if _, err := tx.NewRaw(`UPDATE step_executions SET step_status = 'PENDING', step_error = NULL, step_finished_at = 0
				WHERE execution_id = ? AND step_key IN (?)`, id, bun.In(steps)).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reopen execution %s: %w", id, err)
	}
	return nil
}

// whyNot explains a guarded change of an execution's status that changed
// nothing: no such execution, or it is in another status.
func (s *Store) whyNot(ctx context.Context, tx bun.Tx, id string) error {
	var status string
	err := tx.NewRaw(`SELECT status FROM workflow_executions WHERE id = ?`, id).Scan(ctx, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return core.ErrNotFound
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: it is %s", core.ErrConflict, status)
}
