package api

import (
	"net/http"
	"slices"
	"time"

	"github.com/wildwatch/wildwatch"
)

// The dashboard's charts: flags per day by category, the durations of the
// last finished sweeps, and fetch errors per platform by kind.

// Chart spans.
const (
	chartDays   = 30 // days of flags and of errors
	chartSweeps = 20 // finished sweeps
)

// monitorCharts gathers the dashboard's charts from the catalog; ts are
// the targets, for their platforms.
func (s *Server) monitorCharts(r *http.Request, ts []wildwatch.Target) ([]barChart, error) {
	ctx := r.Context()
	now := s.con.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	first := today.AddDate(0, 0, -(chartDays - 1))

	// Flags per day, a bar per day, stacked by category.
	perDay, err := s.cfg.Catalog.FlagsPerDay(ctx, first)
	if err != nil {
		return nil, err
	}
	flags := barChart{ID: "chart-flags", Title: s.tr(r, "monitor.chart.flags.title", "days", chartDays),
		Desc: s.tr(r, "monitor.chart.flags.desc", "days", chartDays), LabelHead: s.tr(r, "monitor.chart.day"),
		TotalHead: s.tr(r, "monitor.chart.total"), LabelEvery: 5}
	for _, d := range perDay {
		if !slices.Contains(flags.Series, d.Category) {
			flags.Series = append(flags.Series, d.Category)
		}
	}
	slices.Sort(flags.Series)
	for i := range chartDays {
		day := first.AddDate(0, 0, i)
		flags.Labels = append(flags.Labels, day.Format("01-02"))
		row := make([]float64, len(flags.Series))
		for _, d := range perDay {
			if d.Day.Equal(day) {
				row[slices.Index(flags.Series, d.Category)] += float64(d.Count)
			}
		}
		flags.Values = append(flags.Values, row)
	}

	// Sweep durations, a bar per sweep (oldest left), coloured by target.
	spans, err := s.cfg.Catalog.FinishedSweeps(ctx, chartSweeps)
	if err != nil {
		return nil, err
	}
	slices.Reverse(spans)
	durations := barChart{ID: "chart-durations", Title: s.tr(r, "monitor.chart.durations.title", "n", chartSweeps),
		Desc: s.tr(r, "monitor.chart.durations.desc", "n", chartSweeps), LabelHead: s.tr(r, "monitor.chart.sweep"),
		TotalHead: s.tr(r, "monitor.chart.duration"),
		Format: func(v float64) string {
			if v <= 0 {
				return "0"
			}
			return shortDuration(time.Duration(v * float64(time.Second)))
		}}
	for _, sp := range spans {
		if !slices.Contains(durations.Series, sp.Target) {
			durations.Series = append(durations.Series, sp.Target)
		}
	}
	slices.Sort(durations.Series)
	for _, sp := range spans {
		durations.Labels = append(durations.Labels, sp.FinishedAt.UTC().Format("01-02 15:04"))
		row := make([]float64, len(durations.Series))
		row[slices.Index(durations.Series, sp.Target)] = sp.Duration().Seconds()
		durations.Values = append(durations.Values, row)
	}

	// Fetch errors per platform, stacked by kind.
	kinds, err := s.cfg.Catalog.ErrorsPerTarget(ctx, first)
	if err != nil {
		return nil, err
	}
	platform := map[string]string{}
	for _, t := range ts {
		platform[t.Name] = platformOf(t)
	}
	errs := barChart{ID: "chart-errors", Title: s.tr(r, "monitor.chart.errors.title", "days", chartDays),
		Desc: s.tr(r, "monitor.chart.errors.desc", "days", chartDays), LabelHead: s.tr(r, "monitor.chart.platform"),
		TotalHead: s.tr(r, "monitor.chart.total")}
	for _, k := range kinds {
		p := platform[k.Target]
		if p == "" {
			p = k.Target
		}
		if !slices.Contains(errs.Labels, p) {
			errs.Labels = append(errs.Labels, p)
		}
		if !slices.Contains(errs.Series, k.Kind) {
			errs.Series = append(errs.Series, k.Kind)
		}
	}
	slices.Sort(errs.Labels)
	slices.Sort(errs.Series)
	errs.Values = make([][]float64, len(errs.Labels))
	for i := range errs.Values {
		errs.Values[i] = make([]float64, len(errs.Series))
	}
	for _, k := range kinds {
		p := platform[k.Target]
		if p == "" {
			p = k.Target
		}
		errs.Values[slices.Index(errs.Labels, p)][slices.Index(errs.Series, k.Kind)] += float64(k.Count)
	}
	return []barChart{flags, durations, errs}, nil
}
