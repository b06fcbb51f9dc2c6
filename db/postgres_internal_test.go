package db

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// FreshPostgresDSN returns a DSN to a fresh schema of the test database,
// dropped after the test, or skips when PostgreSQL is not configured. (In
// a _test file of package db, so that the tests of db and of db_test share
// it.)
func FreshPostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("WEFT_TEST_POSTGRES_DSN")
	if base == "" {
		t.Skip("PostgreSQL tests skipped: set WEFT_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run them")
	}
	schema := fmt.Sprintf("weft_test_%d", rand.Int64N(1<<40))
	admin, err := Open(context.Background(), base, Options{NoMigrate: true})
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
