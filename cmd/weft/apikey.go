package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/weftworks/weft/server"
)

const apikeyUsage = `Usage:
  weft apikey create --role viewer|operator|editor|admin [--name NAME] [--db …]
  weft apikey list [--db …]
  weft apikey revoke ID [--db …]

Manages the API keys of weft serve. A new key is printed once; weft stores
only its hash. Roles (each may do what the ones before it may): viewer reads,
operator runs, cancels and retries, editor authors workflows, admin manages
keys and circuit breakers.`

func cmdAPIKey(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, apikeyUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("weft apikey "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dbf dbFlags
	dbf.register(fs, "weft.db")
	role := fs.String("role", "", "the key's role: viewer, operator, editor or admin")
	name := fs.String("name", "", "a name to tell the key apart")
	fs.Usage = func() {
		fmt.Fprintln(stderr, apikeyUsage+"\n\nFlags:")
		fs.PrintDefaults()
	}
	rest, err := parseArgs(fs, args[1:])
	if err != nil {
		return exitUsage
	}
	cmd := args[0]
	switch {
	case cmd == "create" && len(rest) == 0, cmd == "list" && len(rest) == 0, cmd == "revoke" && len(rest) == 1:
	default:
		fs.Usage()
		return exitUsage
	}
	var r server.Role
	if cmd == "create" {
		if r, err = server.ParseRole(*role); err != nil {
			fmt.Fprintf(stderr, "weft apikey create: --role: %v\n", err)
			return exitUsage
		}
	}
	d, err := dbf.open(ctx, true)
	if err != nil {
		fmt.Fprintf(stderr, "weft apikey: %v\n", err)
		return exitFailed
	}
	defer d.Close()
	store := d.Store()
	switch cmd {
	case "create":
		secret, k, err := server.CreateKey(ctx, store, *name, r)
		if err != nil {
			fmt.Fprintf(stderr, "weft apikey create: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stderr, "created %s key %s (id %s); it is shown only this once:\n", k.Role, k.Prefix+"…", k.ID)
		fmt.Fprintln(stdout, secret)
	case "list":
		keys, err := store.ListKeys(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "weft apikey list: %v\n", err)
			return exitFailed
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPREFIX\tROLE\tNAME\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := ""
			if !k.RevokedAt.IsZero() {
				revoked = k.RevokedAt.UTC().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s…\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Role, k.Name, k.CreatedAt.UTC().Format("2006-01-02 15:04"), revoked)
		}
		_ = tw.Flush()
	case "revoke":
		if err := store.RevokeKey(ctx, rest[0]); err != nil {
			fmt.Fprintf(stderr, "weft apikey revoke: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "revoked %s\n", rest[0])
	}
	return exitOK
}
