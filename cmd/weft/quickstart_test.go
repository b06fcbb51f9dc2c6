package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeQuickstart runs every line of the README's quickstart, in
// order, against the server `make run` starts, as a newcomer pastes them:
// the blocks after <!-- quickstart --> through bash, one line after the
// other, in a directory laid out like a checkout (bin/weft, bin/mockapi,
// examples/). Before them it runs the lines `make run` prints to try, and
// after them, on a second start of the same database, the lines it prints
// then. A line fails the test when it exits otherwise than it says (0
// unless a comment before it says "(exit N)"); curl lines fail on an HTTP
// error (curl runs with --fail-with-body). So the README cannot drift from
// the product.
//
// What differs from a newcomer's terminal is only where things listen:
// `make run` is started with ADDR and MOCK_ADDR at free ports, so lines
// naming 127.0.0.1:8080 and :9100 (the defaults) are pointed at those, and
// so are the examples/ files the lines post.
func TestReadmeQuickstart(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README quickstart needs %s, which is not installed", tool)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	server := readmeBlocks(t, string(readme), "<!-- quickstart:server -->")
	require.Len(t, server, 1, "one block starts the server")
	require.Equal(t, []quickLine{{text: "make run"}}, server[0], "the server block is `make run`, which this test starts")
	blocks := readmeBlocks(t, string(readme), "<!-- quickstart -->")
	require.Len(t, blocks, 2, "the quickstart has a CLI block and a curl block")

	q := newQuickstart(t)
	srv := q.makeRun("127.0.0.1:0", "127.0.0.1:0")
	q.run("the lines make run printed", srv.hints)
	for i, block := range blocks {
		q.run(fmt.Sprintf("README quickstart block %d", i+1), block)
	}

	// What the lines did, seen through the API, once every execution has
	// ended (however long that takes here).
	for {
		var running struct {
			Items []struct {
				ExecutionID string `json:"executionId"`
			} `json:"items"`
		}
		q.get("/api/orchestration/active", &running)
		if len(running.Items) == 0 {
			break
		}
		q.run("waiting for the executions under way", []quickLine{{text: "bin/weft executions watch --quiet " + running.Items[0].ExecutionID}})
	}
	var workflows struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	q.get("/api/v1/workflows?name="+url.QueryEscape("Submit Lead to Multiple Carriers"), &workflows)
	require.Len(t, workflows.Items, 1, "apply and the restarts keep one workflow of the example's name")
	var executions struct {
		Items []struct{ ID, Status string } `json:"items"`
	}
	q.get("/api/v1/executions?limit=100", &executions)
	statuses := map[string]int{}
	for _, x := range executions.Items {
		statuses[x.Status]++
	}
	// Two executions from the printed lines, two from each block; the two
	// that failed were retried, and completed.
	require.Equal(t, map[string]int{"COMPLETED": 6}, statuses)
	srv.stop(t)

	// A second start on the same database, on other ports: keys exist, the
	// CLI's is carried over to the new address; its lines work too.
	again := q.makeRun("127.0.0.1:0", "127.0.0.1:0")
	require.NotContains(t, again.out, "created an admin key")
	require.Contains(t, again.out, "the weft CLI uses the one kept in")
	q.run("the lines a second make run printed", again.hints)
	again.stop(t)
}

// quickLine is one command of a README block, and the exit code it is
// meant to end with.
type quickLine struct {
	text string
	exit int
}

var exitNote = regexp.MustCompile(`\(exit (\d+)\)`)

