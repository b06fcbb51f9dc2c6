package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"code.dny.dev/ssrf"
)

// ErrForbiddenAddress is wrapped by every refusal of the policy, whether it
// comes from [Policy.Check] or from a dial (and so from http.Client.Do), so
// callers can tell a refused destination from a network failure with
// errors.Is.
var ErrForbiddenAddress = errors.New("forbidden address")

// Policy decides which destination addresses outbound calls may reach. The
// zero value is the default policy described in the package documentation:
// loopback and private networks are reachable, metadata endpoints,
// link-local, unspecified, multicast and reserved addresses are not.
type Policy struct {
	// Allow lists ranges that are always reachable. It is checked first and
	// wins over Deny, the defaults and DenyPrivate, so an operator can open
	// an otherwise refused range (such as an internal metadata-like service)
	// on purpose.
	Allow []netip.Prefix
	// Deny lists ranges refused in addition to the defaults.
	Deny []netip.Prefix
	// DenyPrivate also refuses loopback, RFC 1918, ULA (fc00::/7), CGNAT and
	// every other special-use range of the IANA registries (and all IPv6
	// outside global unicast), for deployments where whoever writes the
	// workflows must not reach the engine's own network.
	DenyPrivate bool
}

// rule is one built-in refusal with the reason shown to the user.
type rule struct {
	prefix netip.Prefix
	reason string
}

// defaultRules are refused by every policy (unless allowed). They are the
// destinations no workflow has a reason to call and which either hand out
// cloud credentials or reach the host itself; private networks are not
// among them because users' own services live there. More specific entries
// come first so that the reason is the most precise one.
var defaultRules = []rule{
	{netip.MustParsePrefix("0.0.0.0/8"), "is unspecified (this network; 0.0.0.0 reaches the local host)"},
	{netip.MustParsePrefix("::/128"), "is unspecified (reaches the local host)"},
	{netip.MustParsePrefix("169.254.0.0/16"), "is link-local (cloud metadata)"},
	{netip.MustParsePrefix("fe80::/10"), "is link-local"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "is the AWS instance metadata endpoint (cloud metadata)"},
	{netip.MustParsePrefix("100.100.100.200/32"), "is the Alibaba Cloud metadata endpoint (cloud metadata)"},
	{netip.MustParsePrefix("192.0.0.192/32"), "is the Oracle Cloud metadata endpoint (cloud metadata)"},
	{netip.MustParsePrefix("168.63.129.16/32"), "is the Azure WireServer endpoint (cloud metadata)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "is multicast"},
	{netip.MustParsePrefix("ff00::/8"), "is multicast"},
	{netip.MustParsePrefix("255.255.255.255/32"), "is the broadcast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "is reserved (240.0.0.0/4)"},
}

// strict is the DenyPrivate check. Ports and networks are not its business
// here (the engine calls APIs on any port), only addresses are. A Guardian
// is safe for concurrent use.
var strict = ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork())

// embedding is an IPv6 range whose addresses carry an IPv4 address that the
// packet may end up being delivered to, so that IPv4 address must pass the
// policy too.
type embedding struct {
	prefix netip.Prefix
	name   string
	at     int // byte offset of the IPv4 address in the IPv6 address
}

var embeddings = []embedding{
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64", 12},
	// RFC 8215 local-use NAT64; with the usual /96 translation prefix the
	// IPv4 address is in the last 32 bits.
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local NAT64", 12},
	{netip.MustParsePrefix("2002::/16"), "6to4", 2},
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "IPv4-translated", 12},
	// ::/128 and ::1/128 are handled by the rules as what they are
	// (unspecified, loopback), not as 0.0.0.0 and 0.0.0.1.
	{netip.MustParsePrefix("::/96"), "IPv4-compatible", 12},
}

