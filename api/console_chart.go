package api

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Charts of the console: inline SVG drawn here, with no script. Each chart
// has a <title> and <desc> for screen readers, a native tooltip on every
// bar, a legend, and the numbers it draws in a table under it.

// chartPalette colours the series of a chart, in order; it is told apart
// by people with the common kinds of colour blindness.
var chartPalette = []string{"#1f6f4a", "#2b6cb0", "#d69e2e", "#b83280", "#6b46c1", "#c05621",
	"#2c7a7b", "#718096", "#9ae6b4", "#90cdf4", "#744210", "#fbb6ce"}

// barChart is a bar chart whose bars are stacks of series: Values[i][j] is
// series j in bar i.
type barChart struct {
	ID     string // unique on the page, for aria references
	Title  string
	Desc   string
	Labels []string // a bar's label, under it
	Series []string
	Values [][]float64
	// LabelHead heads the label column of the data table.
	LabelHead string
	// TotalHead heads the total column of the data table.
	TotalHead string
	// Format prints a value (default: an integer).
	Format func(float64) string
	// LabelEvery labels every nth bar on the axis (default: about ten
	// labels in all); the data table has every label.
	LabelEvery int
}

// Chart geometry, in SVG user units (the SVG scales to its box).
const (
	chartW      = 420
	chartH      = 200
	chartLeft   = 44
	chartMaxBar = 36 // the widest bar
	chartRight  = 8
	chartTop    = 10
	chartBottom = 30
)

func (c barChart) format(v float64) string {
	if c.Format != nil {
		return c.Format(v)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// color returns the colour of series j.
func (c barChart) color(j int) string { return chartPalette[j%len(chartPalette)] }

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func esc(s string) string { return template.HTMLEscapeString(s) }

func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// SVG draws the chart.
func (c barChart) SVG() template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d" xmlns="http://www.w3.org/2000/svg">`,
		chartW, chartH, esc(c.ID), esc(c.ID))
	fmt.Fprintf(&b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, esc(c.ID), esc(c.Title), esc(c.ID), esc(c.Desc))
	top := 0.0
	for _, row := range c.Values {
		sum := 0.0
		for _, v := range row {
			sum += v
		}
		top = max(top, sum)
	}
	// Four grid steps of 1, 2 or 5 times a power of ten (whole steps
	// for whole numbers).
	step := niceMax(top / 4)
	if c.Format == nil {
		step = math.Max(step, 1)
	}
	top = 4 * step
	plotW := float64(chartW - chartLeft - chartRight)
	plotH := float64(chartH - chartTop - chartBottom)
	y := func(v float64) float64 { return chartTop + plotH - v/top*plotH }
	// Grid lines and the value axis: 0, ¼, ½, ¾ and the top.
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%s" y2="%s" stroke="#d9ddd8" stroke-width="1"/>`, chartLeft, chartW-chartRight, num(y(v)), num(y(v)))
		fmt.Fprintf(&b, `<text x="%d" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>`, chartLeft-4, num(y(v)), esc(c.format(v)))
	}
	n := len(c.Labels)
	if n == 0 {
		b.WriteString(`</svg>`)
		return template.HTML(b.String())
	}
	band := plotW / float64(n)
	barW := math.Min(chartMaxBar, math.Max(1, band*0.72))
	every := c.LabelEvery
	if every <= 0 {
		every = max(1, (n+5)/6)
	}
	for i, label := range c.Labels {
		x := chartLeft + band*float64(i) + (band-barW)/2
		base := 0.0
		for j, v := range c.Values[i] {
			if v <= 0 {
				continue
			}
			fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s · %s: %s</title></rect>`,
				num(x), num(y(base+v)), num(barW), num(y(base)-y(base+v)), c.color(j), esc(label), esc(c.Series[j]), esc(c.format(v)))
			base += v
		}
		if i%every == 0 {
			fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle">%s</text>`, num(x+barW/2), chartH-chartBottom+14, esc(label))
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%s" y2="%s" stroke="#5b6660" stroke-width="1"/>`, chartLeft, chartW-chartRight, num(y(0)), num(y(0)))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// Legend lists the series with their colours.
func (c barChart) Legend() template.HTML {
	var b strings.Builder
	b.WriteString(`<ul class="legend mon-legend">`)
	for j, s := range c.Series {
		fmt.Fprintf(&b, `<li><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" rx="2" fill="%s"/></svg>%s</li>`, c.color(j), esc(s))
	}
	b.WriteString(`</ul>`)
	return template.HTML(b.String())
}

// Table is the chart's numbers: a row per bar, a column per series.
func (c barChart) Table() template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<table class="mon-data"><thead><tr><th scope="col">%s</th>`, esc(c.LabelHead))
	for _, s := range c.Series {
		fmt.Fprintf(&b, `<th scope="col" class="num">%s</th>`, esc(s))
	}
	fmt.Fprintf(&b, `<th scope="col" class="num">%s</th></tr></thead><tbody>`, esc(c.TotalHead))
	for i, label := range c.Labels {
		fmt.Fprintf(&b, `<tr><th scope="row">%s</th>`, esc(label))
		sum := 0.0
		for _, v := range c.Values[i] {
			sum += v
			fmt.Fprintf(&b, `<td class="num">%s</td>`, esc(c.format(v)))
		}
		fmt.Fprintf(&b, `<td class="num">%s</td></tr>`, esc(c.format(sum)))
	}
	b.WriteString(`</tbody></table>`)
	return template.HTML(b.String())
}

// Empty reports whether the chart has nothing to draw.
func (c barChart) Empty() bool {
	for _, row := range c.Values {
		for _, v := range row {
			if v > 0 {
				return false
			}
		}
	}
	return true
}
