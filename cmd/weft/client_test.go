package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// cliEnv runs the weft binary as a user's shell would, against one server.
type cliEnv struct {
	t     *testing.T
	bin   string
	env   []string
	creds string // its credentials file
}

// newCLI is a shell whose environment names a server and a key (either may
// be empty) and a credentials file of its own.
func newCLI(t *testing.T, bin, serverURL, key string) *cliEnv {
	c := &cliEnv{t: t, bin: bin, creds: filepath.Join(t.TempDir(), "credentials")}
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(name, "WEFT_") {
			c.env = append(c.env, kv)
		}
	}
	c.env = append(c.env, "WEFT_CREDENTIALS="+c.creds)
	if serverURL != "" {
		c.env = append(c.env, "WEFT_URL="+serverURL)
	}
	if key != "" {
		c.env = append(c.env, "WEFT_API_KEY="+key)
	}
	return c
}

// run runs weft ARGS… with stdin, and returns its exit code and output.
func (c *cliEnv) run(stdin string, args ...string) (int, string, string) {
	c.t.Helper()
	cmd := exec.CommandContext(c.t.Context(), c.bin, args...)
	cmd.Env = c.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(c.t, err)
	}
	return code, out.String(), errOut.String()
}

// ok runs a command that must succeed and returns its stdout.
func (c *cliEnv) ok(args ...string) string {
	c.t.Helper()
	code, out, errOut := c.run("", args...)
	require.Equal(c.t, exitOK, code, "weft %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), out, errOut)
	return out
}

// TestClientCommands runs every client command against a real weft serve
// and the mock API, as tables and as --json.
func TestClientCommands(t *testing.T) {
	t.Parallel()
	bin := weftBinary(t)
	api := mock(t)
	srv := startServer(t, bin, filepath.Join(t.TempDir(), "weft.db"))
	require.NotEmpty(t, srv.key)
	c := newCLI(t, bin, "http://"+srv.addr, srv.key)
	data, err := os.ReadFile("../../examples/lead-distribution.json")
	require.NoError(t, err)
	wfFile := writeFile(t, "lead.json", strings.ReplaceAll(string(data), "http://127.0.0.1:9100", api))
	const name = "Submit Lead to Multiple Carriers"

	t.Run("apply twice makes one workflow, a new version only when changed", func(t *testing.T) {
		require.Regexp(t, `lead.json: created workflow \S+ \(`+name+`\): version 1\n`, c.ok("workflows", "apply", wfFile))
		require.Regexp(t, `lead.json: unchanged workflow \S+ \(`+name+`\): version 1\n`, c.ok("workflows", "apply", wfFile))
		require.Regexp(t, `lead.json: updated workflow \S+ \(`+name+`\): version 1 → 2\n`, c.ok("workflows", "apply", wfFile, "--var", "minScore=60"))
		var res struct {
			Items []applyResult `json:"items"`
		}
		require.NoError(t, json.Unmarshal([]byte(c.ok("workflows", "apply", wfFile, "--var", "minScore=60", "--json")), &res))
		require.Len(t, res.Items, 1)
		require.Equal(t, "unchanged", res.Items[0].Action)
		require.Equal(t, 2, res.Items[0].Version)
		ids := strings.Fields(c.ok("workflows", "list", "-q"))
		require.Len(t, ids, 1, "one workflow of that name")
		// The variable landed in the stored definition, as a number.
		var wf struct {
			Variables map[string]any `json:"variables"`
		}
		require.NoError(t, json.Unmarshal([]byte(c.ok("workflows", "get", ids[0], "--json")), &wf))
		require.Equal(t, 60.0, wf.Variables["minScore"])
		require.Equal(t, api, wf.Variables["apiBase"])
	})

	t.Run("workflows list and get", func(t *testing.T) {
		out := c.ok("workflows", "list")
		require.Regexp(t, `(?m)^ID\s+NAME\s+VERSION\s+STATUS\s+STEPS\s+UPDATED$`, out)
		require.Regexp(t, `(?m)^\S+\s+`+name+`\s+2\s+ACTIVE\s+4\s+`, out)
		var list struct {
			Items []struct{ ID, Name string } `json:"items"`
		}
		require.NoError(t, json.Unmarshal([]byte(c.ok("workflows", "list", "--json", "--name", name)), &list))
		require.Len(t, list.Items, 1)
		require.Empty(t, strings.TrimSpace(c.ok("workflows", "list", "-q", "--name", "nothing of the kind")))
		out = c.ok("workflows", "get", name)
		require.Regexp(t, `(?m)^VERSION\s+2$`, out)
		require.Regexp(t, `(?m)^shape\s+DATA_TRANSFORM\s+get_lead$`, out)
		require.Equal(t, c.ok("workflows", "get", name), c.ok("workflows", "get", list.Items[0].ID), "by name or by id")
	})

	var failed string
	t.Run("execute, watch, retry, cancel", func(t *testing.T) {
		code, out, errOut := c.run("", "execute", name, "--input", `{"leadId": "42"}`, "--wait")
		require.Equal(t, exitOK, code, errOut)
		require.Regexp(t, `^execution \S+ COMPLETED in \d+ms\n`, out)
		require.Contains(t, out, `"quoteId": "q-a-`)
		require.Regexp(t, `(?m)^  ✓ carrier_a\s+HTTP_REQUEST\s+COMPLETED attempt 1`, errOut, "progress on stderr")
		require.Regexp(t, `(?m)^✓ COMPLETED in \d+ms$`, errOut)

		var x struct {
			ID, Status string
			Steps      map[string]any
		}
		require.NoError(t, json.Unmarshal([]byte(c.ok("execute", name, "--input", `{"leadId": "42"}`, "--wait", "--quiet", "--json")), &x))
		require.Equal(t, "COMPLETED", x.Status)
		require.Len(t, x.Steps, 6)

		// Without --wait: the id at once; watch follows it to the end.
		code, out, errOut = c.run(`{"leadId": "7"}`, "execute", name, "--input", "@-")
		require.Equal(t, exitOK, code, errOut)
		m := regexp.MustCompile(`^execution (\S+) PENDING\n$`).FindStringSubmatch(out)
		require.NotNil(t, m, out)
		require.Contains(t, errOut, "weft executions watch "+m[1])
		out = c.ok("executions", "watch", m[1])
		require.Regexp(t, `^execution `+m[1]+` COMPLETED`, out, "a lead under the minimum score: qualified is false, the carriers skipped")

		// A failed execution: exit 1, the failed attempts shown, retried.
		code, out, errOut = c.run("", "execute", name, "--input", `{"leadId": "lead_flaky"}`, "--wait")
		require.Equal(t, exitFailed, code, errOut)
		require.Contains(t, out, "FAILED")
		require.Contains(t, out, "error (step get_lead): HTTP_503")
		require.Contains(t, errOut, "↻ get_lead  HTTP_REQUEST   FAILED    attempt 1: HTTP_503: HTTP 503 Service Unavailable; retrying in 100ms")
		failed = strings.TrimSpace(c.ok("executions", "list", "--status", "FAILED", "-q"))
		require.Regexp(t, `^\S+$`, failed, "one failed execution")
		out = c.ok("executions", "get", failed)
		require.Regexp(t, `(?m)^get_lead\s+HTTP_REQUEST\s+FAILED\s+3\s+`, out)
		require.Regexp(t, `(?m)^  attempt 2\s+FAILED\s+`, out)
		require.Regexp(t, `(?m)^shape\s+DATA_TRANSFORM\s+SKIPPED\s+0\s+-`, out)
		code, out, errOut = c.run("", "executions", "retry", failed, "--wait")
		require.Equal(t, exitOK, code, errOut)
		require.Regexp(t, `^execution `+failed+` COMPLETED`, out)
		require.Regexp(t, `(?m)^  ✓ get_lead\s+HTTP_REQUEST\s+COMPLETED attempt 4`, errOut)
		require.NotContains(t, errOut, "↻", "the attempts before the retry are not reported again")
		require.Regexp(t, `(?m)^  ✓ shape\s+DATA_TRANSFORM\s+COMPLETED attempt 1\s+(<1ms|\d+ms)$`, errOut)
		code, _, errOut = c.run("", "executions", "retry", failed)
		require.Equal(t, exitFailed, code)
		require.Contains(t, errOut, "CONFLICT: execution \""+failed+"\" is COMPLETED")

		// An execution cancelled while it waits.
		slow := writeFile(t, "slow.json", `{"name": "slow", "steps": [{"id": "nap", "type": "WAIT", "config": {"duration": 600000}}]}`)
		c.ok("workflows", "apply", slow)
		out = c.ok("execute", "slow")
		id := strings.Fields(out)[1]
		require.Equal(t, "execution "+id+" CANCELLED\n", c.ok("executions", "cancel", id))
		code, out, _ = c.run("", "executions", "watch", id)
		require.Equal(t, exitFailed, code, "watching a cancelled execution: not COMPLETED")
		require.Contains(t, out, "CANCELLED")

		out = c.ok("executions", "list", "--workflow", name)
		require.Regexp(t, `(?m)^ID\s+WORKFLOW\s+STATUS\s+CREATED\s+DURATION\s+ERROR$`, out)
		require.Equal(t, 4, strings.Count(out, name), "four executions of it (not the slow one's):\n%s", out)
		var list struct {
			Items []struct{ Status string } `json:"items"`
		}
		require.NoError(t, json.Unmarshal([]byte(c.ok("executions", "list", "--json", "--limit", "2")), &list))
		require.Len(t, list.Items, 2)
	})

	t.Run("breakers", func(t *testing.T) {
		out := c.ok("breakers", "list")
		require.Regexp(t, `(?m)^leads-api\s+CLOSED\s+0\s+5\s+60000ms\s+1\s+step\s+`, out)
		require.Equal(t, "configured breaker leads-api: CLOSED, 0 consecutive failures; threshold 7, timeout 60000ms, half-open max calls 2 (config from api)\n",
			c.ok("breakers", "config", "leads-api", "--threshold", "7", "--half-open-max-calls", "2"))
		require.Equal(t, "breaker leads-api: CLOSED, 0 consecutive failures; threshold 7, timeout 60000ms, half-open max calls 2 (config from api)\n",
			c.ok("breakers", "config", "leads-api"))
		require.Contains(t, c.ok("breakers", "reset", "leads-api"), "reset breaker leads-api: CLOSED")
		var b struct {
			Config struct{ Threshold int } `json:"config"`
		}
		require.NoError(t, json.Unmarshal([]byte(c.ok("breakers", "config", "leads-api", "--json")), &b))
		require.Equal(t, 7, b.Config.Threshold)
		code, _, errOut := c.run("", "breakers", "reset", "no-such-service")
		require.Equal(t, exitFailed, code)
		require.Contains(t, errOut, `NOT_FOUND: circuit breaker "no-such-service" not found`)
		code, _, errOut = c.run("", "breakers", "config", "leads-api", "--threshold", "0")
		require.Equal(t, exitFailed, code)
		require.Contains(t, errOut, "VALIDATION_FAILED")
	})

	t.Run("names that are not one workflow", func(t *testing.T) {
		dup := writeFile(t, "dup.json", `{"name": "twice", "steps": [{"id": "a", "type": "WAIT", "config": {"duration": 1}}]}`)
		var ids []string
		for range 2 {
			status, wf := srv.call(t, srv.key, "POST", "/api/v1/workflows", `{"name": "twice", "steps": [{"id": "a", "type": "WAIT", "config": {"duration": 1}}]}`)
			require.Equal(t, 201, status)
			ids = append(ids, wf["id"].(string))
		}
		code, _, errOut := c.run("", "workflows", "apply", dup)
		require.Equal(t, exitFailed, code)
		require.Contains(t, errOut, `2 workflows are named "twice"`)
		for _, id := range ids {
			require.Contains(t, errOut, id)
		}
		code, _, errOut = c.run("", "execute", "twice")
		require.Equal(t, exitFailed, code)
		require.Contains(t, errOut, "name one by its id")
		code, _, errOut = c.run("", "workflows", "get", "nothing of the kind")
		require.Equal(t, exitFailed, code)
		require.Contains(t, errOut, `no workflow has the id or name "nothing of the kind"`)

		require.Equal(t, "deleted workflow "+ids[0]+" (twice)\n", c.ok("workflows", "delete", ids[0]))
		require.Contains(t, c.ok("workflows", "apply", dup), "unchanged workflow "+ids[1])
	})

	t.Run("definition problems come back with their place", func(t *testing.T) {
		bad := writeFile(t, "bad.json", "{\"name\": \"bad\",\n \"steps\": [{\"id\": \"a\", \"type\": \"NOPE\"}]}")
		code, _, errOut := c.run("", "workflows", "apply", bad, wfFile)
		require.Equal(t, exitFailed, code, "one file of two is invalid")
		require.Contains(t, errOut, bad+`: steps[0].type: unknown step type "NOPE"`)
		require.Contains(t, errOut, "(line 2, column")
	})

	t.Run("auth errors", func(t *testing.T) {
		status, k := srv.call(t, srv.key, "POST", "/api/v1/api-keys", `{"role": "viewer", "name": "look only"}`)
		require.Equal(t, 201, status, k)
		viewer := newCLI(t, bin, "http://"+srv.addr, k["key"].(string))
		require.Contains(t, viewer.ok("workflows", "list"), name, "a viewer reads")
		code, _, errOut := viewer.run("", "execute", name, "--input", `{"leadId": "42"}`)
		require.Equal(t, exitAuth, code)
		require.Contains(t, errOut, "FORBIDDEN: POST /api/v1/workflows/")
		require.Contains(t, errOut, "needs the operator role or higher; this key (")
		require.Contains(t, errOut, ") has the viewer role")
		require.Contains(t, errOut, "weft apikey create --role ROLE")

		none := newCLI(t, bin, "http://"+srv.addr, "")
		code, _, errOut = none.run("", "workflows", "list")
		require.Equal(t, exitAuth, code)
		require.Contains(t, errOut, "UNAUTHORIZED: an API key is required")
		require.Contains(t, errOut, "No API key for http://"+srv.addr+": set WEFT_API_KEY, or store one with: weft auth login --server http://"+srv.addr)
		code, _, errOut = none.run("", "auth", "token")
		require.Equal(t, exitAuth, code)
		require.Contains(t, errOut, "no API key for")

		wrong := newCLI(t, bin, "http://"+srv.addr, "weft_not-a-key")
		code, _, errOut = wrong.run("", "workflows", "list", "--json")
		require.Equal(t, exitAuth, code)
		require.Contains(t, errOut, "UNAUTHORIZED: unknown API key")
		require.Contains(t, errOut, "The key from WEFT_API_KEY is not valid on http://"+srv.addr)

		// auth login checks a key and keeps it; then no WEFT_API_KEY is
		// needed, and auth token prints the kept key.
		code, _, errOut = none.run("weft_not-a-key\n", "auth", "login")
		require.Equal(t, exitAuth, code, "a key the server refuses is not kept")
		require.Contains(t, errOut, "UNAUTHORIZED")
		code, out, errOut := none.run(srv.key+"\n", "auth", "login")
		require.Equal(t, exitOK, code, errOut)
		credFile := none.creds
		require.Equal(t, "the key works on http://"+srv.addr+"; kept in "+credFile+"\n", out)
		fi, err := os.Stat(credFile)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the credentials file is the user's only")
		require.Contains(t, none.ok("workflows", "list"), name, "the kept key is used")
		require.Equal(t, srv.key+"\n", none.ok("auth", "token"))
		// Without WEFT_URL, the server the key was kept for is the one used.
		var env []string
		for _, kv := range none.env {
			if !strings.HasPrefix(kv, "WEFT_URL=") {
				env = append(env, kv)
			}
		}
		bare := &cliEnv{t: t, bin: bin, env: env}
		require.Contains(t, bare.ok("workflows", "list"), name)
	})

	t.Run("a server that is down", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		down := "http://" + ln.Addr().String()
		require.NoError(t, ln.Close())
		for _, args := range [][]string{{"workflows", "list"}, {"execute", name, "--wait"}, {"breakers", "list", "--json"}, {"auth", "login"}} {
			code, out, errOut := newCLI(t, bin, down, srv.key).run(srv.key+"\n", args...)
			require.Equal(t, exitUnreachable, code, "%v: %s", args, errOut)
			require.Empty(t, out)
			require.Contains(t, errOut, "cannot reach the weft server at "+down+": dial tcp "+ln.Addr().String()+": connect: connection refused")
			require.Contains(t, errOut, "Is weft serve running there?")
		}
	})

	t.Run("bad usage", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"execute"}, "wrong number of arguments"},
			{[]string{"execute", name, "--input", "{nope"}, "--input: invalid JSON"},
			{[]string{"workflows", "apply"}, "wrong number of arguments"},
			{[]string{"workflows", "apply", wfFile, "--var", "novalue"}, `"novalue" is not NAME=VALUE`},
			{[]string{"executions", "get"}, "wrong number of arguments"},
			{[]string{"breakers", "config", "a", "--threshold", "x"}, "invalid value"},
			{[]string{"workflows", "list", "--server", "ftp://x"}, "not a server URL"},
			{[]string{"executions", "frob"}, `unknown command "frob"`},
		} {
			code, _, errOut := c.run("", tt.args...)
			require.Equal(t, exitUsage, code, "%v: %s", tt.args, errOut)
			require.Contains(t, errOut, tt.want, "%v", tt.args)
		}
	})
}

