package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/db"
)

// Two instances share PostgreSQL: a key revoked through one stops working
// on the other at once — the other's cache is dropped by the database's
// notification, not by its TTL, which this test stops.
func TestCatalogChangesAcrossInstances(t *testing.T) {
	base := os.Getenv("WEFT_TEST_POSTGRES_DSN")
	if base == "" {
		t.Skip("PostgreSQL tests skipped: set WEFT_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run them")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin, err := db.Open(ctx, base, db.Options{NoMigrate: true})
	require.NoError(t, err)
	schema := "srv_catalog_changes"
	for _, q := range []string{"DROP SCHEMA IF EXISTS " + schema + " CASCADE", "CREATE SCHEMA " + schema} {
		_, err := admin.Bun().ExecContext(ctx, q)
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		_, _ = admin.Bun().ExecContext(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		_ = admin.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	dsn := base + sep + "search_path=" + schema
	one, err := db.Open(ctx, dsn, db.Options{})
	require.NoError(t, err)
	defer one.Close()
	two, err := db.Open(ctx, dsn, db.Options{NoMigrate: true})
	require.NoError(t, err)
	defer two.Close()

	changes, err := two.Store().CatalogChanges(ctx)
	require.NoError(t, err)
	eng := core.New(core.Options{Registry: steps.NewRegistry(steps.Options{}), Store: two.Store()})
	srv, err := New(Options{Engine: eng, Catalog: two.Store(), Keys: two.Store(), CatalogChanges: changes})
	require.NoError(t, err)
	frozen := time.Now()
	srv.keyCache.now = func() time.Time { return frozen } // cached for good, but for notifications
	srv.wfCache.now = srv.keyCache.now

	secret, key, err := CreateKey(ctx, one.Store(), "elsewhere", RoleViewer)
	require.NoError(t, err)
	status := func() int {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/workflows", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec.Code
	}
	require.Equal(t, http.StatusOK, status(), "the key works, and is cached")
	require.NoError(t, one.Store().RevokeKey(ctx, key.ID)) // through the other instance
	for status() != http.StatusUnauthorized {
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
