package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// summary is the median over rounds of one system at one concurrency.
type summary struct {
	system string
	c      int
	rounds int
	perSec float64
	p50    time.Duration
	p99    time.Duration
	cpu    time.Duration
	rss    int64
	// ratio is the median over rounds of exec/s ÷ the hand-written
	// server's in the same round at the same c (0 without it); ratioMin
	// and ratioMax the lowest and highest round's, printed beside it: a
	// threshold met by the median but not by every round is met within the
	// machine's noise only.
	ratio, ratioMin, ratioMax float64
}

// summarize takes, for each system and concurrency, the median of each
// figure over the rounds.
func summarize(cells []cell, cfg config) []summary {
	var out []summary
	for _, sys := range cfg.systems {
		for _, c := range cfg.conc {
			var got []cell
			for _, x := range cells {
				if x.System == sys && x.C == c {
					got = append(got, x)
				}
			}
			if len(got) == 0 {
				continue
			}
			var ratios []cell
			for _, x := range got {
				for _, h := range cells {
					if h.System == "handwritten" && h.C == c && h.Round == x.Round && h.PerSec > 0 {
						ratios = append(ratios, cell{PerSec: x.PerSec / h.PerSec})
					}
				}
			}
			var ratio, lo, hi float64
			if len(ratios) > 0 {
				ratio = median(ratios, func(x cell) float64 { return x.PerSec })
				lo = slices.MinFunc(ratios, func(a, b cell) int { return cmp.Compare(a.PerSec, b.PerSec) }).PerSec
				hi = slices.MaxFunc(ratios, func(a, b cell) int { return cmp.Compare(a.PerSec, b.PerSec) }).PerSec
			}
			out = append(out, summary{
				system: sys, c: c, rounds: len(got), ratio: ratio, ratioMin: lo, ratioMax: hi,
				perSec: median(got, func(x cell) float64 { return x.PerSec }),
				p50:    time.Duration(median(got, func(x cell) float64 { return float64(x.P50) })),
				p99:    time.Duration(median(got, func(x cell) float64 { return float64(x.P99) })),
				cpu:    time.Duration(median(got, func(x cell) float64 { return float64(x.CPUPerExec) })),
				rss:    int64(median(got, func(x cell) float64 { return float64(x.RSS) })),
			})
		}
	}
	return out
}

// median of f over xs (the mean of the middle two for an even count).
func median(xs []cell, f func(cell) float64) float64 {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// report prints the table: a Markdown table, to paste into
// docs/performance.md, under a line saying when, where and how.
func report(w io.Writer, cfg config, rows []summary, fsyncs map[string]map[int]float64, strace bool, took time.Duration) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "\n%s · %s · %d CPUs (%s) · %s · load average %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"),
		cpuModel(), runtime.NumCPU(), host, runtime.Version(), loadAvg())
	fmt.Fprintf(w, "go run ./cmd/bench-e2e %s\n", strings.Join(os.Args[1:], " "))
	fmt.Fprintf(w, "closed loop, %s per cell after %s of warm-up, %d round(s) (medians; ÷ hand-written: the median of each round's ratio, the lowest and highest in brackets, the systems' cells interleaved), view=%s, every answer checked; took %s\n\n",
		cfg.duration, cfg.warmup, cfg.rounds, cfg.view, took.Round(time.Second))
	fmt.Fprintln(w, "| system | c | exec/s | p50 | p99 | server CPU/exec | peak RSS | fsyncs/exec | ÷ hand-written |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fsync := "—"
		if f, ok := fsyncs[r.system][r.c]; ok {
			fsync = fmt.Sprintf("%.2f", f)
		} else if strace && (r.system == "weft" || r.system == "weft-normal") {
			fsync = "(not counted)"
		}
		ratio := "—"
		if r.ratio > 0 && r.system != "handwritten" {
			ratio = fmt.Sprintf("%.3f×", r.ratio)
			if r.ratioMin < r.ratioMax {
				ratio += fmt.Sprintf(" (%.3f–%.3f)", r.ratioMin, r.ratioMax)
			}
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s | %s | %s | %s |\n",
			r.system, r.c, r.perSec, ms(r.p50), ms(r.p99), us(r.cpu), mib(r.rss), fsync, ratio)
	}
	if strace {
		fmt.Fprintf(w, "\nfsyncs: a separate pass under strace -f --seccomp-bpf (%s per cell), at the lowest and highest c; PostgreSQL's are in its server, not counted.\n", cfg.fsyncTime)
	}
	if slices.Contains(cfg.systems, "weft-pg2") {
		fmt.Fprintln(w, "weft-pg2: the sum of two instances (CPU and RSS too), the clients split between them.")
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }
func mib(b int64) string        { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// cpuModel names the machine's CPU (Linux), for the report's first line.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