// TestClientMisuse: what a careless script or a hostile server does to the
// CLI — empty names, files with a BOM, big numbers in --var, redirects,
// ids that are paths, names with escape sequences, answers that are not a
// weft server's, endless pages — and applies at once.
func TestClientMisuse(t *testing.T) {
	t.Parallel()
	bin := weftBinary(t)
	srv := startServer(t, bin, filepath.Join(t.TempDir(), "weft.db"))
	c := newCLI(t, bin, "http://"+srv.addr, srv.key)
	c.ok("workflows", "apply", writeFile(t, "one.json", `{"name": "only one", "steps": [{"id": "a", "type": "WAIT", "config": {"duration": 1}}]}`))

	t.Run("an empty name names nothing", func(t *testing.T) {
		for _, args := range [][]string{{"workflows", "delete", ""}, {"workflows", "get", " "}, {"execute", ""}} {
			code, _, errOut := c.run("", args...)
			require.Equal(t, exitUsage, code, "%q: %s", args, errOut)
			require.Contains(t, errOut, "the workflow is empty")
		}
		require.Contains(t, c.ok("workflows", "list"), "only one", "still there")
		status, body := srv.call(t, srv.key, "GET", "/api/v1/workflows?name=", "")
		require.Equal(t, 400, status, body)
	})

	t.Run("a file with a byte order mark", func(t *testing.T) {
		for _, doc := range []string{"\ufeff{\"name\": \"bom\", \"steps\": [{\"id\": \"a\", \"type\": \"WAIT\", \"config\": {\"duration\": 1}}]}",
			"\ufeffname: bom yaml\r\nsteps:\r\n  - id: a\r\n    type: WAIT\r\n    config: {duration: 1}\r\n"} {
			f := writeFile(t, "bom", doc)
			require.Contains(t, c.ok("workflows", "apply", f), "created")
			require.Contains(t, c.ok("workflows", "apply", f), "unchanged", "the same workflow, not a second")
			require.Contains(t, c.ok("workflows", "apply", f, "--var", "x=1"), "updated")
		}
	})

	t.Run("--var sets variables of JSON and YAML files", func(t *testing.T) {
		f := writeFile(t, "vars.yaml", "name: vars\nvariables: {keep: kept}\nsteps:\n  - {id: a, type: WAIT, config: {duration: 1}}\n")
		c.ok("workflows", "apply", f, "--var", "n=12", "--var", "s=http://x:1/y?z=1", "--var", `o={"a": [1, true]}`)
		out := c.ok("workflows", "get", "vars", "--json")
		for _, want := range []string{`"keep": "kept"`, `"n": 12`, `"s": "http://x:1/y?z=1"`, `"a": [`} {
			require.Contains(t, out, want)
		}
	})

	t.Run("applies at once make one workflow", func(t *testing.T) {
		f := writeFile(t, "race.json", `{"name": "raced", "steps": [{"id": "a", "type": "WAIT", "config": {"duration": 1}}]}`)
		done := make(chan int, 6)
		for range cap(done) {
			go func() {
				code, _, _ := c.run("", "workflows", "apply", f)
				done <- code
			}()
		}
		for range cap(done) {
			require.Equal(t, exitOK, <-done)
		}
		require.Len(t, strings.Fields(c.ok("workflows", "list", "--name", "raced", "-q")), 1)
	})

	t.Run("names with escape sequences are shown, not obeyed", func(t *testing.T) {
		evil := "evil\u001b]52;c;aGk=\u0007\u001b[2J\nfake\tcolumn\u009b"
		status, body := srv.call(t, srv.key, "POST", "/api/v1/workflows", `{"name": `+jsonQuote(evil)+`, "steps": [{"id": "a", "type": "WAIT", "config": {"duration": 1}}]}`)
		if status != 201 {
			t.Skipf("the server refuses such a name (%d %v): nothing to show", status, body)
		}
		for _, args := range [][]string{{"workflows", "list"}, {"workflows", "get", body["id"].(string)}, {"workflows", "delete", body["id"].(string)}} {
			out := c.ok(args...)
			require.NotRegexp(t, "[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f]", out, "%v printed a control character", args)
			require.Contains(t, out, `evil\x1b]52;c;aGk=\a\x1b[2J\nfake\tcolumn\u009b`)
		}
	})

	t.Run("ids that are paths", func(t *testing.T) {
		for _, id := range []string{".", "..", "a/b", "x?y", ""} {
			for _, cmd := range []string{"get", "watch", "retry", "cancel"} {
				code, _, errOut := c.run("", "executions", cmd, id)
				require.Equal(t, exitUsage, code, "%s %q: %s", cmd, id, errOut)
				require.Contains(t, errOut, "is not an execution id")
			}
		}
	})
}

