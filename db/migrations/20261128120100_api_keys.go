package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// API keys, stored as their SHA-256 (hash: unique, the lookup of every
// request) with a short prefix people tell them apart by. A revoked key
// stays, with revoked_at set, so that it is refused by name, not unknown.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`CREATE TABLE api_keys (
				id TEXT PRIMARY KEY,
				name TEXT NOT NULL DEFAULT '',
				role TEXT NOT NULL,
				prefix TEXT NOT NULL DEFAULT '',
				hash TEXT NOT NULL UNIQUE,
				created_at BIGINT NOT NULL,
				revoked_at BIGINT NOT NULL DEFAULT 0
			)`,
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db, `DROP TABLE api_keys`)
	})
}
