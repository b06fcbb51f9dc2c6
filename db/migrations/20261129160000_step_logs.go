package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// Step logs: the lines a step logged during an attempt (a LUA script's
// log(...)), a JSON array on the attempt's row; NULL when it logged nothing.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db, `ALTER TABLE step_executions ADD COLUMN logs JSON`)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db, `ALTER TABLE step_executions DROP COLUMN logs`)
	})
}
