package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/examples/mockapi"
)

// weft runs the CLI in-process and returns its exit code, stdout and stderr.
func weft(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"no arguments", nil, exitUsage, "", "Usage:"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"unknown command, near one", []string{"exeucte"}, exitUsage, "", `unknown command "exeucte"; did you mean "execute"?`},
		{"unknown subcommand, near one", []string{"workflows", "lsit"}, exitUsage, "", `unknown command "lsit"; did you mean "list"?`},
		{"help", []string{"help"}, exitOK, "weft validate FILE", ""},
		{"version", []string{"version"}, exitOK, "weft ", ""},
		{"validate without files", []string{"validate"}, exitUsage, "", "Usage: weft validate"},
		{"run without file", []string{"run"}, exitUsage, "", "give exactly one workflow file"},
		{"run with two files", []string{"run", "a.json", "b.json"}, exitUsage, "", "give exactly one workflow file"},
		{"unknown flag", []string{"run", "--nope", "a.json"}, exitUsage, "", "flag provided but not defined: -nope"},
		{"missing file", []string{"validate", "/does/not/exist.json"}, exitFailed, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := weft(t, "", tt.args...)
			require.Equal(t, tt.wantCode, code, "stdout %q stderr %q", out, errOut)
			require.Contains(t, out, tt.wantOut)
			require.Contains(t, errOut, tt.wantErr)
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := "../../examples/lead-distribution.json"
	bad := writeFile(t, "bad.json", `{
  "name": "bad",
  "steps": [
    {"id": "a", "type": "HTTP_REQUEST", "config": {"url": "ftp://x"}, "dependsOn": ["b"]},
    {"id": "b", "type": "WAIT", "config": {"duration": 1}, "dependsOn": ["a"], "colour": "red"}
  ]
}`)
	code, out, _ := weft(t, "", "validate", good)
	require.Equal(t, exitOK, code)
	require.Equal(t, good+": valid (4 steps)\n", out)

	code, out, _ = weft(t, "", "validate", good, bad)
	require.Equal(t, exitFailed, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, []string{
		good + ": valid (4 steps)",
		bad + ": steps[0].config.url: \"ftp://x\" is not an http:// or https:// URL (line 4, column 52)",
		bad + ": steps[1].colour: unknown field \"colour\" (known: id, name, description, type, order, config, dependsOn, retryPolicy, timeout, circuitBreaker, onError, idempotent, metadata) (line 5, column 80)",
		bad + ": steps[1].dependsOn: dependency cycle: b → a → b (line 5, column 60)",
	}, lines, "every problem as FILE: path: message")

	malformed := writeFile(t, "malformed.json", "{\n  \"name\": \"x\",\n  \"steps\": [\n")
	code, out, _ = weft(t, "", "validate", malformed)
	require.Equal(t, exitFailed, code)
	require.Equal(t, malformed+": invalid JSON: unexpected end of JSON input (line 4, column 1)\n", out)

	yaml := writeFile(t, "wf.yaml", "name: y\nsteps:\n  - id: pause\n    type: WAIT\n    config: {duration: 1}\n")
	code, out, _ = weft(t, "", "validate", yaml)
	require.Equal(t, exitOK, code, out)
}