// TestClientAgainstOtherServers: a redirect is not followed (the key would
// go along), and answers that are not a weft server's are errors, not
// output or an endless loop.
func TestClientAgainstOtherServers(t *testing.T) {
	t.Parallel()
	bin := weftBinary(t)
	var leaked atomicString
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"items": []}`)
	}))
	t.Cleanup(elsewhere.Close)
	pages := 0
	odd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/workflows":
			http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
		case "/api/v1/executions":
			pages++
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"items": [{"id": "x", "status": "RUNNING"}], "nextCursor": "again"}`)
		default:
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html>a login page</html>")
		}
	}))
	t.Cleanup(odd.Close)
	c := newCLI(t, bin, odd.URL, "weft_secret-of-the-user")

	code, out, errOut := c.run("", "workflows", "list")
	require.Equal(t, exitFailed, code, errOut)
	require.Empty(t, out)
	require.Contains(t, errOut, "307 Temporary Redirect")
	require.Contains(t, errOut, elsewhere.URL)
	require.Empty(t, leaked.Load(), "the key did not follow the redirect")

	code, out, errOut = c.run("", "executions", "list", "--limit", "0")
	require.Equal(t, exitFailed, code, errOut)
	require.Empty(t, out)
	require.Contains(t, errOut, "the server's pages do not end")
	require.Equal(t, 2, pages, "the second page with the same cursor stops it")

	for _, args := range [][]string{{"breakers", "list", "--json"}, {"executions", "get", "01a250af-b5e4-7000-8000-000000000000", "--json"}} {
		code, out, errOut = c.run("", args...)
		require.Equal(t, exitFailed, code, "%v: %s", args, errOut)
		require.Empty(t, out)
		require.Contains(t, errOut, "is not JSON: is --server the weft server's URL?")
	}
}

