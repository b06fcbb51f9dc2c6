package egress_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core/egress"
)

func TestPolicyCheck(t *testing.T) {
	t.Parallel()

	strict := egress.Policy{DenyPrivate: true}
	tests := []struct {
		name    string
		policy  egress.Policy
		ip      string
		refused bool
		reason  string // substring of the error, if refused
	}{
		// Refused by default.
		{name: "metadata", ip: "169.254.169.254", refused: true, reason: "169.254.169.254 is link-local (cloud metadata)"},
		{name: "ecs credentials", ip: "169.254.170.2", refused: true, reason: "link-local"},
		{name: "mapped metadata", ip: "::ffff:169.254.169.254", refused: true, reason: "169.254.169.254 is link-local (cloud metadata)"},
		{name: "oracle metadata", ip: "192.0.0.192", refused: true, reason: "Oracle Cloud metadata"},
		{name: "azure wireserver", ip: "168.63.129.16", refused: true, reason: "Azure WireServer"},
		{name: "local NAT64 metadata", ip: "64:ff9b:1::a9fe:a9fe", refused: true, reason: "embeds 169.254.169.254 (local NAT64)"},
		{name: "nat64 metadata", ip: "64:ff9b::a9fe:a9fe", refused: true, reason: "embeds 169.254.169.254 (NAT64)"},
		{name: "6to4 metadata", ip: "2002:a9fe:a9fe::1", refused: true, reason: "embeds 169.254.169.254 (6to4)"},
		{name: "ipv4-compatible metadata", ip: "::a9fe:a9fe", refused: true, reason: "(IPv4-compatible)"},
		{name: "ipv4-translated metadata", ip: "::ffff:0:a9fe:a9fe", refused: true, reason: "(IPv4-translated)"},
		{name: "v6 link-local", ip: "fe80::1", refused: true, reason: "fe80::1 is link-local"},
		{name: "v6 link-local with zone", ip: "fe80::1%eth0", refused: true, reason: "link-local"},
		{name: "aws imds v6", ip: "fd00:ec2::254", refused: true, reason: "AWS"},
		{name: "alibaba metadata", ip: "100.100.100.200", refused: true, reason: "Alibaba"},
		{name: "unspecified v4", ip: "0.0.0.0", refused: true, reason: "unspecified"},
		{name: "this network", ip: "0.1.2.3", refused: true, reason: "unspecified"},
		{name: "unspecified v6", ip: "::", refused: true, reason: "unspecified"},
		{name: "multicast v4", ip: "224.0.0.1", refused: true, reason: "multicast"},
		{name: "multicast v6", ip: "ff02::1", refused: true, reason: "multicast"},
		{name: "broadcast", ip: "255.255.255.255", refused: true, reason: "broadcast"},
		{name: "reserved", ip: "240.0.0.1", refused: true, reason: "reserved"},

		// Allowed by default: users' own services live here.
		{name: "loopback v4", ip: "127.0.0.1"},
		{name: "loopback v6", ip: "::1"},
		{name: "mapped loopback", ip: "::ffff:127.0.0.1"},
		{name: "rfc1918 10", ip: "10.1.2.3"},
		{name: "rfc1918 192.168", ip: "192.168.1.1"},
		{name: "public v4", ip: "8.8.8.8"},
		{name: "public v6", ip: "2606:4700::1111"},
		{name: "nat64 public", ip: "64:ff9b::808:808"},
		{name: "ula", ip: "fd12:3456::1"},

		// Strict mode.
		{name: "strict loopback", policy: strict, ip: "127.0.0.1", refused: true, reason: "private or special-use"},
		{name: "strict rfc1918", policy: strict, ip: "10.1.2.3", refused: true, reason: "private or special-use"},
		{name: "strict loopback v6", policy: strict, ip: "::1", refused: true, reason: "private or special-use"},
		{name: "strict cgnat", policy: strict, ip: "100.64.0.1", refused: true, reason: "private or special-use"},
		{name: "strict ula", policy: strict, ip: "fd12:3456::1", refused: true},
		{name: "strict mapped rfc1918", policy: strict, ip: "::ffff:10.0.0.1", refused: true},
		{name: "strict nat64 loopback", policy: strict, ip: "64:ff9b::7f00:1", refused: true, reason: "embeds 127.0.0.1"},
		{name: "strict 6to4 rfc1918", policy: strict, ip: "2002:a00:1::1", refused: true},
		{name: "strict metadata keeps its reason", policy: strict, ip: "169.254.169.254", refused: true, reason: "cloud metadata"},
		{name: "strict public v4", policy: strict, ip: "8.8.8.8"},
		{name: "strict public v6", policy: strict, ip: "2606:4700::1111"},

		// Allow wins; Deny adds.
		{name: "allow metadata", policy: egress.Policy{Allow: prefixes(t, "169.254.169.254/32")}, ip: "169.254.169.254"},
		{name: "allow metadata mapped", policy: egress.Policy{Allow: prefixes(t, "169.254.169.254/32")}, ip: "::ffff:169.254.169.254"},
		{name: "allow metadata only that address", policy: egress.Policy{Allow: prefixes(t, "169.254.169.254/32")}, ip: "169.254.170.2", refused: true},
		{name: "allow beats strict", policy: egress.Policy{DenyPrivate: true, Allow: prefixes(t, "10.0.0.0/8")}, ip: "10.1.2.3"},
		{name: "allow beats deny", policy: egress.Policy{Allow: prefixes(t, "8.8.8.8"), Deny: prefixes(t, "8.8.8.0/24")}, ip: "8.8.8.8"},
		{name: "allow nat64 prefix in strict mode", policy: egress.Policy{DenyPrivate: true, Allow: prefixes(t, "64:ff9b::/96")}, ip: "64:ff9b::808:808"},
		{name: "allowed nat64 prefix still checks embedded", policy: egress.Policy{DenyPrivate: true, Allow: prefixes(t, "64:ff9b::/96")}, ip: "64:ff9b::a9fe:a9fe", refused: true, reason: "cloud metadata"},
		{name: "deny", policy: egress.Policy{Deny: prefixes(t, "8.8.8.0/24")}, ip: "8.8.8.8", refused: true, reason: "8.8.8.8 is in denied range 8.8.8.0/24"},
		{name: "deny via nat64", policy: egress.Policy{Deny: prefixes(t, "8.8.8.0/24")}, ip: "64:ff9b::808:808", refused: true, reason: "embeds 8.8.8.8"},
		{name: "deny leaves others", policy: egress.Policy{Deny: prefixes(t, "8.8.8.0/24")}, ip: "8.8.4.4"},
		{name: "deny mapped prefix built by hand", policy: egress.Policy{Deny: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}}, ip: "10.1.2.3", refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.policy.Check(netip.MustParseAddr(tt.ip))
			if !tt.refused {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, egress.ErrForbiddenAddress)
			require.ErrorContains(t, err, tt.reason)
		})
	}
}

