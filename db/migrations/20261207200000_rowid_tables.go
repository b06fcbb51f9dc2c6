package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// On SQLite, executions and their steps in ordinary (rowid) tables. They
// were WITHOUT ROWID (CLUSTERED), stored in their primary key's B-tree,
// which SQLite means for small rows: a row there keeps at most ~1 KB in its
// page, the rest on an overflow page, and interior pages hold copies of
// whole rows' prefixes — a few to a page. An execution's row (its output)
// and a PARALLEL's step row (its branches' outputs) passed 1 KB: every
// execution wrote two overflow pages, and the steps' tree was 7 levels
// deep at 20,000 executions. As rowid tables (rows up to ~4 KB in their
// page, interior pages of integers, the primary key in an index of its own)
// the same database is half the size, 3 levels deep, and make bench-e2e
// ran ~9 % more executions/s (docs/performance.md). PostgreSQL's tables
// are heaps already: nothing to do there.
//
// The tables are rebuilt from their own definitions (columns added since
// included) with foreign-key enforcement off, so that dropping the old
// table of executions does not cascade to the steps.
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return rebuildSQLite(ctx, db, func(def string) string {
			return strings.TrimSuffix(strings.TrimRight(def, " \t\n"), "WITHOUT ROWID")
		})
	}, func(ctx context.Context, db *bun.DB) error {
		return rebuildSQLite(ctx, db, func(def string) string {
			def = strings.TrimRight(def, " \t\n")
			if strings.HasSuffix(def, "WITHOUT ROWID") {
				return def
			}
			return def + " WITHOUT ROWID"
		})
	})
}

// rebuildSQLite rebuilds workflow_executions and step_executions with
// their definitions changed by change, keeping their rows and indexes.
func rebuildSQLite(ctx context.Context, db *bun.DB, change func(def string) string) error {
	if db.Dialect().Name() != dialect.SQLite {
		return nil
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Outside a transaction, where the pragma takes effect; on again
	// before the connection goes back to the pool.
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return err
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON") }()
	return conn.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		type table struct{ name, def string }
		var tables []table
		for _, name := range []string{"workflow_executions", "step_executions"} {
			var def string
			if err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&def); err != nil {
				return fmt.Errorf("definition of %s: %w", name, err)
			}
			tables = append(tables, table{name, def})
		}
		for _, t := range tables {
			def := change(t.def)
			if def == t.def {
				continue // already so
			}
			var indexes []string
			rows, err := tx.QueryContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, t.name)
			if err != nil {
				return err
			}
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					_ = rows.Close()
					return err
				}
				indexes = append(indexes, s)
			}
			if err := closeRows(rows); err != nil {
				return err
			}
			// The columns and constraints: from the first parenthesis (the
			// name before it may be quoted, as a renamed table's is).
			cols := strings.Index(def, "(")
			if cols < 0 {
				return fmt.Errorf("unexpected definition of %s: %.60q", t.name, def)
			}
			stmts := []string{
				"CREATE TABLE " + t.name + "_rebuilt " + def[cols:],
				"INSERT INTO " + t.name + "_rebuilt SELECT * FROM " + t.name,
				"DROP TABLE " + t.name,
				"ALTER TABLE " + t.name + "_rebuilt RENAME TO " + t.name,
			}
			for _, s := range append(stmts, indexes...) {
				if _, err := tx.ExecContext(ctx, s); err != nil {
					return fmt.Errorf("rebuild %s: %w\n%s", t.name, err, s)
				}
			}
		}
		// Nothing dangles: every step row still has its execution.
		rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
		if err != nil {
			return err
		}
		dangling := rows.Next()
		if err := closeRows(rows); err != nil {
			return err
		}
		if dangling {
			return fmt.Errorf("rebuild: foreign_key_check found step rows without their execution")
		}
		return nil
	})
}

func closeRows(rows *sql.Rows) error {
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		return err
	}
	return rows.Close()
}
