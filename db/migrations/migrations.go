// Package migrations holds weft's database migrations, written once for
// SQLite and PostgreSQL. Each file registers one migration; its name (the
// file name) orders them. Never edit a migration that has shipped: add one.
package migrations

import (
	"context"
	"fmt"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/migrate"
)

// Migrations is the set of all of weft's migrations.
var Migrations = migrate.NewMigrations()

// execAll runs DDL statements in one transaction. In the statements, JSON
// stands for the dialect's JSON column type (JSONB on PostgreSQL, TEXT on
// SQLite).
func execAll(ctx context.Context, db *bun.DB, stmts ...string) error {
	jsonType := "TEXT"
	if db.Dialect().Name() == dialect.PG {
		jsonType = "JSONB"
	}
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, s := range stmts {
			s = strings.ReplaceAll(s, " JSON", " "+jsonType)
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("%w\n%s", err, s)
			}
		}
		return nil
	})
}
