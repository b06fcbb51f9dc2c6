package egress_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core/egress"
)

// counter is an httptest handler that counts the requests it sees and then
// delegates to next (200 "ok" if nil).
type counter struct {
	hits atomic.Int64
	next http.HandlerFunc
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.hits.Add(1)
	if c.next != nil {
		c.next(w, r)
		return
	}
	_, _ = w.Write([]byte("ok"))
}

func newServer(t *testing.T, next http.HandlerFunc) (*httptest.Server, *counter) {
	t.Helper()
	c := &counter{next: next}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv, c
}

func get(t *testing.T, client *http.Client, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	if err == nil {
		t.Cleanup(func() { _ = resp.Body.Close() })
	}
	return resp, err
}

func TestClientGuard(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		opts egress.Options
		// url is requested as is, or the test server's URL if empty.
		url       string
		forbidden bool
		// serverHits is what the local test server must have seen.
		serverHits int64
	}{
		{name: "default reaches loopback", serverHits: 1},
		{name: "strict refuses loopback", opts: egress.Options{Policy: egress.Policy{DenyPrivate: true}}, forbidden: true},
		{name: "deny refuses loopback", opts: egress.Options{Policy: egress.Policy{Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}, forbidden: true},
		{name: "allow reopens loopback in strict mode", opts: egress.Options{Policy: egress.Policy{DenyPrivate: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}}, serverHits: 1},
		// Control runs before connect: these fail with our error, not with
		// a timeout or "network unreachable" from a real connection attempt.
		{name: "metadata", url: "http://169.254.169.254/latest/meta-data/", forbidden: true},
		{name: "mapped metadata", url: "http://[::ffff:169.254.169.254]/", forbidden: true},
		{name: "nat64 metadata", url: "http://[64:ff9b::a9fe:a9fe]/", forbidden: true},
		{name: "metadata https", url: "https://169.254.169.254/", forbidden: true},
		{name: "unspecified", url: "http://0.0.0.0/", forbidden: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := newServer(t, nil)
			url := tt.url
			if url == "" {
				url = srv.URL
			}
			resp, err := get(t, egress.NewClient(tt.opts), url)
			if tt.forbidden {
				require.ErrorIs(t, err, egress.ErrForbiddenAddress)
				var opErr *net.OpError
				require.ErrorAs(t, err, &opErr, "the refusal comes from the dialer")
			} else {
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode)
			}
			require.Equal(t, tt.serverHits, c.hits.Load())
		})
	}
}

func TestClientRedirects(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name         string
		maxRedirects int
		// target of every redirect; "" redirects to the server itself.
		target     string
		wantStatus int
		wantErr    string
		forbidden  bool
		serverHits int64
	}{
		{name: "redirect hop to metadata is refused", target: "http://169.254.169.254/latest/meta-data/", forbidden: true, serverHits: 1},
		{name: "redirect hop to mapped metadata is refused", target: "http://[::ffff:169.254.169.254]/", forbidden: true, serverHits: 1},
		{name: "redirect to ftp is refused", target: "ftp://127.0.0.1/etc/passwd", wantErr: `scheme "ftp" is not http or https`, serverHits: 1},
		{name: "redirect to file is refused", target: "file:///etc/passwd", wantErr: `scheme "file"`, serverHits: 1},
		{name: "limit", maxRedirects: 3, wantErr: "stopped after 3 redirects", serverHits: 4},
		{name: "default limit", wantErr: "stopped after 10 redirects", serverHits: 11},
		{name: "negative returns the 3xx", maxRedirects: -1, wantStatus: http.StatusFound, serverHits: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				target := tt.target
				if target == "" {
					target = "/again"
				}
				http.Redirect(w, r, target, http.StatusFound)
			})
			client := egress.NewClient(egress.Options{MaxRedirects: tt.maxRedirects})
			resp, err := get(t, client, srv.URL)
			switch {
			case tt.forbidden:
				require.ErrorIs(t, err, egress.ErrForbiddenAddress)
			case tt.wantErr != "":
				require.ErrorContains(t, err, tt.wantErr)
				require.NotErrorIs(t, err, egress.ErrForbiddenAddress)
			default:
				require.NoError(t, err)
				require.Equal(t, tt.wantStatus, resp.StatusCode)
			}
			require.Equal(t, tt.serverHits, c.hits.Load())
		})
	}
}

