package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weftworks/weft/server"
)

// The original design's curl examples, word for word but for one thing: the
// workflow's apiBase variable points at this repository's mock API
// (examples/lead-distribution.json), where the original named its real
// services. {workflowId} and {executionId} are filled from earlier answers,
// as a reader of the examples would.
var originalCurls = []string{
	// Create the workflow.
	`curl -X POST http://localhost:3000/api/v1/workflows \
  -H "Content-Type: application/json" \
  -d '{
  "name": "Submit Lead to Multiple Carriers",
  "category": "lead_distribution",
  "status": "ACTIVE",
  "timeout": 60000,
  "variables": {"minScore": 50, "apiBase": "http://127.0.0.1:9100"},
  "triggers": [{"type": "EVENT", "config": {"eventType": "lead.qualified"}, "isEnabled": true}],
  "steps": [
    {"id": "get_lead", "name": "Get Lead", "type": "HTTP_REQUEST", "order": 1,
     "config": {"method": "GET", "url": "{{apiBase}}/leads/{{leadId}}"},
     "retryPolicy": {"strategy": "EXPONENTIAL", "maxAttempts": 3, "initialDelay": 100,
                     "maxDelay": 2000, "multiplier": 2, "retryableErrors": ["TIMEOUT", "HTTP_5XX"]},
     "timeout": 5000, "circuitBreaker": "leads-api"},
    {"id": "shape", "type": "DATA_TRANSFORM", "dependsOn": ["get_lead"],
     "config": {"source": "{{steps.get_lead.output.body}}", "operations": [
        {"type": "rename", "from": "email", "to": "contactEmail"},
        {"type": "calculate", "field": "priority", "expression": "score * 2"},
        {"type": "format", "field": "state", "format": "upper"}]}},
    {"id": "qualified", "type": "CONDITIONAL", "dependsOn": ["shape"],
     "config": {"conditions": [{"field": "steps.shape.output.score", "operator": "gt", "value": "{{minScore}}"}],
                "logic": "AND", "then": ["fan_out"], "else": []}},
    {"id": "fan_out", "type": "PARALLEL", "dependsOn": ["qualified"],
     "config": {"maxConcurrency": 2, "steps": [
        {"id": "carrier_a", "type": "HTTP_REQUEST", "config": {"method": "POST", "url": "{{apiBase}}/carriers/a", "body": "{{steps.shape.output}}"}},
        {"id": "carrier_b", "type": "HTTP_REQUEST", "config": {"method": "POST", "url": "{{apiBase}}/carriers/b", "body": "{{steps.shape.output}}"}}]}}
  ]
}'`,
	// Execute it.
	`curl -X POST http://localhost:3000/api/v1/workflows/{workflowId}/execute \
  -H "Content-Type: application/json" \
  -d '{"input":{"leadId":"lead_123"}}'`,
	// Follow the execution.
	`curl http://localhost:3000/api/v1/executions/{executionId}`,
	// Reset a breaker.
	`curl -X POST http://localhost:3000/api/v1/circuit-breakers/leads-api/reset`,
	// Update a breaker's config.
	`curl -X PUT http://localhost:3000/api/v1/circuit-breakers/leads-api/config \
  -H "Content-Type: application/json" \
  -d '{"threshold":10,"timeout":120000,"halfOpenMaxCalls":5}'`,
}

// curlCall is what a curl command line asks for.
type curlCall struct {
	method, url, body string
	header            http.Header
}

