package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// exampleScripts is the scripts directory of the examples: normalize_phone
// and score_lead transforms, the email_not_disposable validator.
const exampleScripts = "../../examples/lua"

// scriptsWorkflow uses a Lua transform and a Lua validator of exampleScripts.
const scriptsWorkflow = `{"name": "scripts", "steps": [
	{"id": "check", "type": "VALIDATION", "config": {"validator": "email_not_disposable"}},
	{"id": "norm", "type": "DATA_TRANSFORM", "dependsOn": ["check"], "config": {"operations": [
		{"type": "transform", "name": "normalize_phone", "config": {"defaultCountryCode": "44"}}]}}]}`

// scriptsDir makes a scripts directory from files (relative path → source).
func scriptsDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(src), 0o644))
	}
	return dir
}

func TestRunScriptsDir(t *testing.T) {
	wf := writeFile(t, "wf.json", scriptsWorkflow)
	bad := scriptsDir(t, map[string]string{
		"transforms/good.lua":     "return input",
		"transforms/broken.lua":   "local x = 1\nreturn {a = x +}\n",
		"validators/unclosed.lua": "if input then\n  return true\n",
		"validators/bad-name.lua": "return true",
	})
	tests := []struct {
		name     string
		args     []string
		env      string // WEFT_SCRIPTS_DIR
		wantCode int
		wantOut  []string
		wantErr  []string
	}{
		{name: "the example scripts", args: []string{"--scripts-dir", exampleScripts, "--input", `{"email": "ada@example.com", "phone": "020 7946 0018"}`},
			wantCode: exitOK, wantOut: []string{"COMPLETED", `"phone": "+442079460018"`}},
		{name: "from the environment", env: exampleScripts, args: []string{"--input", `{"email": "ada@example.com", "phone": "020 7946 0018"}`},
			wantCode: exitOK, wantOut: []string{`"phone": "+442079460018"`}},
		{name: "a Lua validator rejects", args: []string{"--scripts-dir", exampleScripts, "--input", `{"email": "joe@mailinator.com"}`},
			wantCode: exitFailed, wantOut: []string{"VALIDATION_FAILED", "mailinator.com is a disposable e-mail domain"}},
		{name: "without the scripts", args: []string{}, wantCode: exitUsage,
			wantErr: []string{`unknown validator "email_not_disposable"`, `unknown transform "normalize_phone"`}},
		{name: "every broken file, at its line and column", args: []string{"--scripts-dir", bad}, wantCode: exitUsage,
			wantErr: []string{
				filepath.Join(bad, "transforms", "broken.lua") + `:2:16: Lua syntax error near "}"`,
				filepath.Join(bad, "validators", "unclosed.lua") + ":3:1: Lua syntax error", // at the end of the source
				filepath.Join(bad, "validators", "bad-name.lua") + `: component "bad-name": name must be`,
			}},
		{name: "not a directory", args: []string{"--scripts-dir", filepath.Join(bad, "nope")}, wantCode: exitUsage,
			wantErr: []string{"--scripts-dir " + filepath.Join(bad, "nope") + ": not a directory"}},
		{name: "neither transforms nor validators", args: []string{"--scripts-dir", filepath.Join(exampleScripts, "transforms")}, wantCode: exitUsage,
			wantErr: []string{"holds neither transforms/ nor validators/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("WEFT_SCRIPTS_DIR", tt.env)
			code, out, errOut := weft(t, "", append([]string{"run", wf, "--quiet"}, tt.args...)...)
			require.Equal(t, tt.wantCode, code, "stdout %q stderr %q", out, errOut)
			for _, w := range tt.wantOut {
				require.Contains(t, out, w)
			}
			for _, w := range tt.wantErr {
				require.Contains(t, errOut, w)
			}
		})
	}
}

func TestValidateScriptsDir(t *testing.T) {
	t.Parallel()
	wf := writeFile(t, "wf.json", scriptsWorkflow)
	code, out, errOut := weft(t, "", "validate", "--scripts-dir", exampleScripts, wf)
	require.Equal(t, exitOK, code, "stdout %q stderr %q", out, errOut)
	require.Contains(t, out, "valid (2 steps)")
}

// syncBuffer is a bytes.Buffer safe to read while a server writes its log.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServeScriptsDir: weft serve registers the scripts of --scripts-dir, and
// refuses to start when one does not compile.
func TestServeScriptsDir(t *testing.T) {
	t.Parallel()
	t.Run("a syntax error fails startup", func(t *testing.T) {
		t.Parallel()
		dir := scriptsDir(t, map[string]string{"transforms/broken.lua": "return ("})
		var out, errb bytes.Buffer
		code := run(t.Context(), []string{"serve", "--no-auth", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "w.db"),
			"--scripts-dir", dir}, nil, &out, &errb)
		require.Equal(t, exitUsage, code, errb.String())
		require.Contains(t, errb.String(), filepath.Join(dir, "transforms", "broken.lua")+":1:9: Lua syntax error: unexpected end of source")
	})
	t.Run("the scripts are components", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		var out, errb syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"serve", "--no-auth", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "w.db"),
				"--sqlite-synchronous", "NORMAL", "--scripts-dir", exampleScripts}, nil, &out, &errb)
		}()
		t.Cleanup(func() {
			cancel()
			require.Equal(t, exitOK, <-done, errb.String())
		})
		var addr string
		serving := regexp.MustCompile(`msg=serving addr=(\S+)`)
		require.Eventually(t, func() bool {
			m := serving.FindStringSubmatch(errb.String())
			if m != nil {
				addr = m[1]
			}
			return m != nil
		}, procGuard, 10*time.Millisecond, "weft serve did not start: %s", &errb)

		post := func(path, body string) (int, map[string]any) {
			res, err := http.Post("http://"+addr+path, "application/json", strings.NewReader(body))
			require.NoError(t, err)
			defer res.Body.Close()
			data, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			var v map[string]any
			require.NoError(t, json.Unmarshal(data, &v), string(data))
			return res.StatusCode, v
		}
		status, wf := post("/api/v1/workflows", scriptsWorkflow)
		require.Equal(t, http.StatusCreated, status, wf)
		status, exec := post("/api/v1/workflows/"+wf["id"].(string)+"/execute?wait=2m",
			`{"input": {"email": "ada@example.com", "phone": "+44 20 7946 0018"}}`)
		require.Equal(t, http.StatusOK, status, exec)
		require.Equal(t, "COMPLETED", exec["status"], exec)
		require.Equal(t, "+442079460018", exec["output"].(map[string]any)["phone"])
	})
}
