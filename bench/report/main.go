// Command report reads `go test -bench` output from the bench package on
// standard input and prints each measured figure beside the baseline
// measured in the same run, as a ratio.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// comparison is one benchmark and the baseline it is judged against.
type comparison struct {
	title, subject, baseline string
	units                    []string
}

var comparisons = []comparison{
	{"sweep of the demo site, embedded services", "Pipeline", "BareColly", []string{"listings/s", "cpu-s/1000listings", "peak-MiB", "listings"}},
	{"sweep of the demo site, worker on Redis, PostgreSQL, S3", "PipelineServices", "BareColly", []string{"listings/s", "cpu-s/1000listings", "peak-MiB", "listings"}},
	{"rendering JavaScript listings", "RenderPool", "RenderPlainLoop", []string{"pages/s", "peak-rss-MiB", "pages"}},
	{"matching, 10,000 terms, one core", "Match10k", "RegexpBaseline10k", []string{"MB/s", "ns/B"}},
	{"matching, default pack against 10,000 terms", "MatchDefault", "Match10k", []string{"MB/s", "ns/B"}},
}

func main() {
	// metrics[benchmark][unit] = value
	metrics := map[string]map[string]float64{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndex(name, "-"); i > 0 {
			name = name[:i]
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				m[f[i+1]] = v
			}
		}
		metrics[strings.TrimPrefix(name, "Benchmark")] = m
	}
	shown := 0
	for _, c := range comparisons {
		subj, base := metrics[c.subject], metrics[c.baseline]
		if subj == nil || base == nil {
			continue
		}
		shown++
		fmt.Printf("\n%s: %s against %s\n", c.title, c.subject, c.baseline)
		fmt.Printf("%-24s %14s %14s %10s\n", "figure", c.subject, c.baseline, "ratio")
		for _, unit := range c.units {
			s, b := subj[unit], base[unit]
			ratio := "-"
			if b != 0 {
				ratio = fmt.Sprintf("%.3gx", s/b)
			}
			fmt.Printf("%-24s %14.4g %14.4g %10s\n", unit, s, b, ratio)
		}
	}
	if shown == 0 {
		fmt.Fprintln(os.Stderr, "report: no benchmark with its baseline in the input")
		os.Exit(1)
	}
}