// readmeBlocks returns the ```sh blocks that follow each marker, as
// commands: continuation lines joined, comment lines dropped (a comment
// saying "(exit N)" sets the next command's exit code).
func readmeBlocks(t *testing.T, readme, marker string) [][]quickLine {
	t.Helper()
	var blocks [][]quickLine
	for rest := readme; ; {
		_, after, ok := strings.Cut(rest, marker+"\n")
		if !ok {
			return blocks
		}
		body, ok := strings.CutPrefix(after, "```sh\n")
		require.True(t, ok, "%s is not followed by a ```sh block", marker)
		body, rest, ok = strings.Cut(body, "```")
		require.True(t, ok, "the block after %s is not closed", marker)
		var lines []quickLine
		exit, cont := 0, ""
		for _, l := range strings.Split(body, "\n") {
			l = strings.TrimSpace(l)
			if cont != "" {
				l, cont = cont+" "+l, ""
			}
			switch {
			case l == "":
			case strings.HasPrefix(l, "#"):
				if m := exitNote.FindStringSubmatch(l); m != nil {
					exit, _ = strconv.Atoi(m[1])
				}
			case strings.HasSuffix(l, `\`):
				cont = strings.TrimSuffix(l, `\`)
			default:
				lines = append(lines, quickLine{text: l, exit: exit})
				exit = 0
			}
		}
		blocks = append(blocks, lines)
	}
}

// quickstart is a directory laid out like a checkout after `make build`,
// and the environment of a newcomer's shell in it.
type quickstart struct {
	t    *testing.T
	repo string
	dir  string
	env  []string
	// mockURL and serverURL are where make run's processes listen (set by
	// makeRun).
	mockURL, serverURL string
}

func newQuickstart(t *testing.T) *quickstart {
	repo, err := filepath.Abs("../..")
	require.NoError(t, err)
	q := &quickstart{t: t, repo: repo, dir: t.TempDir()}
	bin := filepath.Join(q.dir, "bin")
	require.NoError(t, os.Mkdir(bin, 0o755))
	require.NoError(t, os.Symlink(weftBinary(t), filepath.Join(bin, "weft")))
	build := exec.CommandContext(t.Context(), "go", "build", "-o", filepath.Join(bin, "mockapi"), "./examples/mockapi/cmd/mockapi")
	build.Dir = repo
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build mockapi:\n%s", out)

	// curl as the lines call it, but failing on any answer that is not 2xx
	// (a redirect too: a line that names no workflow got an empty 307).
	tools := filepath.Join(q.dir, ".tools")
	require.NoError(t, os.Mkdir(tools, 0o755))
	realCurl, _ := exec.LookPath("curl")
	require.NoError(t, os.WriteFile(filepath.Join(tools, "curl"), []byte(`#!/bin/sh
body=$(mktemp) || exit 1
code=$(`+realCurl+` --silent --show-error --output "$body" --write-out '%{http_code}' "$@")
rc=$?
cat "$body"; echo; rm -f "$body"
[ $rc -eq 0 ] || exit $rc
case $code in 2??) exit 0 ;; esac
echo "curl: HTTP $code" >&2
exit 22
`), 0o755))

	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "WEFT_CREDENTIALS", "WEFT_URL", "WEFT_API_KEY", "WEFT_DB", "WEFT_ADDR", "XDG_CONFIG_HOME", "PATH":
			continue // a newcomer's shell has none of these set
		}
		q.env = append(q.env, kv)
	}
	q.env = append(q.env, "XDG_CONFIG_HOME="+filepath.Join(q.dir, ".config"), "PATH="+tools+string(os.PathListSeparator)+os.Getenv("PATH"))
	return q
}

// copyExamples puts the examples' workflow files in the directory, naming
// the mock where it listens.
func (q *quickstart) copyExamples() {
	for _, pattern := range []string{"examples/*.json", "examples/steps/*.json"} {
		files, err := filepath.Glob(filepath.Join(q.repo, pattern))
		require.NoError(q.t, err)
		for _, f := range files {
			rel, _ := filepath.Rel(q.repo, f)
			data, err := os.ReadFile(f)
			require.NoError(q.t, err)
			if q.mockURL != "" {
				data = bytes.ReplaceAll(data, []byte("http://127.0.0.1:9100"), []byte(q.mockURL))
			}
			require.NoError(q.t, os.MkdirAll(filepath.Dir(filepath.Join(q.dir, rel)), 0o755))
			require.NoError(q.t, os.WriteFile(filepath.Join(q.dir, rel), data, 0o644))
		}
	}
}

// runningServer is `make run` going.
type runningServer struct {
	cmd    *exec.Cmd
	out    string // what it printed before it served
	hints  []quickLine
	exited chan struct{}
	log    *syncBuffer
}

// makeRun starts what `make run` runs (its recipe, from make -n, with the
// binaries already built) and waits for the lines it prints to try.
func (q *quickstart) makeRun(addr, mockAddr string) *runningServer {
	t := q.t
	dry := exec.CommandContext(t.Context(), "make", "--no-print-directory", "-n", "run", "BIN=bin", "ADDR="+addr, "MOCK_ADDR="+mockAddr)
	dry.Dir = q.repo
	out, err := dry.Output()
	require.NoError(t, err, "make -n run")
	var recipe string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(l, "bin/mockapi ") {
			recipe = l
		}
	}
	require.NotEmpty(t, recipe, "make -n run shows no bin/mockapi command:\n%s", out)
	if _, err := os.Stat(filepath.Join(q.dir, "examples")); err != nil {
		q.copyExamples() // the --load file; its apiBase is set by --var
	}

	cmd := exec.Command("sh", "-c", "exec "+recipe)
	cmd.Dir, cmd.Env = q.dir, q.env
	// A terminal's process group, for Ctrl-C; and if this test process dies
	// without its cleanup (a panic elsewhere, a -timeout), the mock dies
	// with it, and weft serve with the mock.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	s := &runningServer{cmd: cmd, exited: make(chan struct{}), log: &syncBuffer{}}
	cmd.Stderr = s.log
	require.NoError(t, cmd.Start())
	go func() { _ = cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.stop(t) })

	// stdout: the key (first start), then "Try:" and the lines, then a
	// blank line.
	var printed strings.Builder
	sc := bufio.NewScanner(stdout)
	inTry := false
	for sc.Scan() {
		l := sc.Text()
		printed.WriteString(l + "\n")
		switch {
		case strings.TrimSpace(l) == "Try:":
			inTry = true
		case inTry && strings.TrimSpace(l) == "":
			inTry = false
		case inTry && strings.HasSuffix(l, `\`):
			// a continued line: joined with the next
			if sc.Scan() {
				printed.WriteString(sc.Text() + "\n")
				s.hints = append(s.hints, quickLine{text: strings.TrimSpace(strings.TrimSuffix(l, `\`)) + " " + strings.TrimSpace(sc.Text())})
			}
		case inTry:
			s.hints = append(s.hints, quickLine{text: strings.TrimSpace(l)})
		}
		if !inTry && len(s.hints) > 0 {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	s.out = printed.String()
	require.NotEmpty(t, s.hints, "make run printed no lines to try:\n%s\nstderr:\n%s", s.out, s.log)

	m := regexp.MustCompile(`mock API listening on (http://\S+)`).FindStringSubmatch(s.log.String())
	require.NotNil(t, m, "the mock's address:\n%s", s.log)
	creds, err := readCredentials(filepath.Join(q.dir, ".config", "weft", "credentials"))
	require.NoError(t, err)
	require.NotEmpty(t, creds.Current, "make run keeps the key for the CLI")
	if q.mockURL != m[1] {
		q.mockURL = m[1]
		q.copyExamples() // now naming the mock where it listens
	}
	q.serverURL = creds.Current
	t.Logf("make run: mock %s, weft %s\n%s", q.mockURL, q.serverURL, s.out)
	return s
}

func (s *runningServer) stop(t *testing.T) {
	select {
	case <-s.exited:
		return
	default:
	}
	// Ctrl-C: SIGINT to the whole process group, as a terminal sends it.
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT)
	<-s.exited
	t.Logf("make run's log:\n%s", s.log)
}

// run runs lines in one bash, in order, each checked for its exit code.
func (q *quickstart) run(what string, lines []quickLine) {
	t := q.t
	var script strings.Builder
	script.WriteString("set -o pipefail\n")
	mockHost := strings.TrimPrefix(q.mockURL, "http://")
	for i, l := range lines {
		text := strings.ReplaceAll(l.text, "http://127.0.0.1:8080", q.serverURL)
		text = strings.ReplaceAll(text, "127.0.0.1:9100", mockHost)
		// A busy machine may take longer than a newcomer's: the answer
		// waits as long as the server lets it (a minute), not 10 s.
		text = strings.ReplaceAll(text, "?wait=10s", "?wait=60s")
		fmt.Fprintf(&script, "printf '\\n$ %%s\\n' %s >&2\n%s\nrc=$?\nif [ $rc -ne %d ]; then echo \"line %d exited $rc, want %d\" >&2; exit 1; fi\n",
			shellQuote(l.text), text, l.exit, i+1, l.exit)
	}
	cmd := exec.CommandContext(t.Context(), "bash", "--noprofile", "--norc", "-c", script.String())
	cmd.Dir, cmd.Env = q.dir, q.env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s:\n%s", what, out)
	t.Logf("%s:\n%s", what, out)
}

// get reads an API answer with the CLI's key.
func (q *quickstart) get(path string, out any) {
	t := q.t
	creds, err := readCredentials(filepath.Join(q.dir, ".config", "weft", "credentials"))
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, q.serverURL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+creds.Servers[q.serverURL].APIKey)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NoError(t, json.NewDecoder(res.Body).Decode(out))
}
