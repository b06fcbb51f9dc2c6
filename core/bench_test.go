package core_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/weftworks/weft/core"
)

// linearWorkflow chains n steps of the given type; each step's config is
// produced by cfg(i).
func linearWorkflow(n int, typ string, cfg func(i int) string) string {
	var b strings.Builder
	b.WriteString(`{"name": "bench", "steps": [`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id": "s%d", "type": %q, "config": %s}`, i, typ, cfg(i))
	}
	b.WriteString("]}")
	return b.String()
}

// BenchmarkExecutorNoopStep measures what the executor adds per step: a
// 100-step chain of no-op steps, reported per step (scheduling, records,
// events). "default-timeout" includes the per-attempt deadline every step
// gets by default (Options.DefaultStepTimeout); "no-timeout" turns it off.
func BenchmarkExecutorNoopStep(b *testing.B) {
	for _, bc := range []struct {
		name    string
		timeout time.Duration
	}{{"default-timeout", 0}, {"no-timeout", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			reg, _ := newRegistry(b)
			eng := core.New(core.Options{Registry: reg, DefaultStepTimeout: bc.timeout})
			const n = 100
			plan := compile(b, eng, linearWorkflow(n, "noop", func(int) string { return "null" }))
			ctx := context.Background()
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				exec, err := eng.Execute(ctx, plan, nil)
				if err != nil || exec.Status != core.StatusCompleted {
					b.Fatal(err, exec.Status)
				}
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/step")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*n), "allocs/step")
		})
	}
}

// BenchmarkLinear10Steps runs a 10-step workflow in which every step renders
// a template reading the previous step's output.
func BenchmarkLinear10Steps(b *testing.B) {
	reg, _ := newRegistry(b)
	eng := core.New(core.Options{Registry: reg})
	plan := compile(b, eng, linearWorkflow(10, "echo", func(i int) string {
		if i == 0 {
			return `{"n": "{{input.n}}", "name": "{{input.name}}"}`
		}
		return fmt.Sprintf(`{"n": "{{steps.s%d.output.n}}", "name": "step {{steps.s%d.output.name}}"}`, i-1, i-1)
	}))
	ctx := context.Background()
	input := map[string]any{"n": 1, "name": "lead"}
	b.ReportAllocs()
	for b.Loop() {
		exec, err := eng.Execute(ctx, plan, input)
		if err != nil || exec.Status != core.StatusCompleted {
			b.Fatal(err, exec.Status)
		}
	}
}

// benchScope is a Scope over fixed data.
type benchScope struct{ data map[string]any }

func (s benchScope) Resolve(root string) (any, bool) { v, ok := s.data[root]; return v, ok }
func (s benchScope) Env() map[string]any             { return s.data }
func (s benchScope) Secret(context.Context, string) (string, error) {
	return "", fmt.Errorf("no secrets")
}

// BenchmarkTemplate1KB renders a typical HTTP_REQUEST config (URL, headers,
// a body of eight fields) against a context of about 1 KB.
func BenchmarkTemplate1KB(b *testing.B) {
	lead := map[string]any{}
	for i := range 16 {
		lead[fmt.Sprintf("field%02d", i)] = strings.Repeat("x", 40)
	}
	lead["score"] = 72.0
	lead["email"] = "ada@example.com"
	ctx := map[string]any{
		"input":     map[string]any{"leadId": "42", "region": "eu"},
		"variables": map[string]any{"apiBase": "http://127.0.0.1:9100"},
		"steps":     map[string]any{"get_lead": map[string]any{"output": map[string]any{"body": lead, "status": 200.0}}},
		"leadId":    "42",
		"apiBase":   "http://127.0.0.1:9100",
	}
	if n := len(core.Stringify(ctx)); n < 900 || n > 1300 {
		b.Fatalf("context is %d bytes, want about 1 KB", n)
	}
	config := map[string]any{
		"method":  "POST",
		"url":     "{{apiBase}}/carriers/{{input.region}}/leads/{{leadId}}",
		"headers": map[string]any{"X-Lead": "{{leadId}}", "Content-Type": "application/json"},
		"body": map[string]any{
			"lead":     "{{steps.get_lead.output.body}}",
			"email":    "{{steps.get_lead.output.body.email}}",
			"score":    "{{steps.get_lead.output.body.score}}",
			"status":   "{{steps.get_lead.output.status}}",
			"f1":       "{{steps.get_lead.output.body.field01}}",
			"f2":       "{{steps.get_lead.output.body.field02}}",
			"label":    "lead {{leadId}} scored {{steps.get_lead.output.body.score}}",
			"priority": "{{ steps.get_lead.output.body.score * 2 }}",
		},
	}
	vt, problems := core.CompileValue(config, "config")
	if len(problems) > 0 {
		b.Fatal(problems)
	}
	scope := benchScope{ctx}
	bg := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := vt.Render(bg, scope); err != nil {
			b.Fatal(err)
		}
	}
}
