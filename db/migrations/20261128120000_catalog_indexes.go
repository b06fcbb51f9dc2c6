package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// The catalog's listings, each one index range read newest first from
// where the previous page ended:
//   - workflows that are not deleted, newest first (created_at, id), whole
//     or by status or by category. The indexes keep only the workflows that
//     are not deleted (queries repeat deleted_at = 0 word for word, for
//     SQLite to use them). They replace the (status, updated_at) and
//     (category, updated_at) indexes, which no query read.
//   - executions by workflow or by status, newest first. Execution ids are
//     UUIDv7 (ordered by creation), so these indexes are on (…, id), like
//     the primary key that serves the unfiltered listing; they replace
//     (workflow_id, created_at) and (status, created_at), which no query
//     read, so an execution still writes as many B-trees as before (and on
//     SQLite smaller entries: the id was already their last column).
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`DROP INDEX workflows_status_idx`,
			`DROP INDEX workflows_category_idx`,
			`CREATE INDEX workflows_created_idx ON workflows (created_at, id) WHERE deleted_at = 0`,
			`CREATE INDEX workflows_status_idx ON workflows (status, created_at, id) WHERE deleted_at = 0`,
			`CREATE INDEX workflows_category_idx ON workflows (category, created_at, id) WHERE deleted_at = 0`,

			`DROP INDEX workflow_executions_workflow_idx`,
			`DROP INDEX workflow_executions_status_idx`,
			`CREATE INDEX workflow_executions_workflow_idx ON workflow_executions (workflow_id, id)`,
			`CREATE INDEX workflow_executions_status_idx ON workflow_executions (status, id)`,
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`DROP INDEX workflow_executions_status_idx`,
			`DROP INDEX workflow_executions_workflow_idx`,
			`CREATE INDEX workflow_executions_workflow_idx ON workflow_executions (workflow_id, created_at)`,
			`CREATE INDEX workflow_executions_status_idx ON workflow_executions (status, created_at)`,
			`DROP INDEX workflows_category_idx`,
			`DROP INDEX workflows_status_idx`,
			`DROP INDEX workflows_created_idx`,
			`CREATE INDEX workflows_status_idx ON workflows (status, updated_at)`,
			`CREATE INDEX workflows_category_idx ON workflows (category, updated_at)`,
		)
	})
}
