package db_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/db"
	"github.com/weftworks/weft/db/dbtest"
)

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		dsn  string
		opts db.Options
		want string
	}{
		{"no DSN", "", db.Options{}, "no database"},
		{"unreachable PostgreSQL", "postgres://weft:secret@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", db.Options{}, "cannot reach database postgres://weft:xxxxx@127.0.0.1:1/test"},
		{"SQLite file in a missing directory", filepath.Join(dir, "missing", "weft.db"), db.Options{}, "cannot open database"},
		{"SQLite file that is a directory", dir, db.Options{}, "cannot write database"},
		{"bad synchronous mode", filepath.Join(dir, "x.db"), db.Options{Synchronous: "OFF"}, "synchronous must be FULL or NORMAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := db.Open(context.Background(), tt.dsn, tt.opts)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.NotContains(t, err.Error(), "secret", "passwords never reach messages")
		})
	}
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		dsn := b.dsn(t)
		d := openDB(t, dsn)
		pending, err := d.Pending(context.Background())
		require.NoError(t, err)
		require.Empty(t, pending, "Open applies every migration")
		applied, err := d.Migrate(context.Background())
		require.NoError(t, err)
		require.Empty(t, applied, "migrating again does nothing")
		require.NoError(t, d.Close())

		// A newer weft added a migration: this one refuses the database
		// rather than risk corrupting it.
		d = openDB(t, dsn)
		_, err = d.Bun().ExecContext(context.Background(),
			`INSERT INTO bun_migrations (name, group_id, migrated_at) VALUES ('29991231000000_from_the_future', 99, CURRENT_TIMESTAMP)`)
		require.NoError(t, err)
		require.NoError(t, d.Close())
		_, err = db.Open(context.Background(), dsn, db.Options{})
		require.ErrorIs(t, err, db.ErrNewerSchema)
		require.Contains(t, err.Error(), "29991231000000_from_the_future")
		_, err = db.Open(context.Background(), dsn, db.Options{NoMigrate: true})
		require.ErrorIs(t, err, db.ErrNewerSchema)
	})
}

// Processes and goroutines that open the same SQLite file at once all get
// it (weft worker and weft submit started together, say).
func TestOpenSameFileAtOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "weft.db")
	d, err := db.Open(context.Background(), path, db.Options{})
	require.NoError(t, err)
	require.NoError(t, d.Close())
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			d, err := db.Open(context.Background(), path, db.Options{})
			if err == nil {
				err = d.Close()
			}
			errs <- err
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}

// TestCommitterReconnects: the committer writes on a connection of its own;
// when PostgreSQL drops it (a restart, a failover, an administrator), the
// next write takes another instead of failing.
func TestCommitterReconnects(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(postgresDSN(t))
	require.NoError(t, err)
	app := fmt.Sprintf("weft_test_%d", rand.Int64N(1<<40))
	q := u.Query()
	q.Set("application_name", app) // names this database's connections, and no one else's
	u.RawQuery = q.Encode()
	store := openDB(t, u.String()).Store()
	x, lease := leasedExecution(t, store, nil)
	require.NoError(t, writeStep(store, x, lease, "a", core.StatusRunning, false))

	admin, err := db.Open(context.Background(), os.Getenv(dbtest.EnvDSN), db.Options{NoMigrate: true})
	require.NoError(t, err)
	defer admin.Close()
	var killed int
	require.NoError(t, admin.Bun().NewRaw(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = ?`, app).
		Scan(context.Background(), &killed))
	require.Positive(t, killed)

	require.NoError(t, writeStep(store, x, lease, "a", core.StatusCompleted, false))
	require.NoError(t, writeStep(store, x, lease, "b", core.StatusCompleted, false))
}
