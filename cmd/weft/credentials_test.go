package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

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
	require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o600))
	_, err = readCredentials(path)
	require.ErrorContains(t, err, "credentials file "+path)
	require.NoError(t, saveCredential("", "http://x", "k"), "no file: nothing kept")
}

// TestCredentialsConcurrentWriters: writers at once lose no key (they take
// turns on a lock file), and a file others may read is read with a warning.
func TestCredentialsConcurrentWriters(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/credentials"
	done := make(chan error, 20)
	for i := range cap(done) {
		go func() {
			done <- saveCredential(path, fmt.Sprintf("http://127.0.0.1:%d", 8000+i), fmt.Sprintf("weft_%d", i))
		}()
	}
	for range cap(done) {
		require.NoError(t, <-done)
	}
	c, err := readCredentials(path)
	require.NoError(t, err)
	require.Len(t, c.Servers, cap(done))
	require.Empty(t, c.warning)
	require.NoError(t, os.Chmod(path, 0o644))
	c, err = readCredentials(path)
	require.NoError(t, err)
	require.Contains(t, c.warning, "may be read by others (mode 0644): chmod 600")
}

func statMode(p string) (uint32, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return uint32(fi.Mode().Perm()), nil
}
