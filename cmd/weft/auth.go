package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"golang.org/x/term"
)

const authUsage = `Usage:
  weft auth token [--server URL]    print the API key the CLI sends to the server
  weft auth login [--server URL]    check a key (read from standard input, or WEFT_API_KEY)
                                    against the server and keep it in the credentials file

The credentials file (` + "$XDG_CONFIG_HOME/weft/credentials, else ~/.config/weft/credentials;" + `
WEFT_CREDENTIALS names another, "none" none) is readable by this user only.
weft serve writes the admin key it creates on first start there.
`

func (c cli) cmdAuth(ctx context.Context, args []string) int {
	return c.subcommands(ctx, "auth", authUsage, args, map[string]func(context.Context, []string) int{
		"token": c.authToken,
		"login": c.authLogin,
	})
}

// readKey reads a key from standard input: typed without echo on a
// terminal, else its first line.
func (c cli) readKey(server string) (string, error) {
	if f, ok := c.stdin.(*os.File); ok && isTerminalFile(f) {
		fmt.Fprintf(c.stderr, "API key for %s: ", server)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.stderr)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	line, err := bufio.NewReader(io.LimitReader(c.stdin, 4096)).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("give the key on standard input (or in WEFT_API_KEY)")
	}
	return strings.TrimSpace(line), nil
}

// authToken prints the key, so that curl can use what the CLI uses:
// curl -H "Authorization: Bearer $(weft auth token)" …
func (c cli) authToken(_ context.Context, args []string) int {
	client, _, _, code := c.clientCommand("auth token", "auth token [--server URL]", args, 0, 0, nil)
	if code >= 0 {
		return code
	}
	if client.key == "" {
		fmt.Fprintf(c.stderr, "weft auth token: no API key for %s: set WEFT_API_KEY, or store one with: weft auth login --server %s\n", client.base, client.base)
		return exitAuth
	}
	fmt.Fprintln(c.stdout, client.key)
	return exitOK
}

func (c cli) authLogin(ctx context.Context, args []string) int {
	client, _, _, code := c.clientCommand("auth login", "auth login [--server URL] < KEY", args, 0, 0, nil)
	if code >= 0 {
		return code
	}
	key := os.Getenv("WEFT_API_KEY")
	if key == "" {
		var err error
		if key, err = c.readKey(client.base); err != nil {
			fmt.Fprintf(c.stderr, "weft auth login: %v\n", err)
			return exitUsage
		}
	}
	if key == "" {
		fmt.Fprintln(c.stderr, "weft auth login: the key is empty")
		return exitUsage
	}
	client.key, client.keySource = key, "the key given"
	// Any key may list workflows: this checks it without changing anything.
	if _, err := client.do(ctx, request{method: http.MethodGet, path: "/api/v1/workflows", query: url.Values{"limit": {"1"}}}, nil); err != nil {
		return c.fail("auth login", err)
	}
	path := credentialsPath()
	if path == "" {
		fmt.Fprintln(c.stderr, "weft auth login: WEFT_CREDENTIALS is none: the key is valid, and not kept")
		return exitUsage
	}
	if err := saveCredential(path, client.base, key); err != nil {
		return c.fail("auth login", err)
	}
	fmt.Fprintf(c.stdout, "the key works on %s; kept in %s\n", client.base, path)
	return exitOK
}