// parseCurl reads the few curl options the examples use: -X, -H, -d (and
// their long forms). Anything else is an error, so that a replay never
// silently differs from what curl would send.
func parseCurl(cmd string) (curlCall, error) {
	words, err := shellWords(strings.ReplaceAll(cmd, "\\\n", " "))
	if err != nil {
		return curlCall{}, err
	}
	if len(words) == 0 || words[0] != "curl" {
		return curlCall{}, fmt.Errorf("not a curl command: %.40q", cmd)
	}
	c := curlCall{header: http.Header{}}
	hasData := false
	for i := 1; i < len(words); i++ {
		w := words[i]
		arg := func() (string, error) {
			if i+1 >= len(words) {
				return "", fmt.Errorf("%s without a value", w)
			}
			i++
			return words[i], nil
		}
		switch w {
		case "-X", "--request":
			if c.method, err = arg(); err != nil {
				return c, err
			}
		case "-H", "--header":
			h, err := arg()
			if err != nil {
				return c, err
			}
			name, value, ok := strings.Cut(h, ":")
			if !ok {
				return c, fmt.Errorf("header %q without a colon", h)
			}
			c.header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		case "-d", "--data", "--data-raw":
			if c.body, err = arg(); err != nil {
				return c, err
			}
			hasData = true
		default:
			if strings.HasPrefix(w, "-") || c.url != "" {
				return c, fmt.Errorf("curl option %q is not understood by this replay", w)
			}
			c.url = w
		}
	}
	if c.method == "" {
		c.method = "GET"
		if hasData {
			c.method = "POST"
		}
	}
	if hasData && c.header.Get("Content-Type") == "" {
		c.header.Set("Content-Type", "application/x-www-form-urlencoded") // what curl sends with -d
	}
	if c.url == "" {
		return c, fmt.Errorf("no URL in %.40q", cmd)
	}
	return c, nil
}

// shellWords splits a command line as a POSIX shell would: spaces separate
// words, '…' is literal, "…" honours \" \\ \$ and \`, \ escapes a character.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '\'':
			inWord = true
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j == len(rs) {
				return nil, fmt.Errorf("unterminated '")
			}
			cur.WriteString(string(rs[i+1 : j]))
			i = j
		case r == '"':
			inWord = true
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				if rs[j] == '\\' && j+1 < len(rs) && strings.ContainsRune("\"\\$`", rs[j+1]) {
					j++
				}
				cur.WriteRune(rs[j])
			}
			if j == len(rs) {
				return nil, fmt.Errorf("unterminated \"")
			}
			i = j
		case r == '\\' && i+1 < len(rs):
			inWord = true
			i++
			cur.WriteRune(rs[i])
		default:
			inWord = true
			cur.WriteRune(r)
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func TestParseCurl(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cmd    string
		want   curlCall
		hasErr bool
	}{
		{cmd: `curl http://h:1/p`, want: curlCall{method: "GET", url: "http://h:1/p"}},
		{cmd: `curl -d '{"a": "b c"}' http://h/p`, want: curlCall{method: "POST", url: "http://h/p", body: `{"a": "b c"}`,
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}},
		{cmd: "curl -X PUT \\\n  -H \"X-A: \\\"q\\\"\" http://h/p", want: curlCall{method: "PUT", url: "http://h/p",
			header: http.Header{"X-A": {`"q"`}}}},
		{cmd: `curl -v http://h/p`, hasErr: true},
		{cmd: `curl -d '{"a"`, hasErr: true},
		{cmd: `wget http://h/p`, hasErr: true},
	} {
		got, err := parseCurl(c.cmd)
		if c.hasErr {
			if err == nil {
				t.Errorf("%q: no error", c.cmd)
			}
			continue
		}
		if err != nil || got.method != c.want.method || got.url != c.want.url || got.body != c.want.body ||
			!reflect.DeepEqual(got.header, c.want.header) && len(c.want.header)+len(got.header) > 0 {
			t.Errorf("%q: %+v %v, want %+v", c.cmd, got, err, c.want)
		}
	}
}

