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
// SQLite), and CLUSTERED after a table's closing parenthesis makes SQLite
// store the table in its primary key (WITHOUT ROWID: one B-tree to write
// instead of two; PostgreSQL has no such option and ignores it). Only for
// small rows: 20261207200000_rowid_tables undid it for executions and
// steps, whose rows pass a kilobyte.
func execAll(ctx context.Context, db *bun.DB, stmts ...string) error {
	jsonType, clustered := "TEXT", " WITHOUT ROWID"
	if db.Dialect().Name() == dialect.PG {
		jsonType, clustered = "JSONB", ""
	}
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		for _, s := range stmts {
			s = strings.ReplaceAll(s, " JSON", " "+jsonType)
			s = strings.ReplaceAll(s, ") CLUSTERED", ")"+clustered)
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("%w\n%s", err, s)
			}
		}
		return nil
	})
}
