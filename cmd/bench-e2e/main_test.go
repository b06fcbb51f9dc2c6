package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBenchE2E runs the harness as `make bench-e2e` does, briefly: both
// systems, two concurrencies, every answer checked. It keeps the harness, the
// hand-written server and the workflow working; the figures are not looked at.
func TestBenchE2E(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("bench-e2e reads /proc")
	}
	dir := t.TempDir()
	weft, hand := filepath.Join(dir, "weft"), filepath.Join(dir, "handwritten")
	build(t, weft, "../weft")
	build(t, hand, "./handwritten")
	var stdout, stderr bytes.Buffer
	args := []string{"-weft", weft, "-handwritten", hand, "-c", "1,3", "-d", "300ms", "-warmup", "100ms",
		"-fsyncs", "off", "-json", filepath.Join(dir, "cells.json")}
	code := run(context.Background(), args, &stdout, &stderr)
	t.Log(stderr.String())
	require.Equal(t, 0, code, stderr.String())
	out := stdout.String()
	for _, row := range []string{`\| handwritten \| 1 \| \d+ \|`, `\| handwritten \| 3 \|`, `\| weft \| 1 \| \d+ \| .* \| \d+\.\d{3}× \|`, `\| weft \| 3 \|`} {
		require.Regexp(t, regexp.MustCompile(row), out)
	}
	cells, err := os.ReadFile(filepath.Join(dir, "cells.json"))
	require.NoError(t, err)
	require.Equal(t, 4, strings.Count(string(cells), `"system"`))
}

// build compiles a command for the test, with -race when the test has it (its
// packages are then already compiled).
func build(t *testing.T, out, pkg string) {
	t.Helper()
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, pkg)...)
	data, err := cmd.CombinedOutput()
	require.NoError(t, err, string(data))
}

func TestCheck(t *testing.T) {
	good := `{"id":"x","status":"COMPLETED","output":{"lead":{"contactEmail":"Ada.Lovelace@Example.com","state":"CA","priority":144},` +
		`"carriers":{"a":{"accepted":true,"quoteId":"q-a-1","received":{"contactEmail":"Ada.Lovelace@Example.com"}},` +
		`"b":{"accepted":true,"quoteId":"q-b-7","received":{"contactEmail":"Ada.Lovelace@Example.com"}}}}}`
	tests := []struct {
		name   string
		status int
		body   string
		want   string // in the error; "" for none
	}{
		{"good", 200, good, ""},
		{"hand-written's id", 200, strings.Replace(good, `"id"`, `"executionId"`, 1), ""},
		{"not 200", 202, `{"executionId":"x","status":"PENDING"}`, "HTTP 202"},
		{"not JSON", 200, `<html>`, "not JSON"},
		{"failed", 200, strings.Replace(good, "COMPLETED", "FAILED", 1), `status "FAILED"`},
		{"no id", 200, strings.Replace(good, `"id":"x",`, "", 1), "no execution id"},
		{"lead not shaped", 200, strings.Replace(good, `"state":"CA"`, `"state":"ca"`, 1), "lead not shaped"},
		{"a carrier missing", 200, strings.Replace(good, `"b":{`, `"c":{`, 1), "carrier b"},
		{"a quote of another carrier", 200, strings.Replace(good, "q-a-1", "q-b-1", 1), "carrier a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := check(tt.status, []byte(tt.body))
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestStraceCounter(t *testing.T) {
	n, err := straceCounter("testdata/fsync.strace")()
	require.NoError(t, err)
	require.Equal(t, int64(4), n) // the resumed line is the unfinished call's end
}

func TestFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-c", "0"}, `-c: "0" is not a concurrency`},
		{[]string{"-c", "1,x"}, `-c: "x"`},
		{[]string{"-systems", "weft,nope"}, `unknown system "nope"`},
		{[]string{"-systems", "weft-pg", "-postgres", ""}, "weft-pg needs -postgres"},
		{[]string{"-view", "short"}, `-view: "short"`},
		{[]string{"-rounds", "0"}, "-rounds must be at least 1"},
		{[]string{"-fsyncs", "maybe"}, `-fsyncs: "maybe"`},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		require.Equal(t, 2, run(context.Background(), tt.args, &bytes.Buffer{}, &stderr), tt.args)
		require.Contains(t, stderr.String(), tt.want)
	}
}

// The ratio is the median of the rounds' ratios, with the lowest and the
// highest beside it.
func TestRatioOverRounds(t *testing.T) {
	var cells []cell
	for round, pair := range [][2]float64{{1000, 500}, {1000, 400}, {800, 480}} {
		cells = append(cells, cell{System: "handwritten", Round: round + 1, C: 8, PerSec: pair[0]},
			cell{System: "weft", Round: round + 1, C: 8, PerSec: pair[1]})
	}
	cfg := config{systems: []string{"handwritten", "weft"}, conc: []int{8}, rounds: 3}
	rows := summarize(cells, cfg)
	require.Len(t, rows, 2)
	require.InDelta(t, 0.5, rows[1].ratio, 1e-9)
	var out bytes.Buffer
	report(&out, cfg, rows, nil, false, 0)
	require.Contains(t, out.String(), "| weft | 8 | 480 | ")
	require.Contains(t, out.String(), " | 0.500× (0.400–0.600) |")
}