// TestServeKeyNotKept: on a server that keeps no key for the CLI (not on
// loopback, or --save-credentials=false), the lines it prints still work
// as pasted: they export the key first.
func TestServeKeyNotKept(t *testing.T) {
	t.Parallel()
	bin := weftBinary(t)
	creds := filepath.Join(t.TempDir(), "credentials")
	wf := writeFile(t, "nap.json", `{"name": "a short nap", "steps": [{"id": "nap", "type": "WAIT", "config": {"duration": 1}}]}`)
	srv := startServer(t, bin, filepath.Join(t.TempDir(), "weft.db"), "--save-credentials=false", "--load", wf)
	_, err := os.Stat(creds)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NotEmpty(t, srv.hints, "the lines to try")
	require.True(t, strings.HasPrefix(srv.hints[0], "export WEFT_API_KEY=weft_"), srv.hints[0])
	script := strings.Join(srv.hints, "\n") + "\n"
	cmd := exec.CommandContext(t.Context(), "bash", "--noprofile", "--norc", "-euc", strings.ReplaceAll(script, "curl ", "curl --fail-with-body -sS "))
	cmd.Env = append(newCLI(t, bin, "", "").env, "WEFT_CREDENTIALS="+creds)
	cmd.Dir = filepath.Dir(bin)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", script, out)
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// atomicString is a string read and written from several goroutines.
type atomicString struct{ v atomic.Value }

func (a *atomicString) Store(s string) { a.v.Store(s) }
func (a *atomicString) Load() string {
	s, _ := a.v.Load().(string)
	return s
}
