package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/db"
	"github.com/weftworks/weft/db/dbtest"
	"github.com/weftworks/weft/server"
)

// Two instances share PostgreSQL: a key revoked through one stops working
// on the other at once — the other's cache is dropped by the database's
// notification, not by its TTL, which this test stops.
func TestCatalogChangesAcrossInstances(t *testing.T) {
	dsn := dbtest.PostgresDSN(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	one, err := db.Open(ctx, dsn, db.Options{})
	require.NoError(t, err)
	defer one.Close()
	two, err := db.Open(ctx, dsn, db.Options{NoMigrate: true})
	require.NoError(t, err)
	defer two.Close()

	changes, err := two.Store().CatalogChanges(ctx)
	require.NoError(t, err)
	eng := core.New(core.Options{Registry: steps.NewRegistry(steps.Options{}), Store: two.Store()})
	srv, err := server.New(server.Options{Engine: eng, Catalog: two.Store(), Keys: two.Store(), CatalogChanges: changes})
	require.NoError(t, err)
	server.FreezeLookups(srv, time.Now()) // cached for good, but for notifications

	secret, key, err := server.CreateKey(ctx, one.Store(), "elsewhere", server.RoleViewer)
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
