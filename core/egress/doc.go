// Package egress builds the one *http.Client through which the engine makes
// every outbound call (HTTP_REQUEST steps, webhooks), and guards it against
// server-side request forgery.
//
// # Where the check happens
//
// The guard is a [net.Dialer] Control function: it runs after the host name
// has been resolved and the socket created, but before connect, so it sees
// the IP address the connection will really go to. Every connection is
// checked, including the new connection of each redirect hop and every
// address a name resolves to, which also defeats DNS rebinding. Nothing is
// decided from the URL text: http://[::ffff:169.254.169.254]/, decimal or
// octal host spellings and names that resolve to internal addresses all end
// up as the same resolved address at the dialer.
//
// # Refused by default
//
// The engine must reach the user's own services on localhost and private
// networks (and the bundled mock on 127.0.0.1), so the zero [Policy] allows
// loopback and RFC 1918 space. It refuses only destinations no workflow has a
// legitimate reason to call and which hand out credentials or reach the host
// itself:
//
//   - 0.0.0.0/8 and ::/128: unspecified; connecting to 0.0.0.0 reaches the
//     local host on Linux, behind the back of a loopback check.
//   - 169.254.0.0/16 and fe80::/10: link-local, home of the cloud metadata
//     endpoints (169.254.169.254 for AWS, GCP, Azure, OCI; 169.254.170.2 for
//     ECS task credentials).
//   - fd00:ec2::254/128 (AWS IMDS over IPv6) and 100.100.100.200/32 (Alibaba
//     Cloud metadata): metadata endpoints outside link-local space.
//   - 224.0.0.0/4 and ff00::/8 (multicast), 255.255.255.255/32 (broadcast),
//     240.0.0.0/4 (reserved): never a valid HTTP destination.
//
// Addresses are normalised first: an IPv4-mapped IPv6 address
// (::ffff:a.b.c.d) is checked as the IPv4 address, and the IPv4 address
// embedded in NAT64 (64:ff9b::/96), 6to4 (2002::/16), IPv4-compatible
// (::a.b.c.d) and IPv4-translated (::ffff:0:a.b.c.d) addresses is checked
// against the same rules as well, so 64:ff9b::a9fe:a9fe is refused like
// 169.254.169.254.
//
// # Allowing and denying
//
// [Policy.DenyPrivate] turns on the strict mode for deployments where
// workflows are written by untrusted users: every special-use range of the
// IANA registries is refused as well (loopback, RFC 1918, ULA fc00::/7,
// CGNAT 100.64.0.0/10, documentation and benchmarking ranges, and all IPv6
// outside global unicast 2000::/3, which includes the NAT64 and other
// translation prefixes), using code.dny.dev/ssrf.
//
// [Policy.Deny] refuses more ranges on top of the defaults. [Policy.Allow]
// is checked first and wins over Deny, the defaults and DenyPrivate, so an
// operator can open an internal range on purpose (say a metadata-like
// service at 169.254.10.0/24). An Allow entry applies to the address it
// matches: an IPv4 destination embedded in a NAT64/6to4 address is still
// checked as that IPv4 address, so allowing 64:ff9b::/96 (needed for DNS64
// in strict mode) opens NAT64 to public IPv4 but not to 169.254.169.254.
//
// # No proxy
//
// The transport deliberately ignores HTTP_PROXY, HTTPS_PROXY and NO_PROXY.
// Through a proxy the dialer would connect to, and so check, the proxy's
// address, while the proxy would go on to reach any target the workflow
// names, metadata endpoints included: the guard would be bypassed. Egress
// that must go through a proxy needs a proxy that enforces the same policy.
package egress
