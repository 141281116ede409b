// Command report reads `go test -bench` output from the bench package on
// standard input and prints each pipeline figure beside the bare-crawl
// baseline measured in the same run, as a ratio.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

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
	base, pipe := metrics["BareColly"], metrics["Pipeline"]
	if base == nil || pipe == nil {
		fmt.Fprintln(os.Stderr, "report: need both BenchmarkBareColly and BenchmarkPipeline in the input")
		os.Exit(1)
	}
	fmt.Println()
	fmt.Printf("%-28s %14s %14s %10s\n", "figure", "pipeline", "bare colly", "ratio")
	for _, unit := range []string{"listings/s", "cpu-s/1000listings", "peak-MiB", "listings"} {
		p, b := pipe[unit], base[unit]
		ratio := "-"
		if b != 0 {
			ratio = fmt.Sprintf("%.2fx", p/b)
		}
		fmt.Printf("%-28s %14.2f %14.2f %10s\n", unit, p, b, ratio)
	}
}
