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
	"github.com/weftworks/weft/core/storetest"
	"github.com/weftworks/weft/db"
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

// postgresDSN returns a DSN to a fresh schema of the test database, dropped
// after the test, or skips when PostgreSQL is not configured.
func postgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("WEFT_TEST_POSTGRES_DSN")
	if base == "" {
		t.Skip("PostgreSQL tests skipped: set WEFT_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run them")
	}
	schema := fmt.Sprintf("weft_test_%d", rand.Int64N(1<<40))
	admin, err := db.Open(context.Background(), base, db.Options{NoMigrate: true})
	require.NoError(t, err, "WEFT_TEST_POSTGRES_DSN")
	_, err = admin.Bun().ExecContext(context.Background(), "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Bun().ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestStoreConformance(t *testing.T) {
	t.Parallel()
	testEachDB(t, func(t *testing.T, b backend) {
		storetest.Run(t, func(t *testing.T) core.Store { return openDB(t, b.dsn(t)).Store() })
	})
}
