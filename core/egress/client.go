package egress

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"syscall"
	"time"
)

// Defaults applied by [NewClient] and [NewDialer] to zero fields of
// [Options].
const (
	defaultDialTimeout           = 10 * time.Second
	defaultTLSHandshakeTimeout   = 10 * time.Second
	defaultResponseHeaderTimeout = 30 * time.Second
	defaultIdleConnTimeout       = 90 * time.Second
	defaultTimeout               = 5 * time.Minute
	defaultMaxRedirects          = 10
)

// Options configure the client built by [NewClient]. The zero value is the
// default policy with the default timeouts. For every duration, zero means
// the default and a negative value means no limit.
type Options struct {
	// Policy decides which addresses may be dialed.
	Policy Policy
	// DialTimeout bounds name resolution plus connect (default 10s).
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake (default 10s).
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for response headers once the
	// request is written (default 30s), so a server that accepts and then
	// stalls does not hold a step until the overall timeout.
	ResponseHeaderTimeout time.Duration
	// IdleConnTimeout is how long a kept-alive connection may stay idle in
	// the pool (default 90s).
	IdleConnTimeout time.Duration
	// Timeout is the client's overall bound on one request including
	// redirects and reading the body (default 5m). It is a backstop: steps
	// bound their calls more tightly through the request context.
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed (default 10); a
	// negative value follows none and returns the 3xx response itself.
	MaxRedirects int
}

// NewClient returns the guarded client for all outbound HTTP. Every
// connection it opens, redirect hops included, is checked against
// opts.Policy at dial time; a refusal surfaces from Do as an error wrapping
// [ErrForbiddenAddress]. It never uses a proxy (see the package
// documentation). The client is safe for concurrent use and should be
// shared so that connections are pooled.
func NewClient(opts Options) *http.Client {
	t := &http.Transport{
		// Proxy is nil on purpose, ignoring HTTP_PROXY/HTTPS_PROXY: through
		// a proxy the guard would check the proxy's address, not the
		// target's, and the proxy would reach any target on our behalf.
		Proxy:             nil,
		DialContext:       NewDialer(opts).DialContext,
		ForceAttemptHTTP2: true,
		// Enough kept-alive connections per host for the executions that
		// call it at once (each PARALLEL branch holds one): past the limit
		// a finished call closes its connection and the next one dials
		// again — a TCP handshake and two new goroutines, which were 2 %
		// of weft serve's CPU at 32 concurrent executions.
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       duration(opts.IdleConnTimeout, defaultIdleConnTimeout),
		TLSHandshakeTimeout:   duration(opts.TLSHandshakeTimeout, defaultTLSHandshakeTimeout),
		ResponseHeaderTimeout: duration(opts.ResponseHeaderTimeout, defaultResponseHeaderTimeout),
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport:     t,
		CheckRedirect: checkRedirect(opts.MaxRedirects),
		Timeout:       duration(opts.Timeout, defaultTimeout),
	}
}

// NewDialer returns the guarded dialer used by [NewClient], for transports
// other than HTTP. Its Control function checks the resolved address of each
// connection against opts.Policy before connecting; only opts.Policy and
// opts.DialTimeout are used. Do not set ControlContext on it: it takes
// precedence over Control and would disable the guard.
func NewDialer(opts Options) *net.Dialer {
	// Copy the prefixes so that a caller reusing its slices cannot change
	// the policy of a dialer that is already in use.
	p := Policy{
		Allow:       slices.Clone(opts.Policy.Allow),
		Deny:        slices.Clone(opts.Policy.Deny),
		DenyPrivate: opts.Policy.DenyPrivate,
	}
	return &net.Dialer{
		Timeout: duration(opts.DialTimeout, defaultDialTimeout),
		// Control runs once per connection attempt, after resolution and
		// before connect, with the literal IP:port being dialed, so it sees
		// each address a name resolves to and nothing reaches the wire
		// before the check.
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				// Not an IP socket (e.g. a Unix socket): nothing the policy
				// can vouch for.
				return fmt.Errorf("%w: cannot check %s address %q", ErrForbiddenAddress, network, address)
			}
			return p.Check(ap.Addr())
		},
	}
}

// checkRedirect bounds redirect chains and keeps them on http/https: another
// scheme would either fail obscurely in the transport or, with a custom
// transport, reach something that is not an HTTP API.
func checkRedirect(limit int) func(*http.Request, []*http.Request) error {
	if limit == 0 {
		limit = defaultMaxRedirects
	}
	return func(req *http.Request, via []*http.Request) error {
		if limit < 0 {
			return http.ErrUseLastResponse
		}
		if s := req.URL.Scheme; s != "http" && s != "https" {
			return fmt.Errorf("refusing redirect to %q: scheme %q is not http or https", req.URL.Redacted(), s)
		}
		// via holds the requests already made, so len(via) is the number of
		// the redirect about to be followed.
		if len(via) > limit {
			return fmt.Errorf("stopped after %d redirects", limit)
		}
		// Go drops Authorization and Cookie on a redirect to another host, but
		// forwards every other header, and workflows put API keys in headers
		// of their own (X-Api-Key). Another host gets only harmless ones.
		if len(via) > 0 && req.URL.Host != via[0].URL.Host {
			for name := range req.Header {
				if !forwardable[http.CanonicalHeaderKey(name)] {
					req.Header.Del(name)
				}
			}
		}
		return nil
	}
}

// forwardable are the headers a redirect to another host keeps.
var forwardable = map[string]bool{
	"Accept": true, "Accept-Encoding": true, "Accept-Language": true,
	"User-Agent": true, "Content-Type": true, "Idempotency-Key": true,
}

// duration applies the zero-means-default, negative-means-unlimited rule.
func duration(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	default:
		return d
	}
}
