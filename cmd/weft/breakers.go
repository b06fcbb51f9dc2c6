package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/weftworks/weft/core"
)

const breakersUsage = `Usage:
  weft breakers list [--state S]                          every circuit breaker: state, failures, config
  weft breakers reset SERVICE                             close a breaker and clear its failures (admin)
  weft breakers config SERVICE [--threshold N] [--timeout MS] [--half-open-max-calls N]
                                                          show a breaker's config, or set it (admin)

Every command takes --server URL (env WEFT_URL) and --json.
`

func (c cli) cmdBreakers(ctx context.Context, args []string) int {
	return c.subcommands(ctx, "breakers", breakersUsage, args, map[string]func(context.Context, []string) int{
		"list":   c.breakersList,
		"reset":  c.breakersReset,
		"config": c.breakersConfig,
	})
}

func (c cli) breakersList(ctx context.Context, args []string) int {
	var state string
	client, cf, _, code := c.clientCommand("breakers list", "breakers list [--state CLOSED|OPEN|HALF_OPEN] [flags]", args, 0, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&state, "state", "", "only breakers in this state (CLOSED, OPEN, HALF_OPEN)")
	})
	if code >= 0 {
		return code
	}
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	var raw json.RawMessage
	if _, err := client.do(ctx, request{method: http.MethodGet, path: "/api/v1/circuit-breakers", query: q}, &raw); err != nil {
		return c.fail("breakers list", err)
	}
	if cf.json {
		_ = printJSON(c.stdout, raw)
		return exitOK
	}
	var list struct {
		Items []core.BreakerState `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return c.fail("breakers list", err)
	}
	tw := table(c.stdout, "SERVICE", "STATE", "FAILURES", "THRESHOLD", "TIMEOUT", "HALF-OPEN CALLS", "CONFIG FROM", "CALLS", "REJECTED")
	for _, b := range list.Items {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%dms\t%d\t%s\t%d\t%d\n", b.ServiceID, b.State, b.ConsecutiveFailures, b.Config.Threshold, b.Config.Timeout,
			b.Config.HalfOpenMaxCalls, b.ConfigSource, b.TotalCalls, b.TotalRejections)
	}
	_ = tw.Flush()
	if len(list.Items) == 0 {
		fmt.Fprintln(c.stderr, "no circuit breakers (a step names one with \"circuitBreaker\": \"service-id\")")
	}
	return exitOK
}

func (c cli) breakersReset(ctx context.Context, args []string) int {
	client, cf, rest, code := c.clientCommand("breakers reset", "breakers reset SERVICE [flags]", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	var raw json.RawMessage
	if _, err := client.do(ctx, request{method: http.MethodPost, path: "/api/v1/circuit-breakers/" + url.PathEscape(rest[0]) + "/reset"}, &raw); err != nil {
		return c.fail("breakers reset", err)
	}
	return c.printBreaker(raw, cf, "reset")
}

func (c cli) breakersConfig(ctx context.Context, args []string) int {
	var threshold, halfOpen int
	var timeout int64
	var fs *flag.FlagSet
	client, cf, rest, code := c.clientCommand("breakers config", "breakers config SERVICE [--threshold N] [--timeout MS] [--half-open-max-calls N] [flags]", args, 1, 1, func(f *flag.FlagSet) {
		fs = f
		f.IntVar(&threshold, "threshold", 0, "consecutive failures that open the breaker")
		f.Int64Var(&timeout, "timeout", 0, "milliseconds an open breaker waits before it lets trial calls through (HALF_OPEN)")
		f.IntVar(&halfOpen, "half-open-max-calls", 0, "trial calls a HALF_OPEN breaker admits")
	})
	if code >= 0 {
		return code
	}
	path := "/api/v1/circuit-breakers/" + url.PathEscape(rest[0])
	body := map[string]any{}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "threshold":
			body["threshold"] = threshold
		case "timeout":
			body["timeout"] = timeout
		case "half-open-max-calls":
			body["halfOpenMaxCalls"] = halfOpen
		}
	})
	var raw json.RawMessage
	var err error
	if len(body) == 0 {
		_, err = client.do(ctx, request{method: http.MethodGet, path: path}, &raw)
	} else {
		_, err = client.do(ctx, request{method: http.MethodPut, path: path + "/config", body: body}, &raw)
	}
	if err != nil {
		return c.fail("breakers config", err)
	}
	action := ""
	if len(body) > 0 {
		action = "configured"
	}
	return c.printBreaker(raw, cf, action)
}

// printBreaker prints one breaker's state and config, after what was done
// to it (none: only shown).
func (c cli) printBreaker(raw json.RawMessage, cf clientFlags, action string) int {
	if cf.json {
		_ = printJSON(c.stdout, raw)
		return exitOK
	}
	var b core.BreakerState
	if err := json.Unmarshal(raw, &b); err != nil {
		return c.fail("breakers", err)
	}
	if action != "" {
		fmt.Fprintf(c.stdout, "%s breaker %s: ", action, b.ServiceID)
	} else {
		fmt.Fprintf(c.stdout, "breaker %s: ", b.ServiceID)
	}
	fmt.Fprintf(c.stdout, "%s, %d consecutive failures; threshold %d, timeout %dms, half-open max calls %d (config from %s)\n",
		b.State, b.ConsecutiveFailures, b.Config.Threshold, b.Config.Timeout, b.Config.HalfOpenMaxCalls, strings.ToLower(b.ConfigSource))
	return exitOK
}