func TestPolicyCheckInvalidAddress(t *testing.T) {
	t.Parallel()
	require.ErrorIs(t, egress.Policy{}.Check(netip.Addr{}), egress.ErrForbiddenAddress)
}

func TestParsePrefixes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr string
	}{
		{name: "empty", in: nil, want: []string{}},
		{name: "cidrs", in: []string{"10.0.0.0/8", "fd00::/8"}, want: []string{"10.0.0.0/8", "fd00::/8"}},
		{name: "bare ipv4", in: []string{"169.254.169.254"}, want: []string{"169.254.169.254/32"}},
		{name: "bare ipv6", in: []string{"fd00:ec2::254"}, want: []string{"fd00:ec2::254/128"}},
		{name: "spaces trimmed", in: []string{" 10.0.0.0/8 "}, want: []string{"10.0.0.0/8"}},
		{name: "host bits masked", in: []string{"10.1.2.3/8"}, want: []string{"10.0.0.0/8"}},
		{name: "mapped becomes ipv4", in: []string{"::ffff:10.0.0.0/104", "::ffff:1.2.3.4"}, want: []string{"10.0.0.0/8", "1.2.3.4/32"}},
		{name: "garbage", in: []string{"10.0.0.0/8", "not-an-ip"}, wantErr: `entry 1 "not-an-ip"`},
		{name: "hostname", in: []string{"metadata.google.internal"}, wantErr: `"metadata.google.internal"`},
		{name: "bad bits", in: []string{"10.0.0.0/33"}, wantErr: `"10.0.0.0/33"`},
		{name: "empty entry", in: []string{""}, wantErr: `entry 0 ""`},
		{name: "zone", in: []string{"fe80::1%eth0"}, wantErr: `"fe80::1%eth0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := egress.ParsePrefixes(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			strs := make([]string, 0, len(got))
			for _, p := range got {
				strs = append(strs, p.String())
			}
			require.Equal(t, tt.want, strs)
		})
	}
}

func prefixes(t *testing.T, list ...string) []netip.Prefix {
	t.Helper()
	ps, err := egress.ParsePrefixes(list)
	require.NoError(t, err)
	return ps
}
