package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// TestProgressStatusLine: on a terminal, the last line shows the running
// steps and how long they have run, redrawn as time passes and erased
// before each event line; elsewhere there is no such line. The clock is
// the printer's own, moved by hand.
func TestProgressStatusLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	p := &progressPrinter{w: &buf, live: true, running: map[string]runningStep{}, now: func() time.Time { return now }}
	p.start("wf (2 steps)", []string{"get_lead", "shape"}) // no ticker: p.stop stays nil without a terminal? it is live here
	p.halt()                                               // stop the ticker; the test draws by hand
	buf.Reset()

	p.started("get_lead", "HTTP_REQUEST", 1, now)
	require.Equal(t, "  … get_lead HTTP_REQUEST   RUNNING   attempt 1\n  ... running: get_lead 0.0s", buf.String())
	buf.Reset()
	now = now.Add(2500 * time.Millisecond)
	p.tick()
	require.Equal(t, "\r\x1b[K  ... running: get_lead 2.5s", buf.String(), "the time moves on the same line")
	buf.Reset()
	now = now.Add(70 * time.Second)
	p.started("shape", "DATA_TRANSFORM", 1, now.Add(-time.Second))
	require.Equal(t, "\r\x1b[K  … shape    DATA_TRANSFORM RUNNING   attempt 1\n  ... running: get_lead 1m12s, shape 1.0s", buf.String())
	buf.Reset()
	p.retrying("get_lead", "HTTP_REQUEST", 1, &sdk.Error{Code: "HTTP_503", Message: "down"}, 100*time.Millisecond)
	require.Equal(t, "\r\x1b[K  ↻ get_lead HTTP_REQUEST   FAILED    attempt 1: HTTP_503: down; retrying in 100ms\n  ... running: shape 1.0s", buf.String())
	buf.Reset()
	p.finished("shape", "DATA_TRANSFORM", core.StatusCompleted, 1, 3*time.Millisecond, nil)
	require.Equal(t, "\r\x1b[K  ✓ shape    DATA_TRANSFORM COMPLETED attempt 1  3ms\n", buf.String(), "nothing runs: no status line")
	buf.Reset()
	p.done(core.StatusCompleted, 73000)
	require.Equal(t, "✓ COMPLETED in 73000ms\n", buf.String())

	// Not a terminal: event lines only.
	buf.Reset()
	plain := newProgress(&buf, false)
	plain.start("wf", []string{"a"})
	plain.started("a", "WAIT", 1, time.Time{})
	plain.tick()
	plain.done(core.StatusCompleted, 1)
	require.NotContains(t, buf.String(), "running:")
	require.NotContains(t, buf.String(), "\x1b")
	require.Equal(t, 3, strings.Count(buf.String(), "\n"))
}

func TestFmtElapsed(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{0: "0.0s", -time.Second: "0.0s", 1234 * time.Millisecond: "1.2s", 59900 * time.Millisecond: "59.9s", 125 * time.Second: "2m05s"} {
		require.Equal(t, want, fmtElapsed(d), "%v", d)
	}
}

func TestDidYouMean(t *testing.T) {
	t.Parallel()
	known := []string{"workflows", "execute", "executions", "breakers", "auth", "validate", "run", "serve"}
	for typed, want := range map[string]string{
		"exeucte":    `; did you mean "execute"?`,
		"executoin":  `; did you mean "executions"?`,
		"workflow":   `; did you mean "workflows"?`,
		"serv":       `; did you mean "serve"?`,
		"brakers":    `; did you mean "breakers"?`,
		"frobnicate": "",
		"x":          "",
		"":           "",
	} {
		require.Equal(t, want, didYouMean(typed, known), "%q", typed)
	}
}

func TestCredentialsFile(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/sub/credentials"
	c, err := readCredentials(path)
	require.NoError(t, err, "a missing file is empty")
	require.Empty(t, c.Servers)
	require.NoError(t, saveCredential(path, "http://127.0.0.1:8080/", "weft_a"))
	require.NoError(t, saveCredential(path, "http://127.0.0.1:9000", "weft_b"))
	require.NoError(t, saveCredential(path, "http://127.0.0.1:8080", "weft_c"))
	c, err = readCredentials(path)
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:8080", c.Current, "the last one written")
	require.Equal(t, map[string]serverCredential{"http://127.0.0.1:8080": {APIKey: "weft_c"}, "http://127.0.0.1:9000": {APIKey: "weft_b"}}, c.Servers)
	mode, err := statMode(path)
	require.NoError(t, err)
	require.Equal(t, uint32(0o600), mode, "readable by the user only")
	require.NoError(t, writeFileString(path, "{not json"))
	_, err = readCredentials(path)
	require.ErrorContains(t, err, "credentials file "+path)
	require.NoError(t, saveCredential("", "http://x", "k"), "no file: nothing kept")
}

func TestNormalizeServer(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.0.0.1:8080":          "http://127.0.0.1:8080",
		"http://127.0.0.1:8080/":  "http://127.0.0.1:8080",
		"https://weft.example/x/": "https://weft.example/x",
		" http://h:1 ":            "http://h:1",
	} {
		got, err := normalizeServer(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got)
	}
	for _, bad := range []string{"ftp://h", "http://", "http://h/?q=1", "://"} {
		_, err := normalizeServer(bad)
		require.ErrorContains(t, err, "not a server URL", bad)
	}
}

func statMode(p string) (uint32, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return uint32(fi.Mode().Perm()), nil
}

func writeFileString(p, s string) error { return os.WriteFile(p, []byte(s), 0o600) }

// TestWithVariables: --var sets variables in a JSON or YAML definition and
// keeps every digit of every number (JSON numbers are not float64 on the
// way).
func TestWithVariables(t *testing.T) {
	t.Parallel()
	var vars varFlags
	for _, v := range []string{"id=12345678901234567890", "s=plain text", "b=true", `o={"n": 9007199254740993}`} {
		require.NoError(t, vars.Set(v))
	}
	out, err := withVariables([]byte("\ufeff{\"name\": \"x\", \"variables\": {\"acct\": 9007199254740993, \"f\": 0.1}}"), vars)
	require.NoError(t, err)
	require.JSONEq(t, `{"name": "x", "variables": {"acct": 9007199254740993, "f": 0.1, "id": 12345678901234567890, "s": "plain text", "b": true, "o": {"n": 9007199254740993}}}`, string(out))
	require.Contains(t, string(out), "9007199254740993")
	require.Contains(t, string(out), "12345678901234567890")

	out, err = withVariables([]byte("name: y\nsteps: []\n"), vars)
	require.NoError(t, err)
	require.Contains(t, string(out), `"variables":{`)

	_, err = withVariables([]byte(`{"name": "x", "variables": [1]}`), vars)
	require.ErrorContains(t, err, "variables is not an object")
	_, err = withVariables([]byte(`{"name": `), vars)
	require.ErrorContains(t, err, "not valid JSON")
	require.Error(t, vars.Set("novalue"))
}
