package demosite

import (
	"bytes"
	"fmt"
	"hash/fnv"
	stdimage "image"
	"image/color"
	"image/png"
)

// Photo size in pixels.
const (
	photoW = 120
	photoH = 90
)

// palette derives two colours from the photo's name, so every photo looks
// the same on every run and differs from its neighbours.
func palette(img image) (color.RGBA, color.RGBA) {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s-%d", img.id, img.n)
	v := h.Sum32()
	bg := color.RGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), 255}
	fg := color.RGBA{255 - bg.R, 255 - bg.G, 255 - bg.B, 255}
	return bg, fg
}

// pngImage draws a small placeholder photo: a background and a centred
// disc.
func pngImage(img image) []byte {
	bg, fg := palette(img)
	m := stdimage.NewRGBA(stdimage.Rect(0, 0, photoW, photoH))
	cx, cy, r := photoW/2, photoH/2, photoH/3
	for y := range photoH {
		for x := range photoW {
			c := bg
			if dx, dy := x-cx, y-cy; dx*dx+dy*dy <= r*r {
				c = fg
			}
			m.SetRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, m); err != nil {
		panic("demosite: encoding png: " + err.Error()) // writes to a buffer do not fail
	}
	return b.Bytes()
}

// svgImage draws the same placeholder as an SVG document.
func svgImage(img image) []byte {
	bg, fg := palette(img)
	return fmt.Appendf(nil, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+
		`<rect width="100%%" height="100%%" fill="#%02x%02x%02x"/>`+
		`<circle cx="%d" cy="%d" r="%d" fill="#%02x%02x%02x"/></svg>`+"\n",
		photoW, photoH, photoW, photoH, bg.R, bg.G, bg.B, photoW/2, photoH/2, photoH/3, fg.R, fg.G, fg.B)
}
