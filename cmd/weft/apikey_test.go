package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAPIKeyCommands(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "weft.db")
	code, out, errOut := weft(t, "", "apikey", "create", "--role", "operator", "--name", "ci", "--db", dsn)
	require.Equal(t, exitOK, code, errOut)
	key := strings.TrimSpace(out)
	require.Regexp(t, `^weft_[A-Za-z0-9_-]{43}$`, key, "only the key on stdout, for scripts")
	id := regexp.MustCompile(`id ([0-9a-f-]{36})`).FindStringSubmatch(errOut)
	require.NotNil(t, id, errOut)

	code, out, _ = weft(t, "", "apikey", "list", "--db", dsn)
	require.Equal(t, exitOK, code)
	require.Contains(t, out, id[1])
	require.Contains(t, out, "operator")
	require.NotContains(t, out, key, "the list never shows a key")

	code, out, _ = weft(t, "", "apikey", "revoke", id[1], "--db", dsn)
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "revoked")
	_, out, _ = weft(t, "", "apikey", "list", "--db", dsn)
	require.Regexp(t, `operator\s+ci\s+\S+ \S+\s+\S+ \S+`, out, "a revocation time")

	for _, args := range [][]string{
		{"apikey"},
		{"apikey", "create", "--db", dsn},
		{"apikey", "create", "--role", "root", "--db", dsn},
		{"apikey", "revoke", "--db", dsn},
		{"apikey", "rotate", "--db", dsn},
	} {
		code, _, errOut := weft(t, "", args...)
		require.Equal(t, exitUsage, code, "%v: %s", args, errOut)
	}
	code, _, errOut = weft(t, "", "apikey", "revoke", "no-such-key", "--db", dsn)
	require.Equal(t, exitFailed, code)
	require.Contains(t, errOut, "not found")
}

// The CLI (and the server, which shares its registry) offers the LUA step
// type; a Lua syntax error is a validation problem, found before any run.
func TestLuaStepInTheCLI(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "lua.json")
	require.NoError(t, os.WriteFile(good, []byte(`{"name": "lua demo", "steps": [
		{"id": "score", "type": "LUA", "config": {"source": "return {hot = input.score > 50}"}}]}`), 0o644))
	code, out, errOut := weft(t, "", "run", good, "--input", `{"score": 72}`, "--quiet")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "COMPLETED")
	require.Contains(t, out, `"hot": true`)

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"name": "bad", "steps": [
		{"id": "x", "type": "LUA", "config": {"source": "return (("}}]}`), 0o644))
	code, out, _ = weft(t, "", "validate", bad)
	require.Equal(t, exitFailed, code)
	require.Contains(t, out, "steps[0].config.source")
	require.Contains(t, out, "Lua syntax error")
}

func TestModulesDirMustExist(t *testing.T) {
	code, _, errOut := weft(t, "", "worker", "--db", filepath.Join(t.TempDir(), "w.db"), "--modules-dir", filepath.Join(t.TempDir(), "nope"))
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "--modules-dir")
}

func TestRunModulesDirMustExist(t *testing.T) {
	dir := t.TempDir()
	wf := filepath.Join(dir, "wf.json")
	require.NoError(t, os.WriteFile(wf, []byte(`{"name": "x", "steps": [{"id": "w", "type": "WAIT", "config": {"duration": 1}}]}`), 0o644))
	code, _, errOut := weft(t, "", "run", wf, "--modules-dir", filepath.Join(dir, "nope"))
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "--modules-dir")
}
