package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// Claims in one index range. due_at is the time from which an unfinished
// execution may be claimed: max(lease_until, wake_at when WAITING, else
// created_at). A claim reads the index from its start up to now, in the
// order the executions became claimable, and stops after the n it takes —
// however many executions are pending or parked. (Ordering by created_at
// over a (status, lease_until, wake_at) index sorted every claimable row on
// every claim.) Parked executions get an index of their own for the next
// wake time.
//
// The condition of the claim index is an OR of equalities, not an IN list:
// SQLite evaluates a partial index's condition at every insert and update of
// the table, and for an IN list of three it builds a temporary B-tree each
// time (a pager, a page, a memset) — a tenth of the cost of inserting an
// execution.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`ALTER TABLE workflow_executions ADD COLUMN due_at BIGINT NOT NULL DEFAULT 0`,
			`UPDATE workflow_executions SET due_at = CASE
				WHEN lease_until > (CASE WHEN status = 'WAITING' THEN wake_at ELSE created_at END) THEN lease_until
				ELSE (CASE WHEN status = 'WAITING' THEN wake_at ELSE created_at END) END`,
			`DROP INDEX workflow_executions_claim_idx`,
			`CREATE INDEX workflow_executions_claim_idx ON workflow_executions (due_at)
				WHERE (status = 'PENDING' OR status = 'RUNNING' OR status = 'WAITING')`,
			`CREATE INDEX workflow_executions_wake_idx ON workflow_executions (wake_at) WHERE status = 'WAITING'`,
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`DROP INDEX workflow_executions_wake_idx`,
			`DROP INDEX workflow_executions_claim_idx`,
			`CREATE INDEX workflow_executions_claim_idx ON workflow_executions (status, lease_until, wake_at)
				WHERE status IN ('PENDING', 'RUNNING', 'WAITING')`,
			`ALTER TABLE workflow_executions DROP COLUMN due_at`,
		)
	})
}
