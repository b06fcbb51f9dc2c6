package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/weftworks/weft/sdk"
)

// The commands that talk to a running weft serve over its REST API
// (workflows, execute, executions, breakers, auth) share this client.

// Exit codes of the client commands, besides exitOK, exitFailed (the server
// refused the request, or an execution ended FAILED, TIMED_OUT or
// CANCELLED) and exitUsage.
const (
	// exitUnreachable: no answer from the server (not running, wrong
	// address, connection cut).
	exitUnreachable = 3
	// exitAuth: no API key, or one the server refuses (401) or whose role
	// may not do this (403).
	exitAuth = 4
	// exitInterrupted: Ctrl-C (128 + SIGINT, as shells report it).
	exitInterrupted = 130
)

// defaultServer is where weft serve listens by default.
const defaultServer = "http://127.0.0.1:8080"

// clientFlags are the flags every client command has.
type clientFlags struct {
	server string
	json   bool
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.server, "server", os.Getenv("WEFT_URL"), "the weft server's URL (env WEFT_URL; default: the last server weft serve or weft auth login wrote a key for, else "+defaultServer+")")
	fs.BoolVar(&f.json, "json", false, "print the server's JSON answer instead of a table")
}

// apiClient calls one weft server with one API key.
type apiClient struct {
	base string // scheme://host[:port][/prefix], no trailing slash
	key  string
	// keySource says where the key came from, for messages.
	keySource string
	http      *http.Client
}

// newClient resolves the server (--server, WEFT_URL, the credentials
// file's current server, the default) and its key (WEFT_API_KEY, else the
// credentials file's key for that server). The credentials file is read
// only when it is needed, and a broken one is a warning, not a failure:
// --server and WEFT_API_KEY work without it.
func newClient(f clientFlags, stderr io.Writer) (*apiClient, error) {
	envKey := os.Getenv("WEFT_API_KEY")
	creds := &credentials{Servers: map[string]serverCredential{}}
	if f.server == "" || envKey == "" {
		c, err := readCredentials(credentialsPath())
		switch {
		case err != nil && stderr != nil:
			fmt.Fprintf(stderr, "weft: warning: %v\n", err)
		case err == nil:
			creds = c
			if warn := c.warning; warn != "" && stderr != nil {
				fmt.Fprintf(stderr, "weft: warning: %s\n", warn)
			}
		}
	}
	base := f.server
	if base == "" {
		base = creds.Current
	}
	if base == "" {
		base = defaultServer
	}
	base, err := normalizeServer(base)
	if err != nil {
		return nil, err
	}
	c := &apiClient{base: base, http: &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: time.Minute, // no call of the CLI waits on the server's side
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       30 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		// A redirect is not followed: the key would go along to wherever it
		// points (net/http keeps Authorization for the same host name, even
		// another port, or http after https), and no weft answer redirects.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	switch {
	case envKey != "":
		c.key, c.keySource = envKey, "WEFT_API_KEY"
	case creds.Servers[base].APIKey != "":
		c.key, c.keySource = creds.Servers[base].APIKey, "the credentials file "+credentialsPath()
	}
	return c, nil
}