// Check reports whether ip may be dialed: nil, or an error wrapping
// [ErrForbiddenAddress] that names the address and the reason, such as
// "169.254.169.254 is link-local (cloud metadata)".
//
// The order is: Allow, Deny, the defaults, DenyPrivate. An IPv4-mapped
// address is checked as its IPv4 address; the IPv4 address embedded in a
// NAT64, 6to4, IPv4-compatible or IPv4-translated address is checked as well
// (with its own Allow lookup), so such an address passes only if both it and
// its embedded IPv4 address do.
func (p Policy) Check(ip netip.Addr) error {
	// Prefix.Contains never matches an address with a zone, so a zoned
	// fe80::1%eth0 would slip past every rule if the zone were kept.
	ip = ip.WithZone("").Unmap()
	if !ip.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrForbiddenAddress)
	}
	if v4, name, ok := embeddedIPv4(ip); ok {
		// Checked even if the IPv6 address itself is allowed: allowing the
		// NAT64 prefix (needed with DNS64 in strict mode) must not open
		// 64:ff9b::a9fe:a9fe, which the gateway delivers to 169.254.169.254.
		if reason := p.refusal(v4); reason != "" {
			return fmt.Errorf("%w: %s embeds %s (%s), which %s", ErrForbiddenAddress, ip, v4, name, reason)
		}
	}
	if reason := p.refusal(ip); reason != "" {
		return fmt.Errorf("%w: %s %s", ErrForbiddenAddress, ip, reason)
	}
	return nil
}

// refusal returns why the normalised address ip is refused, or "" if it is
// not.
func (p Policy) refusal(ip netip.Addr) string {
	for _, pr := range p.Allow {
		if contains(pr, ip) {
			return ""
		}
	}
	for _, pr := range p.Deny {
		if contains(pr, ip) {
			return "is in denied range " + pr.String()
		}
	}
	for _, r := range defaultRules {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	if p.DenyPrivate {
		if err := strict.SafeAddr(ip); err != nil {
			return "is private or special-use (" + err.Error() + ")"
		}
	}
	return ""
}

// embeddedIPv4 returns the IPv4 address carried by an IPv6 address of one of
// the translation/tunnelling ranges, and the range's name.
func embeddedIPv4(ip netip.Addr) (netip.Addr, string, bool) {
	if !ip.Is6() || ip == netip.IPv6Unspecified() || ip == netip.IPv6Loopback() {
		return netip.Addr{}, "", false
	}
	b := ip.As16()
	for _, e := range embeddings {
		if e.prefix.Contains(ip) {
			return netip.AddrFrom4([4]byte(b[e.at : e.at+4])), e.name, true
		}
	}
	return netip.Addr{}, "", false
}

// contains is Prefix.Contains for a normalised address that also lets an
// IPv4-mapped prefix (::ffff:10.0.0.0/104) match IPv4 addresses, since
// addresses are unmapped before they are checked.
func contains(p netip.Prefix, ip netip.Addr) bool {
	return normalisePrefix(p).Contains(ip)
}

// normalisePrefix turns an IPv4-mapped IPv6 prefix into the IPv4 prefix it
// stands for.
func normalisePrefix(p netip.Prefix) netip.Prefix {
	if p.IsValid() && p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked()
	}
	return p
}

// ParsePrefixes parses configuration entries for [Policy.Allow] and
// [Policy.Deny]. Each entry is a CIDR prefix or a bare IP address (an IPv4
// address becomes a /32, an IPv6 one a /128); surrounding spaces are
// ignored, host bits are masked off, and IPv4-mapped IPv6 entries become
// IPv4 ones. The error names the first bad entry.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for i, raw := range list {
		s := strings.TrimSpace(raw)
		var (
			p   netip.Prefix
			err error
		)
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(s)
			if err == nil && a.Zone() != "" {
				// A zone names a local interface, not a destination range.
				err = errors.New("zones are not allowed")
			}
			if err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("egress: entry %d %q is not an IP address or CIDR prefix: %w", i, raw, err)
		}
		out = append(out, normalisePrefix(p.Masked()))
	}
	return out, nil
}
