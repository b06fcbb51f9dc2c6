package migrations

import (
	"context"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Stored scripts: transformation rules get a version (their revision, for
// If-Match and for instances to see edits), and uploaded WASM modules a
// table of their own, the code in a blob (BLOB on SQLite, BYTEA on
// PostgreSQL) with its SHA-256, which instances compare to see uploads.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		blob := "BLOB"
		if db.Dialect().Name() == dialect.PG {
			blob = "BYTEA"
		}
		return execAll(ctx, db,
			`ALTER TABLE transformation_rules ADD COLUMN version BIGINT NOT NULL DEFAULT 1`,
			strings.ReplaceAll(`CREATE TABLE wasm_modules (
				name TEXT PRIMARY KEY,
				sha256 TEXT NOT NULL,
				size BIGINT NOT NULL,
				code BLOBTYPE NOT NULL,
				components JSON NOT NULL,
				created_at BIGINT NOT NULL,
				updated_at BIGINT NOT NULL
			)`, "BLOBTYPE", blob),
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db, `DROP TABLE wasm_modules`, `ALTER TABLE transformation_rules DROP COLUMN version`)
	})
}
