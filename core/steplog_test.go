package core_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// logStep logs the lines of its config; it exercises StepRun.Log.
type logStep struct{ lines *core.ValueTemplate }

func (*logStep) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: "logger", New: func() sdk.Component { return &logStep{} }}
}

func (s *logStep) Compile(sc *core.StepCompiler) error {
	s.lines = sc.Template(sc.Config()["lines"], "lines")
	return nil
}

func (s *logStep) Execute(ctx context.Context, r *core.StepRun) (any, error) {
	v, err := r.Render(ctx, s.lines)
	if err != nil {
		return nil, err
	}
	for _, l := range v.([]any) {
		r.Log(l.(string))
	}
	return "done", nil
}

func TestStepLogsInTheRecord(t *testing.T) {
	t.Parallel()
	reg, _ := newRegistry(t)
	require.NoError(t, reg.Register(core.Entry{Origin: core.OriginCompiled, Info: (&logStep{}).Info()}))
	store := core.NewMemoryStore()
	eng := core.New(core.Options{Registry: reg, Store: store, Secrets: core.MapSecrets{"token": "s3cr3t-value"}})

	long := strings.Repeat("é", core.MaxStepLogLineSize) // two bytes a rune: cut on a rune boundary
	many := make([]any, core.MaxStepLogLines+5)
	for i := range many {
		many[i] = fmt.Sprintf("line %d", i)
	}
	exec := execute(t, eng, `{"name": "logs", "steps": [
	  {"id": "a", "type": "logger", "config": {"lines": ["token {{secrets.token}}", "`+long+`"]}},
	  {"id": "b", "type": "logger", "dependsOn": ["a"], "config": {"lines": "{{input.many}}"}}]}`, map[string]any{"many": many})
	require.Equal(t, core.StatusCompleted, exec.Status, "%v", exec.Error)

	stored, err := store.GetExecution(t.Context(), exec.ID)
	require.NoError(t, err)
	a := stored.Steps["a"].History[0].Logs
	require.Equal(t, "token "+core.Redacted, a[0], "secrets are redacted")
	require.Equal(t, strings.Repeat("é", core.MaxStepLogLineSize/2)+"…", a[1])

	b := stored.Steps["b"].History[0].Logs
	require.Len(t, b, core.MaxStepLogLines)
	require.Equal(t, "line 98", b[core.MaxStepLogLines-2])
	require.Equal(t, "… 6 more lines not kept", b[core.MaxStepLogLines-1])
}
