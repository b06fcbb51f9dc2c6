package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// The credentials file keeps, for this user only, the API keys the CLI
// sends to weft servers, as kubectl and gh keep theirs: weft serve writes
// the admin key it creates on first start there (on a loopback address, or
// when asked with --save-credentials; the server itself stores only the
// key's hash), `weft auth login` writes a key given to it, and every
// command that talks to a server reads it. It is JSON:
//
//	{"current": "http://127.0.0.1:8080",
//	 "servers": {"http://127.0.0.1:8080": {"apiKey": "weft_…"}}}
//
// current is the server commands talk to when neither --server nor
// WEFT_URL names one: the last one a key was written for.

// credentialsEnv names another credentials file ("none" for none).
const credentialsEnv = "WEFT_CREDENTIALS"

// credentials is the file's content.
type credentials struct {
	Current string                      `json:"current,omitempty"`
	Servers map[string]serverCredential `json:"servers"`
	// warning is what is wrong with the file, though it was read (its
	// permissions).
	warning string
}

// serverCredential is what the file keeps for one server.
type serverCredential struct {
	APIKey string `json:"apiKey"`
}

// credentialsPath is where the credentials file is: $WEFT_CREDENTIALS, else
// weft/credentials under $XDG_CONFIG_HOME, else under ~/.config — on every
// Unix, macOS too, as gh does, so that the README's path holds. "" means
// none.
func credentialsPath() string {
	if p, ok := os.LookupEnv(credentialsEnv); ok {
		if p == "none" {
			return ""
		}
		return p
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		if runtime.GOOS == "windows" {
			d, err := os.UserConfigDir()
			if err != nil {
				return ""
			}
			return filepath.Join(d, "weft", "credentials")
		}
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "weft", "credentials")
}

// readCredentials reads the credentials file; a missing one is empty. A
// file others may read is read, with a warning.
func readCredentials(path string) (*credentials, error) {
	c := &credentials{Servers: map[string]serverCredential{}}
	if path == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("credentials file %s: %v (remove it, or fix it by hand)", path, err)
	}
	if c.Servers == nil {
		c.Servers = map[string]serverCredential{}
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 && runtime.GOOS != "windows" {
		c.warning = fmt.Sprintf("the credentials file %s may be read by others (mode %#o): chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	return c, nil
}

// saveCredential records a server's key in the credentials file and makes
// that server the current one. Writers take turns (a lock file beside it),
// so that two at once lose no key; the file is written whole to a
// temporary file of mode 0600 and renamed over the old one, so a reader
// never sees half a file and the key is never readable by others, not even
// briefly. A symbolic link at the path is followed (the file it names is
// replaced), as dotfile managers expect.
func saveCredential(path, serverURL, key string) error {
	if path == "" {
		return nil
	}
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	defer unlock()
	c, err := readCredentials(path)
	if err != nil {
		return err
	}
	serverURL = strings.TrimRight(serverURL, "/")
	c.Servers[serverURL] = serverCredential{APIKey: key}
	c.Current = serverURL
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".credentials-*")
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("credentials: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("credentials: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("credentials: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	return nil
}