func TestClientRedirectWithinPolicy(t *testing.T) {
	t.Parallel()
	final, finalHits := newServer(t, nil)
	first, firstHits := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, final.URL, http.StatusFound)
	})
	resp, err := get(t, egress.NewClient(egress.Options{}), first.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, int64(1), firstHits.hits.Load())
	require.Equal(t, int64(1), finalHits.hits.Load())
}

// Not parallel: t.Setenv. The target is the metadata address because a
// proxy is skipped for loopback targets anyway; through the proxy the guard
// would only see (and allow) the proxy's 127.0.0.1.
func TestClientIgnoresProxyEnvironment(t *testing.T) {
	proxy, proxyHits := newServer(t, nil)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("HTTPS_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("https_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")

	client := egress.NewClient(egress.Options{})
	tr, ok := client.Transport.(*http.Transport)
	require.True(t, ok)
	require.Nil(t, tr.Proxy)

	_, err := get(t, client, "http://169.254.169.254/latest/meta-data/")
	require.ErrorIs(t, err, egress.ErrForbiddenAddress)
	require.Zero(t, proxyHits.hits.Load(), "the proxy must not be used")

	target, targetHits := newServer(t, nil)
	resp, err := get(t, client, target.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, int64(1), targetHits.hits.Load())
	require.Zero(t, proxyHits.hits.Load(), "the proxy must not be used")
}

func TestDialer(t *testing.T) {
	t.Parallel()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()

	tests := []struct {
		name      string
		policy    egress.Policy
		addr      string
		forbidden bool
	}{
		{name: "loopback allowed", addr: ln.Addr().String()},
		{name: "loopback refused in strict mode", policy: egress.Policy{DenyPrivate: true}, addr: ln.Addr().String(), forbidden: true},
		{name: "metadata refused", addr: "169.254.169.254:80", forbidden: true},
		{name: "mapped metadata refused", addr: "[::ffff:169.254.169.254]:80", forbidden: true},
		{name: "link-local v6 refused", addr: "[fe80::1]:80", forbidden: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := egress.NewDialer(egress.Options{Policy: tt.policy})
			conn, err := d.DialContext(context.Background(), "tcp", tt.addr)
			if tt.forbidden {
				require.ErrorIs(t, err, egress.ErrForbiddenAddress)
				return
			}
			require.NoError(t, err)
			require.NoError(t, conn.Close())
		})
	}
}

// A caller reusing its slices must not change the policy of a dialer that
// is already in use.
func TestNewDialerCopiesPolicy(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()

	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	d := egress.NewDialer(egress.Options{Policy: egress.Policy{DenyPrivate: true, Allow: allow}})
	allow[0] = netip.MustParsePrefix("192.0.2.1/32")
	conn, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
	require.NoError(t, err)
	require.NoError(t, conn.Close())
}

// A redirect to another host keeps only harmless headers: API keys in headers
// of the workflow's own (X-Api-Key) must not follow it. The same host keeps them.
func TestClientRedirectToAnotherHostDropsHeaders(t *testing.T) {
	t.Parallel()
	seen := make(chan http.Header, 4)
	record := func(w http.ResponseWriter, r *http.Request) { seen <- r.Header.Clone() }
	other := httptest.NewServer(http.HandlerFunc(record))
	t.Cleanup(other.Close)
	tests := []struct {
		name    string
		target  func(self string) string
		keepKey bool
	}{
		{"same host", func(self string) string { return self + "/final" }, true},
		{"other host", func(string) string { return other.URL + "/final" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var self string
			first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/final" {
					record(w, r)
					return
				}
				http.Redirect(w, r, tt.target(self), http.StatusFound)
			}))
			t.Cleanup(first.Close)
			self = first.URL
			req, err := http.NewRequest(http.MethodGet, first.URL, nil)
			require.NoError(t, err)
			req.Header.Set("X-Api-Key", "k-123456")
			req.Header.Set("Accept", "application/json")
			resp, err := egress.NewClient(egress.Options{}).Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			h := <-seen
			require.Equal(t, "application/json", h.Get("Accept"))
			if tt.keepKey {
				require.Equal(t, "k-123456", h.Get("X-Api-Key"))
			} else {
				require.Empty(t, h.Get("X-Api-Key"))
			}
		})
	}
}
