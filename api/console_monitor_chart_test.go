package api

import (
	"regexp"
	"strings"
	"testing"
)

func TestBarChart(t *testing.T) {
	c := barChart{ID: "c", Title: "Flags <per> day", Desc: "d", Labels: []string{"03-01", "03-02", "03-03"},
		Series: []string{"ivory", "<b>tiger</b>"}, Values: [][]float64{{3, 0}, {0, 0}, {19, 3}},
		LabelHead: "Day", TotalHead: "Total"}
	svg := string(c.SVG())
	if strings.Contains(svg, "<b>") || !strings.Contains(svg, "&lt;b&gt;tiger&lt;/b&gt;") || !strings.Contains(svg, "Flags &lt;per&gt; day") {
		t.Errorf("names are not escaped:\n%s", svg)
	}
	if n := strings.Count(svg, "<rect"); n != 3 {
		t.Errorf("%d bars drawn, want one per value above zero (3)", n)
	}
	for _, want := range []string{"03-01 · ivory: 3</title>", "03-03 · ivory: 19</title>", "03-03 · &lt;b&gt;tiger&lt;/b&gt;: 3</title>",
		`aria-labelledby="c-t c-d"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart lacks %q", want)
		}
	}
	// The tallest stack is 22: the axis runs to 40 in steps of 10.
	var ticks []string
	for _, m := range regexp.MustCompile(`text-anchor="end" dominant-baseline="middle">([^<]*)<`).FindAllStringSubmatch(svg, -1) {
		ticks = append(ticks, m[1])
	}
	if got := strings.Join(ticks, " "); got != "0 10 20 30 40" {
		t.Errorf("axis ticks %q, want 0 10 20 30 40", got)
	}
	if table := string(c.Table()); !strings.Contains(table, `<th scope="row">03-03</th><td class="num">19</td><td class="num">3</td><td class="num">22</td>`) {
		t.Errorf("the data table lacks the row of 03-03 with its total:\n%s", table)
	}
	if legend := string(c.Legend()); strings.Count(legend, "<li>") != 2 {
		t.Errorf("legend:\n%s", legend)
	}
	if c.Empty() || !(barChart{Labels: []string{"a"}, Values: [][]float64{{0}}}).Empty() {
		t.Error("Empty is wrong")
	}
	// Small counts keep whole steps.
	small := string(barChart{ID: "s", Labels: []string{"a"}, Series: []string{"x"}, Values: [][]float64{{1}}}.SVG())
	if strings.Contains(small, ">0.") {
		t.Errorf("an axis of counts shows fractions:\n%s", small)
	}
}
