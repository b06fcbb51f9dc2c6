// Package dbtest gives tests and benchmarks a PostgreSQL schema of their
// own in a shared database, so that they run side by side and leave nothing
// behind. It talks to PostgreSQL directly (pgx), not through package db, so
// that db's own tests can use it.
package dbtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable that points the tests at a PostgreSQL database.
const EnvDSN = "WEFT_TEST_POSTGRES_DSN"

// SkipMessage says why PostgreSQL tests are skipped and how to run them.
const SkipMessage = "PostgreSQL tests skipped: set " + EnvDSN + "=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run them"

// FreshSchema creates an empty schema, named prefix and a random number, in
// the database dsn points at. It returns dsn with that schema as its
// search_path, and a function that drops the schema.
func FreshSchema(ctx context.Context, dsn, prefix string) (string, func(), error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	schema := fmt.Sprintf("%s_%d", prefix, rand.Int64N(1<<40))
	if err := exec(ctx, dsn, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("postgres: create schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() { _ = exec(context.Background(), dsn, "DROP SCHEMA "+schema+" CASCADE") }, nil
}

// PostgresDSN returns a DSN to a fresh schema of the database EnvDSN names,
// dropped when the test ends, or skips the test when EnvDSN is not set.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		t.Skip(SkipMessage)
	}
	dsn, drop, err := FreshSchema(context.Background(), base, "weft_test")
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	t.Cleanup(drop)
	return dsn
}

// exec runs one statement on a connection of its own.
func exec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}
