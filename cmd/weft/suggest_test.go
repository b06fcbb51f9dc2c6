package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

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
