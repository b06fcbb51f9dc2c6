package db_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/storetest"
	"github.com/weftworks/weft/db"
	"github.com/weftworks/weft/db/dbtest"
)

// backend makes fresh, empty databases of one kind.
type backend struct {
	name string
	// dsn returns the DSN of a new empty database (an SQLite file, a
	// PostgreSQL schema), removed after the test.
	dsn func(t *testing.T) string
}

// testEachDB runs fn against SQLite, and against PostgreSQL when
// WEFT_TEST_POSTGRES_DSN is set (it skips there otherwise, saying how to
// enable it).
func testEachDB(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range []backend{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "weft.db") }},
		{"postgres", func(t *testing.T) string { return postgresDSN(t) }},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

func openDB(t *testing.T, dsn string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), dsn, db.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// postgresDSN returns a DSN to a fresh schema of the test database, or
// skips.
func postgresDSN(t testing.TB) string { return dbtest.PostgresDSN(t) }

func TestStoreConformance(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		storetest.Run(t, func(t *testing.T) core.Store { return openDB(t, b.dsn(t)).Store() })
	})
}
