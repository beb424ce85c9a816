package ui

import (
	"fmt"
	"strconv"
	"time"
)

// meterView draws a bucket's use as a bar 1000 units wide: the part used, and the reserve
// kept for the user's own use at the right end.
type meterView struct {
	Used     int // width of the used part
	Reserve  int // width of the reserve
	ReserveX int // where the reserve starts
	// Percent is the share used, for screen readers.
	Percent int
}

const meterWidth = 1000

func newMeter(used, reserve, total int) meterView {
	if total <= 0 {
		return meterView{}
	}
	scale := func(n int) int { return min(max(n, 0)*meterWidth/total, meterWidth) }
	m := meterView{Used: scale(used), Reserve: scale(reserve), Percent: min(max(used, 0)*100/total, 100)}
	m.ReserveX = meterWidth - m.Reserve
	return m
}

// chartView is an hourly bar chart, drawn as inline SVG by the "chart" template: one bar
// per hour, oldest first, with a y axis, hour labels, the bucket's limit as a line, and a
// <title> on each hour for hovering.
type chartView struct {
	Width, Height          int
	Left, Right, Top, Base int // the plot area; Base is the y of the zero line
	PlotH                  int // Base - Top
	TickX                  int // where the y labels end
	Bars                   []barView
	YTicks, XTicks         []tickView
	Limit                  *tickView // the bucket's size, when known
	Label                  string    // for screen readers
}

type barView struct {
	X, Y, W, H int
	// SlotX and SlotW span the hour's whole column, for hovering over low bars.
	SlotX, SlotW int
	Value        int
	Title        string
}

type tickView struct {
	X, Y int
	// TextY is the label's baseline.
	TextY int
	Label string
}

// Chart geometry, in SVG user units; the chart scales to the page's width.
const (
	chartLeft   = 44
	chartTop    = 12
	chartSlot   = 28
	chartBar    = 22
	chartPlotH  = 132
	chartBottom = 22 // room for the hour labels
)

// newChart draws hourly counts (oldest first) of the hours that end at end. total, when
// positive, is the bucket's size per hour, drawn as a line; the scale always shows it.
func newChart(hourly []int, end time.Time, total int) chartView {
	n := len(hourly)
	c := chartView{Left: chartLeft, Top: chartTop, Base: chartTop + chartPlotH, PlotH: chartPlotH, TickX: chartLeft - 6}
	c.Right = chartLeft + n*chartSlot
	c.Width = c.Right + 16 // room for the last hour label
	c.Height = c.Base + chartBottom
	peak, sum := 0, 0
	for _, v := range hourly {
		peak = max(peak, v)
		sum += v
	}
	top := niceCeil(max(peak, total, 1))
	scale := func(v int) int { return v * chartPlotH / top }
	start := end.Add(-time.Duration(n) * time.Hour)
	for i, v := range hourly {
		h := scale(v)
		if v > 0 && h == 0 {
			h = 1 // a single request still shows
		}
		x := chartLeft + i*chartSlot
		from := start.Add(time.Duration(i) * time.Hour)
		c.Bars = append(c.Bars, barView{
			X: x + (chartSlot-chartBar)/2, Y: c.Base - h, W: chartBar, H: h,
			SlotX: x, SlotW: chartSlot, Value: v,
			Title: fmt.Sprintf("%s–%s: %s", from.Format("15:04"), from.Add(time.Hour).Format("15:04"), plural(v, "request")),
		})
	}
	ys := []int{0, top}
	if top%2 == 0 {
		ys = []int{0, top / 2, top}
	}
	for _, v := range ys {
		y := c.Base - scale(v)
		c.YTicks = append(c.YTicks, tickView{Y: y, TextY: y + 4, Label: strconv.Itoa(v)})
	}
	for i := 0; i <= n; i += 6 {
		label := "now"
		if i < n {
			label = fmt.Sprintf("−%d h", n-i)
		}
		c.XTicks = append(c.XTicks, tickView{X: chartLeft + i*chartSlot, Y: c.Height - 6, Label: label})
	}
	if total > 0 {
		y := c.Base - scale(total)
		c.Limit = &tickView{X: c.Right, Y: y, TextY: y - 4, Label: fmt.Sprintf("limit %d", total)}
	}
	c.Label = fmt.Sprintf("Requests per hour over the last %d hours: %s in all, at most %d in one hour.",
		n, plural(sum, "request"), peak)
	return c
}

// niceCeil is the smallest of 1, 2, 5, 10, 20, 50, … that is at least v.
func niceCeil(v int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= v {
				return m * p
			}
		}
		if p > 1e15 {
			return v
		}
	}
}
