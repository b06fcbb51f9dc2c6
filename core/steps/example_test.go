package steps_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
)

// TestLeadDistributionExample runs examples/lead-distribution.json against
// the mock API: every built-in it uses working together.
func TestLeadDistributionExample(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../examples/lead-distribution.json")
	require.NoError(t, err)
	m, base := mock(t)
	doc := strings.ReplaceAll(string(raw), "http://127.0.0.1:9100", base)
	eng := newEngine(t, engineOpts{})
	plan := compile(t, eng, doc)

	tests := []struct {
		name      string
		leadID    string
		qualified bool
	}{
		{name: "qualified lead fans out", leadID: "42", qualified: true},
		{name: "low score skips the fan-out", leadID: "7", qualified: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exec, err := eng.Execute(t.Context(), plan, map[string]any{"leadId": tt.leadID})
			require.NoError(t, err)
			requireCompleted(t, exec)
			shape := obj(t, step(t, exec, "shape").Output)
			require.NotContains(t, shape, "email")
			require.Contains(t, shape, "contactEmail")
			require.Equal(t, tt.qualified, obj(t, step(t, exec, "qualified").Output)["result"])
			if !tt.qualified {
				for _, id := range []string{"fan_out", "carrier_a", "carrier_b"} {
					require.Equal(t, core.StatusSkipped, step(t, exec, id).Status, id)
				}
				return
			}
			fan := obj(t, step(t, exec, "fan_out").Output)
			for _, c := range []string{"a", "b"} {
				body := obj(t, obj(t, fan["carrier_"+c])["body"])
				require.Equal(t, c, body["carrier"])
				require.Equal(t, shape, body["received"], "the carrier got the shaped lead")
				// premium = 100 + 1.5 × score
				require.Equal(t, 100+1.5*shape["score"].(float64), body["premium"])
			}
		})
	}
	require.Len(t, requestsTo(m, "/carriers/a"), 1)
}
