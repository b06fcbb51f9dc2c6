package db_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/migrate"
	_ "modernc.org/sqlite"

	"github.com/weftworks/weft/db"
	"github.com/weftworks/weft/db/migrations"
)

// A SQLite database made before executions and steps moved to rowid tables
// is rebuilt when opened: every row, index and the steps' foreign key kept,
// the executions readable, and the tables rowid tables.
func TestRowidTablesMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")

	// The database as the weft before this migration left it.
	sqldb, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	old := bun.NewDB(sqldb, sqlitedialect.New())
	before := migrate.NewMigrations()
	for _, m := range migrations.Migrations.Sorted() {
		if m.Name < "20261207200000" {
			before.Add(m)
		}
	}
	m := migrate.NewMigrator(old, before)
	require.NoError(t, m.Init(ctx))
	_, err = m.Migrate(ctx)
	require.NoError(t, err)
	require.Contains(t, tableSQL(t, old, "step_executions"), "WITHOUT ROWID", "the old layout")
	big := `"` + strings.Repeat("x", 3000) + `"` // past what a WITHOUT ROWID row keeps in its page
	for i := range 50 {
		id := fmt.Sprintf("exec-%03d", i)
		_, err := old.ExecContext(ctx, `INSERT INTO workflow_executions (id, workflow_id, workflow_version, workflow_name, status,
			input, output, created_at, updated_at, due_at) VALUES (?, 'wf', 1, 'w', 'COMPLETED', '{"n":1}', ?, ?, ?, 0)`, id, big, i, i)
		require.NoError(t, err)
		for _, step := range []string{"a", "b"} {
			_, err := old.ExecContext(ctx, `INSERT INTO step_executions (execution_id, step_key, attempt, step_id, step_type,
				status, step_status, output) VALUES (?, ?, 1, ?, 'HTTP_REQUEST', 'COMPLETED', 'COMPLETED', ?)`, id, step, step, big)
			require.NoError(t, err)
		}
	}
	indexes := indexSQL(t, old)
	rows := contents(t, old)
	require.NoError(t, old.Close())

	d, err := db.Open(ctx, path, db.Options{})
	require.NoError(t, err)
	defer d.Close()
	for _, table := range []string{"workflow_executions", "step_executions"} {
		require.NotContains(t, tableSQL(t, d.Bun(), table), "WITHOUT ROWID", table)
	}
	require.Contains(t, tableSQL(t, d.Bun(), "step_executions"), "REFERENCES workflow_executions")
	require.Equal(t, indexes, indexSQL(t, d.Bun()), "the same indexes")
	require.Equal(t, rows, contents(t, d.Bun()), "the same rows")
	x, err := d.Store().GetExecution(ctx, "exec-007")
	require.NoError(t, err)
	require.Len(t, x.Steps, 2)
	require.Equal(t, strings.Repeat("x", 3000), x.Steps["b"].Output)
	var fk int
	require.NoError(t, d.Bun().QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk))
	require.Equal(t, 1, fk, "foreign keys are enforced again")

	// Down and up again: the layout flips, nothing else changes.
	for _, mig := range migrations.Migrations.Sorted() {
		if mig.Name < "20261207200000" {
			continue
		}
		mr := migrate.NewMigrator(d.Bun(), migrations.Migrations)
		require.NoError(t, mig.Down(ctx, mr, &mig))
		require.Contains(t, tableSQL(t, d.Bun(), "workflow_executions"), "WITHOUT ROWID")
		require.Equal(t, rows, contents(t, d.Bun()))
		require.NoError(t, mig.Up(ctx, mr, &mig))
		require.NotContains(t, tableSQL(t, d.Bun(), "workflow_executions"), "WITHOUT ROWID")
		require.Equal(t, indexes, indexSQL(t, d.Bun()))
		require.Equal(t, rows, contents(t, d.Bun()))
	}
}

func tableSQL(t *testing.T, b *bun.DB, name string) string {
	var s string
	require.NoError(t, b.QueryRowContext(context.Background(), `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&s))
	return s
}

// indexSQL lists the named indexes of the two tables, by name.
func indexSQL(t *testing.T, b *bun.DB) map[string]string {
	rows, err := b.QueryContext(context.Background(), `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
		AND tbl_name IN ('workflow_executions', 'step_executions')`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, s string
		require.NoError(t, rows.Scan(&name, &s))
		out[name] = s
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, out)
	return out
}

// contents is every row of the two tables, as text, in key order.
func contents(t *testing.T, b *bun.DB) []string {
	var out []string
	for _, q := range []string{
		`SELECT id || '|' || status || '|' || output || '|' || created_at || '|' || due_at FROM workflow_executions ORDER BY id`,
		`SELECT execution_id || '|' || step_key || '|' || attempt || '|' || output FROM step_executions ORDER BY execution_id, step_key, attempt`,
	} {
		rows, err := b.QueryContext(context.Background(), q)
		require.NoError(t, err)
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out = append(out, s)
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
	}
	require.Len(t, out, 150)
	return out
}