// TestReplayOriginalCurls sends the original design's curl examples to a
// weft server with only the host and port changed (and an API key added),
// on SQLite and PostgreSQL, and checks every answer.
func TestReplayOriginalCurls(t *testing.T) {
	t.Parallel()
	// The example in the curl is examples/lead-distribution.json.
	create, err := parseCurl(originalCurls[0])
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile("../examples/lead-distribution.json")
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if json.Unmarshal([]byte(create.body), &a) != nil || json.Unmarshal(file, &b) != nil || !reflect.DeepEqual(a, b) {
		t.Fatalf("the create example is not examples/lead-distribution.json")
	}

	for name, dsn := range databases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, dsn(t))
			host, mock := hostOf(t, e.url), hostOf(t, e.api)
			ids := map[string]string{}
			replay := func(cmd string) (int, http.Header, map[string]any) {
				t.Helper()
				c, err := parseCurl(cmd)
				if err != nil {
					t.Fatal(err)
				}
				// Only the host and port change (the server's; the mock's in the
				// body), and ids come from earlier answers.
				raw := c.url
				for k, v := range ids {
					raw = strings.ReplaceAll(raw, "{"+k+"}", v)
				}
				u, err := url.Parse(raw)
				if err != nil {
					t.Fatal(err)
				}
				if u.Scheme != "http" || u.Host != "localhost:3000" {
					t.Fatalf("%s: not the original's server", c.url)
				}
				u.Host = host
				path := u.RequestURI()
				body := strings.ReplaceAll(c.body, "127.0.0.1:9100", mock)
				header := []string{"Authorization", "Bearer " + e.keys[server.RoleAdmin]}
				for k, vs := range c.header {
					header = append(header, k, vs[0])
				}
				var b any
				if c.body != "" {
					b = body
				}
				return e.call(c.method, path, "", b, header...)
			}

			status, hdr, wf := replay(originalCurls[0])
			if status != http.StatusCreated || wf["name"] != "Submit Lead to Multiple Carriers" || wf["version"] != 1.0 ||
				wf["status"] != "ACTIVE" || hdr.Get("Location") != "/api/v1/workflows/"+fmt.Sprint(wf["id"]) {
				t.Fatalf("create: %d %v", status, wf)
			}
			ids["workflowId"] = wf["id"].(string)

			status, hdr, got := replay(originalCurls[1])
			if status != http.StatusAccepted || got["status"] != "PENDING" || got["executionId"] == nil ||
				hdr.Get("Location") != "/api/v1/executions/"+fmt.Sprint(got["executionId"]) {
				t.Fatalf("execute: %d %v", status, got)
			}
			ids["executionId"] = got["executionId"].(string)

			var x map[string]any
			for deadline := time.Now().Add(hangGuard); ; time.Sleep(20 * time.Millisecond) {
				status, _, x = replay(originalCurls[2])
				if status != http.StatusOK {
					t.Fatalf("execution: %d %v", status, x)
				}
				if x["status"] == "COMPLETED" || x["status"] == "FAILED" || time.Now().After(deadline) {
					break
				}
			}
			steps, _ := x["steps"].(map[string]any)
			if x["status"] != "COMPLETED" || len(steps) != 6 {
				t.Fatalf("execution ended %v: %v", x["status"], x)
			}
			for _, carrier := range []string{"carrier_a", "carrier_b"} {
				out, _ := steps[carrier].(map[string]any)["output"].(map[string]any)
				if body, _ := out["body"].(map[string]any); body["accepted"] != true {
					t.Fatalf("%s: %v", carrier, steps[carrier])
				}
			}

			status, _, br := replay(originalCurls[3])
			if status != http.StatusOK || br["serviceId"] != "leads-api" || br["state"] != "CLOSED" || br["totalSuccesses"] != 1.0 {
				t.Fatalf("reset: %d %v", status, br)
			}

			status, _, br = replay(originalCurls[4])
			if status != http.StatusOK || br["serviceId"] != "leads-api" || br["configSource"] != "api" ||
				!sameJSON(br["config"], `{"threshold":10,"timeout":120000,"halfOpenMaxCalls":5}`) {
				t.Fatalf("config: %d %v", status, br)
			}
			// It stays.
			status, _, br = e.call("GET", "/api/v1/circuit-breakers/leads-api", e.keys[server.RoleViewer], nil)
			if status != http.StatusOK || !sameJSON(br["config"], `{"threshold":10,"timeout":120000,"halfOpenMaxCalls":5}`) {
				t.Fatalf("breaker after config: %d %v", status, br)
			}
		})
	}
}

// hostOf is the host:port of a base URL.
func hostOf(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