// normalizeServer accepts a server as a URL or as host:port.
func normalizeServer(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--server %q: not a server URL (e.g. http://127.0.0.1:8080)", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// remoteError is a request the server refused, or could not be sent.
type remoteError struct {
	// Status is the HTTP status; 0 when the server was not reached.
	Status  int
	Code    string
	Message string
	Details []sdk.Problem
	// hint says what to do about it, when something useful can be said.
	hint string
}

func (e *remoteError) Error() string {
	msg := e.Message
	if e.Code != "" {
		msg = e.Code + ": " + msg
	}
	if e.Code == "VALIDATION_FAILED" || e.Code == "INVALID_REQUEST" || e.Code == "INVALID_JSON" {
		for _, d := range e.Details {
			if d.Path != "" && !strings.Contains(e.Message, d.Message) {
				msg += "\n  " + d.Path + ": " + d.Message
			}
		}
	}
	msg = printable(msg)
	if e.hint != "" {
		msg += "\n" + e.hint
	}
	return msg
}

// exitCode is the exit code a client command ends with after err.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	var re *remoteError
	if errors.As(err, &re) {
		switch {
		case re.Status == 0:
			return exitUnreachable
		case re.Status == http.StatusUnauthorized || re.Status == http.StatusForbidden:
			return exitAuth
		}
	}
	return exitFailed
}

// request is one API call.
type request struct {
	method, path string
	query        url.Values
	// body is sent as it is (with contentType) when it is []byte, else as
	// JSON; nil sends none.
	body        any
	contentType string
	header      http.Header
}

// do sends a request and decodes a 2xx JSON answer into out (unless out is
// nil). Any other answer is a *remoteError.
func (c *apiClient) do(ctx context.Context, r request, out any) (*http.Response, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	contentType := r.contentType
	switch b := r.body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		body, contentType = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "weft-cli/"+versionString())
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	res, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &remoteError{Message: fmt.Sprintf("cannot reach the weft server at %s: %v", c.base, unwrapURLError(err)),
			hint: "Is weft serve running there? Name another server with --server URL or WEFT_URL."}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer+1))
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		return res, &remoteError{Message: fmt.Sprintf("%s %s: the answer was cut: %v", r.method, u, err)}
	case len(data) > maxAnswer:
		return res, &remoteError{Status: res.StatusCode, Message: fmt.Sprintf("%s %s: the answer is over %d MiB", r.method, u, maxAnswer>>20)}
	case res.StatusCode/100 == 3:
		return res, &remoteError{Status: res.StatusCode, Message: fmt.Sprintf("%s %s: the server answered %s, to %q; weft answers no request with a redirect: is --server the weft server's URL?",
			r.method, u, res.Status, res.Header.Get("Location"))}
	case res.StatusCode/100 != 2:
		return res, c.errorOf(res, data)
	}
	if out == nil || len(data) == 0 && res.StatusCode == http.StatusNoContent {
		return res, nil
	}
	if !json.Valid(data) {
		return res, &remoteError{Status: res.StatusCode, Message: fmt.Sprintf("%s %s: the answer (%s, %s) is not JSON: is --server the weft server's URL?",
			r.method, u, res.Status, res.Header.Get("Content-Type"))}
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], data...)
		return res, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return res, &remoteError{Status: res.StatusCode, Message: fmt.Sprintf("%s %s: the answer is not what a weft server sends: %v", r.method, u, err)}
	}
	return res, nil
}

// maxAnswer bounds an answer the CLI reads.
const maxAnswer = 256 << 20

// errorOf turns an error answer into a remoteError, with a hint for the
// errors a user can fix from here.
func (c *apiClient) errorOf(res *http.Response, data []byte) *remoteError {
	var body struct {
		Error *struct {
			Code    string        `json:"code"`
			Message string        `json:"message"`
			Details []sdk.Problem `json:"details"`
		} `json:"error"`
	}
	e := &remoteError{Status: res.StatusCode}
	if json.Unmarshal(data, &body) == nil && body.Error != nil {
		e.Code, e.Message, e.Details = body.Error.Code, body.Error.Message, body.Error.Details
	} else {
		e.Message = fmt.Sprintf("%s from %s, which does not look like a weft server", res.Status, c.base)
	}
	switch res.StatusCode {
	case http.StatusUnauthorized:
		if c.key == "" {
			e.hint = "No API key for " + c.base + ": set WEFT_API_KEY, or store one with: weft auth login --server " + c.base
		} else {
			e.hint = "The key from " + c.keySource + " is not valid on " + c.base + "."
		}
	case http.StatusForbidden:
		e.hint = "Ask an admin for a key of the role named above (weft apikey create --role ROLE)."
	}
	return e
}

// unwrapURLError drops the method and URL net/http puts in front of a
// transport error (the message names the server already).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// printJSON prints a JSON answer indented, as --json does.
func printJSON(w io.Writer, v any) error {
	if raw, ok := v.(json.RawMessage); ok {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			_, err = w.Write(raw)
			return err
		}
		buf.WriteByte('\n')
		_, err := w.Write(buf.Bytes())
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
