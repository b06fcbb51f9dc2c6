package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/db"
	"github.com/weftworks/weft/server"
)

// stamp is a timestamp in a record.
var stamp = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"`)

// micros writes a record with its timestamps cut to microseconds, as the
// databases keep them.
func micros(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return stamp.ReplaceAllStringFunc(string(data), func(s string) string {
		ts, err := time.Parse(time.RFC3339Nano, strings.Trim(s, `"`))
		require.NoError(t, err)
		return `"` + ts.Truncate(time.Microsecond).Format(time.RFC3339Nano) + `"`
	})
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestWaitAnswer: ?wait= answers with the record the database has (though
// it comes from the run, not read back), or with ?view=output / "Prefer:
// return=minimal" with the id, status and output alone.
func TestWaitAnswer(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dsn(t))
			id := e.create(e.leadWorkflow())
			op := e.keys[server.RoleOperator]
			status, hdr, got := e.call("POST", "/api/v1/workflows/"+id+"/execute?wait=2m", op, `{"input":{"leadId":"42"}}`)
			require.Equal(t, http.StatusOK, status, "%v", got)
			require.Equal(t, "COMPLETED", got["status"])
			// omitzero holds: nothing waited, so no record says when it woke
			// (not "0001-01-01T00:00:00Z").
			require.NotContains(t, got, "wakeAt")
			require.NotEmpty(t, got["steps"])
			for id, st := range got["steps"].(map[string]any) {
				require.NotContains(t, st, "wakeAt", "step %s", id)
				require.Contains(t, st, "startedAt", "step %s", id)
			}
			status, _, stored := e.call("GET", hdr.Get("Location"), op, nil)
			require.Equal(t, http.StatusOK, status)
			require.JSONEq(t, micros(t, stored), micros(t, got), "the answer is the stored record")

			for _, how := range []struct {
				query  string
				header []string
			}{{"&view=output", nil}, {"", []string{"Prefer", "respond-async, return=minimal"}}} {
				status, _, got = e.call("POST", "/api/v1/workflows/"+id+"/execute?wait=2m"+how.query, op, `{"input":{"leadId":"42"}}`, how.header...)
				require.Equal(t, http.StatusOK, status, "%v", got)
				require.Equal(t, []string{"executionId", "output", "status"}, keysOf(got))
				require.Equal(t, "COMPLETED", got["status"])
				_, _, x := e.call("GET", "/api/v1/executions/"+got["executionId"].(string), op, nil)
				require.Equal(t, x["output"], got["output"])
			}

			// A failed execution's compact answer says why.
			status, _, got = e.call("POST", "/api/v1/workflows/"+id+"/execute?wait=2m&view=output", op, `{"input":{"leadId":"nope"}}`)
			require.Equal(t, http.StatusOK, status, "%v", got)
			require.Equal(t, "FAILED", got["status"])
			require.Equal(t, []string{"error", "executionId", "output", "status"}, keysOf(got))
		})
	}
}

// TestAcceptedIsDurable: once a 202 is answered, the execution is in the
// database — another process reading it finds it — though the instance
// that runs it had not written it yet.
func TestAcceptedIsDurable(t *testing.T) {
	t.Parallel()
	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := dsn(t)
			e := newEnv(t, path)
			other, err := db.Open(context.Background(), path, db.Options{NoMigrate: true})
			require.NoError(t, err)
			defer other.Close()
			id := e.create(`{"name": "slow", "status": "ACTIVE", "steps": [{"id": "w", "type": "WAIT", "config": {"duration": 1500}}]}`)
			for i := range 5 {
				for _, query := range []string{"", "?wait=1ms"} {
					status, _, got := e.call("POST", "/api/v1/workflows/"+id+"/execute"+query, e.keys[server.RoleOperator], `{}`)
					require.Equal(t, http.StatusAccepted, status, "%v", got)
					x, err := other.Store().GetExecution(context.Background(), got["executionId"].(string))
					require.NoError(t, err, "round %d%s: the accepted execution is not in the database", i, query)
					require.False(t, x.Status.Terminal())
				}
			}
		})
	}
}