// mock starts the mock API; examples point at it through the apiBase input.
func mock(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(mockapi.New())
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRunJSON(t *testing.T) {
	t.Parallel()
	base := mock(t)
	code, out, errOut := weft(t, "", "run", "../../examples/lead-distribution.json",
		"--input", `{"leadId": "42", "apiBase": "`+base+`"}`, "--json")
	require.Equal(t, exitOK, code, errOut)

	var rec struct {
		ID     string         `json:"id"`
		Status string         `json:"status"`
		Output map[string]any `json:"output"`
		Steps  map[string]struct {
			Status     string         `json:"status"`
			Attempts   int            `json:"attempts"`
			Output     any            `json:"output"`
			Error      map[string]any `json:"error"`
			StartedAt  string         `json:"startedAt"`
			FinishedAt string         `json:"finishedAt"`
			DurationMs *int64         `json:"durationMs"`
		} `json:"steps"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rec), out)
	require.Equal(t, "COMPLETED", rec.Status)
	require.NotEmpty(t, rec.ID)
	require.Len(t, rec.Steps, 6, "four steps and the two inside the PARALLEL")
	for id, s := range rec.Steps {
		require.Equal(t, "COMPLETED", s.Status, id)
		require.Equal(t, 1, s.Attempts, id)
		require.NotEmpty(t, s.StartedAt, id)
		require.NotEmpty(t, s.FinishedAt, id)
		require.NotNil(t, s.DurationMs, id)
		require.Nil(t, s.Error, id)
	}
	require.Contains(t, rec.Output, "carrier_a")

	// Progress on stderr: one line per step start and finish.
	for _, id := range []string{"get_lead", "shape", "qualified", "fan_out", "carrier_a", "carrier_b"} {
		require.Regexp(t, `✓ `+id+` +\S+ +COMPLETED attempt 1`, errOut)
	}
	require.Contains(t, errOut, "✓ COMPLETED")
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	base := mock(t)
	failing := writeFile(t, "fail.json", `{"name": "fails", "steps": [
		{"id": "missing", "type": "HTTP_REQUEST", "config": {"url": "{{apiBase}}/leads/nope"}}]}`)
	invalid := writeFile(t, "invalid.json", `{"name": "invalid", "steps": [{"id": "x", "type": "NOPE"}]}`)
	inputFile := writeFile(t, "input.json", `{"leadId": "42", "apiBase": "`+base+`"}`)

	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"completed, flags after the file", "", []string{"run", "../../examples/lead-distribution.json", "--input", "@" + inputFile, "--quiet"},
			exitOK, "COMPLETED", ""},
		{"input from stdin", `{"leadId": "42", "apiBase": "` + base + `"}`, []string{"run", "--input", "@-", "../../examples/steps/validation.json"},
			exitOK, "COMPLETED", "✓ check"},
		{"failed", "", []string{"run", failing, "--input", `{"apiBase": "` + base + `"}`},
			exitFailed, "FAILED", "HTTP_404"},
		{"invalid workflow", "", []string{"run", invalid}, exitUsage, "", `unknown step type "NOPE"`},
		{"bad input JSON", "", []string{"run", failing, "--input", "{nope"}, exitUsage, "", "--input: invalid JSON"},
		{"bad egress flag", "", []string{"run", failing, "--egress-deny", "not-a-cidr"}, exitUsage, "", "not-a-cidr"},
		{"metadata address refused", "", []string{"run", failing, "--input", `{"apiBase": "http://169.254.169.254"}`},
			exitFailed, "FORBIDDEN_ADDRESS", ""},
		{"private addresses refused on request", "", []string{"run", failing, "--egress-deny-private", "--input", `{"apiBase": "` + base + `"}`},
			exitFailed, "FORBIDDEN_ADDRESS", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := weft(t, tt.stdin, tt.args...)
			require.Equal(t, tt.wantCode, code, "stdout %q stderr %q", out, errOut)
			require.Contains(t, out, tt.wantOut)
			require.Contains(t, errOut, tt.wantErr)
		})
	}
}

func TestRunSecretsFromEnvironment(t *testing.T) {
	base := mock(t)
	t.Setenv("WEFT_SECRET_TOKEN", "tok-9f8e7d6c")
	wf := writeFile(t, "secret.json", `{"name": "secret", "steps": [
		{"id": "call", "type": "HTTP_REQUEST", "config": {"method": "POST", "url": "{{apiBase}}/echo", "headers": {"Authorization": "Bearer {{secrets.token}}"}}}]}`)
	code, out, errOut := weft(t, "", "run", wf, "--json", "--input", `{"apiBase": "`+base+`"}`)
	require.Equal(t, exitOK, code, errOut)
	require.NotContains(t, out, "tok-9f8e7d6c", "the secret is used but never printed")
	require.Contains(t, out, "Bearer [REDACTED]")
}

// TestBinary runs the real binary and checks the exit codes a shell sees.
func TestBinary(t *testing.T) {
	t.Parallel()
	bin := weftBinary(t)

	cmd := exec.Command(bin, "validate", "../../examples/lead-distribution.json")
	require.NoError(t, cmd.Run())

	cmd = exec.Command(bin, "run", writeFile(t, "x.json", `{"name": "x", "steps": [{"id": "x", "type": "NOPE"}]}`))
	err := cmd.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, exitUsage, ee.ExitCode())
}
