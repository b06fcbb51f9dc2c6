package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// cell is one measurement: one system at one concurrency in one round.
type cell struct {
	System     string        `json:"system"`
	Round      int           `json:"round"`
	C          int           `json:"c"`
	Execs      int64         `json:"executions"`
	Secs       float64       `json:"seconds"`
	PerSec     float64       `json:"perSecond"`
	P50        time.Duration `json:"p50Ns"`
	P99        time.Duration `json:"p99Ns"`
	CPUPerExec time.Duration `json:"cpuPerExecutionNs"`
	RSS        int64         `json:"peakRssBytes"`
	Fsyncs     int64         `json:"fsyncs,omitempty"`
}

// requestBody is every execution's input.
var requestBody = []byte(`{"input": {"leadId": "42"}}`)

// runCell runs c closed-loop clients against the targets (client i calls
// target i mod len) for warmup, then measures for d: executions completed in
// the window, the latency of those sent in it, the servers' CPU time and
// peak RSS. The first wrong answer ends the cell with an error.
func runCell(ctx context.Context, targets []target, c int, warmup, d time.Duration, fsyncs func() (int64, error)) (cell, error) {
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: c + 1, DisableCompression: true, IdleConnTimeout: time.Minute},
		Timeout:   2 * time.Minute,
	}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var (
		measuring atomic.Bool
		stopping  atomic.Bool
		wg        sync.WaitGroup
		mu        sync.Mutex
		lat       []time.Duration
		execs     int64
	)
	for i := range c {
		t := targets[i%len(targets)]
		wg.Go(func() {
			var mine []time.Duration
			var done int64
			defer func() {
				mu.Lock()
				lat, execs = append(lat, mine...), execs+done
				mu.Unlock()
			}()
			for !stopping.Load() && ctx.Err() == nil {
				counted := measuring.Load()
				start := time.Now()
				if err := execute(ctx, client, t); err != nil {
					if ctx.Err() == nil {
						cancel(err)
					}
					return
				}
				elapsed := time.Since(start)
				if counted && measuring.Load() {
					mine = append(mine, elapsed)
				}
				if measuring.Load() {
					done++
				}
			}
		})
	}
	sleep := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	finish := func() error {
		stopping.Store(true)
		wg.Wait()
		return context.Cause(ctx)
	}
	if !sleep(warmup) {
		return cell{}, finish()
	}
	cpu0, _, err := serverStats(targets)
	if err != nil {
		cancel(err)
		return cell{}, finish()
	}
	var fs0 int64
	if fsyncs != nil {
		if fs0, err = sumFsyncs(targets); err != nil {
			cancel(err)
			return cell{}, finish()
		}
	}
	t0 := time.Now()
	measuring.Store(true)
	if !sleep(d) {
		return cell{}, finish()
	}
	measuring.Store(false)
	elapsed := time.Since(t0)
	cpu1, rss, err := serverStats(targets)
	if err != nil {
		cancel(err)
	}
	var fs1 int64
	if fsyncs != nil && err == nil {
		if fs1, err = sumFsyncs(targets); err != nil {
			cancel(err)
		}
	}
	if err := finish(); err != nil {
		return cell{}, err
	}
	if execs == 0 {
		return cell{}, fmt.Errorf("c=%d: no execution completed in %s", c, d)
	}
	slices.Sort(lat)
	out := cell{
		C: c, Execs: execs, Secs: elapsed.Seconds(), PerSec: float64(execs) / elapsed.Seconds(),
		P50: quantile(lat, 0.50), P99: quantile(lat, 0.99),
		CPUPerExec: (cpu1 - cpu0) / time.Duration(execs), RSS: rss, Fsyncs: fs1 - fs0,
	}
	return out, nil
}

// serverStats sums the CPU time and peak RSS of the targets' processes.
func serverStats(targets []target) (time.Duration, int64, error) {
	var cpu time.Duration
	var rss int64
	for _, t := range targets {
		for _, pid := range t.pids {
			c, r, err := procStats(pid)
			if err != nil {
				return 0, 0, fmt.Errorf("server stats: %w", err)
			}
			cpu, rss = cpu+c, rss+r
		}
	}
	return cpu, rss, nil
}

func sumFsyncs(targets []target) (int64, error) {
	var n int64
	for _, t := range targets {
		if t.fsyncs == nil {
			continue
		}
		c, err := t.fsyncs()
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// answer is what is checked of an execution's answer: weft's full record, its
// ?view=output answer and the hand-written server's all have these fields.
type answer struct {
	ID          string `json:"id"`
	ExecutionID string `json:"executionId"`
	Status      string `json:"status"`
	Output      struct {
		Lead struct {
			ContactEmail string  `json:"contactEmail"`
			State        string  `json:"state"`
			Priority     float64 `json:"priority"`
		} `json:"lead"`
		Carriers map[string]struct {
			Accepted bool   `json:"accepted"`
			QuoteID  string `json:"quoteId"`
			Received struct {
				ContactEmail string `json:"contactEmail"`
			} `json:"received"`
		} `json:"carriers"`
	} `json:"output"`
}

// execute runs one execution and checks its answer.
func execute(ctx context.Context, client *http.Client, t target) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(requestBody))
	if err != nil {
		return err
	}
	req.Header = t.header.Clone()
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", t.url, err)
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return fmt.Errorf("POST %s: %w", t.url, err)
	}
	if err := check(res.StatusCode, data); err != nil {
		return fmt.Errorf("POST %s: %w", t.url, err)
	}
	return nil
}

// check says what is wrong with an answer, if anything.
func check(status int, data []byte) error {
	excerpt := string(data)
	if len(excerpt) > 300 {
		excerpt = excerpt[:300] + "…"
	}
	if status != http.StatusOK {
		return fmt.Errorf("HTTP %d (want 200): %s", status, excerpt)
	}
	var a answer
	if err := json.Unmarshal(data, &a); err != nil {
		return fmt.Errorf("answer is not JSON: %v: %s", err, excerpt)
	}
	var problems []string
	if a.ID == "" && a.ExecutionID == "" {
		problems = append(problems, "no execution id")
	}
	if a.Status != "COMPLETED" {
		problems = append(problems, fmt.Sprintf("status %q", a.Status))
	}
	lead := a.Output.Lead
	if lead.ContactEmail != "Ada.Lovelace@Example.com" || lead.State != "CA" || lead.Priority != 144 {
		problems = append(problems, fmt.Sprintf("lead not shaped (contactEmail %q, state %q, priority %v)", lead.ContactEmail, lead.State, lead.Priority))
	}
	for _, name := range []string{"a", "b"} {
		q, ok := a.Output.Carriers[name]
		if !ok || !q.Accepted || !strings.HasPrefix(q.QuoteID, "q-"+name+"-") || q.Received.ContactEmail != lead.ContactEmail {
			problems = append(problems, "carrier "+name+": no quote for the lead")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("wrong answer (%s): %s", strings.Join(problems, "; "), excerpt)
	}
	return nil
}
