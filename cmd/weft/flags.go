package main

import (
	"flag"
	"os"
	"strings"

	"github.com/weftworks/weft/core/egress"
)

// parseArgs parses flags that may come before, between or after positional
// arguments (weft run wf.json --json), returning the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// listFlag is a repeatable, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// egressFlags are the outbound-call policy flags shared by commands that run
// workflows. Each also reads a WEFT_* environment variable.
type egressFlags struct {
	allow, deny listFlag
	denyPrivate bool
}

func (e *egressFlags) register(fs *flag.FlagSet) {
	_ = e.allow.Set(os.Getenv("WEFT_EGRESS_ALLOW"))
	_ = e.deny.Set(os.Getenv("WEFT_EGRESS_DENY"))
	e.denyPrivate = os.Getenv("WEFT_EGRESS_DENY_PRIVATE") == "true"
	fs.Var(&e.allow, "egress-allow", "CIDRs or IPs outbound calls may always reach, even refused ones (repeatable; env WEFT_EGRESS_ALLOW)")
	fs.Var(&e.deny, "egress-deny", "CIDRs or IPs outbound calls must not reach, besides cloud metadata and link-local (repeatable; env WEFT_EGRESS_DENY)")
	fs.BoolVar(&e.denyPrivate, "egress-deny-private", e.denyPrivate, "also refuse loopback, private and every other special-use address (env WEFT_EGRESS_DENY_PRIVATE=true)")
}

func (e *egressFlags) options() (egress.Options, error) {
	allow, err := egress.ParsePrefixes(e.allow)
	if err != nil {
		return egress.Options{}, err
	}
	deny, err := egress.ParsePrefixes(e.deny)
	if err != nil {
		return egress.Options{}, err
	}
	return egress.Options{Policy: egress.Policy{Allow: allow, Deny: deny, DenyPrivate: e.denyPrivate}}, nil
}
