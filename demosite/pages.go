package demosite

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// section is one marketplace category.
type section struct{ slug, name string }

// sections are the categories the home page links to, in order.
var sections = []section{
	{"antiques", "Antiques & collectibles"},
	{"jewelry", "Jewellery"},
	{"health", "Health & traditional medicine"},
	{"pets", "Pets & animals"},
	{"home", "Home & garden"},
	{"fashion", "Fashion"},
	{"electronics", "Electronics & vehicles"},
	{"sports", "Sports & outdoors"},
	{"kids", "Baby & kids"},
	{"books", "Books"},
}

type categoryLink struct {
	Href, Name string
	Count      int
}

type homePage struct {
	All        categoryLink
	Categories []categoryLink
}

type result struct {
	Href, Title, Price, Currency, Location string
}

type indexPage struct {
	Heading            string
	Page, Pages, Total int
	Prev, Next         string
	Results            []result
}

type itemPage struct {
	Listing
	Charset string
}

const layoutTmpl = `{{define "header"}}<header class="site-header"><a class="home" href="/">Demo Market</a>
<form class="search" action="/search" method="get"><input type="search" name="q" placeholder="Search"><button type="submit">Search</button></form></header>{{end}}`

var (
	homeTmpl = page(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Demo Market</title></head>
<body>{{template "header"}}
<main class="home">
<h1>Demo Market</h1>
<p>Second-hand goods from sellers around the world. <a class="all" href="{{.All.Href}}">{{.All.Name}}</a> ({{.All.Count}})</p>
<ul class="categories">
{{range .Categories}}<li><a class="category" href="{{.Href}}">{{.Name}}</a> ({{.Count}})</li>
{{end}}</ul>
</main></body></html>
`)

	indexTmpl = page(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Heading}} – page {{.Page}} – Demo Market</title></head>
<body>{{template "header"}}
<main class="index">
<h1 class="heading">{{.Heading}}</h1>
<p class="count">{{.Total}} listings</p>
{{if .Results}}<ul class="results">
{{range .Results}}<li class="result"><a class="listing-link" href="{{.Href}}">{{.Title}}</a> <span class="result-price">{{.Price}} {{.Currency}}</span> <span class="result-location">{{.Location}}</span></li>
{{end}}</ul>{{else}}<p class="no-results">No listings found.</p>{{end}}
<nav class="pager">{{if .Prev}}<a class="prev" rel="prev" href="{{.Prev}}">‹ Previous</a> {{end}}<span class="page-no">Page {{.Page}} of {{.Pages}}</span>{{if .Next}} <a class="next" rel="next" href="{{.Next}}">Next ›</a>{{end}}</nav>
</main></body></html>
`)

	itemTmpl = page(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="{{.Charset}}"><title>{{.Title}} | Demo Market</title></head>
<body>{{template "header"}}
<main>
<article class="listing" data-id="{{.ID}}">
<h1 class="title">{{.Title}}</h1>
<p class="price-line">Price: <span class="price">{{.Price}}</span> <span class="currency">{{.Currency}}</span></p>
<p class="seller-line">Seller: <span class="seller">{{.Seller}}</span></p>
<p class="location-line">Location: <span class="location">{{.Location}}</span></p>
<div class="photos">{{range .Images}}<img class="photo" src="{{.}}" alt="photo" width="120" height="90">{{end}}</div>
<div class="description">{{.Description}}</div>
</article>
</main></body></html>
`)

	notFoundTmpl = page(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Not found | Demo Market</title></head>
<body>{{template "header"}}
<main><h1>Not found</h1><p>This page does not exist or was removed.</p></main></body></html>
`)
)

func page(body string) *template.Template {
	return template.Must(template.Must(template.New("layout").Parse(layoutTmpl)).New("page").Parse(body))
}

// render writes a UTF-8 HTML page.
func (s *Site) render(w http.ResponseWriter, r *http.Request, status int, t *template.Template, v any) {
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		s.log.Error("demo site template", "path", r.URL.Path, "err", err)
		s.sendText(w, r, http.StatusInternalServerError, "template error\n")
		return
	}
	s.send(w, r, status, "text/html; charset=utf-8", b.Bytes())
}

// sendGBK writes a listing page encoded in GBK, as some Chinese sites still
// do.
func (s *Site) sendGBK(w http.ResponseWriter, r *http.Request, l Listing) {
	var b bytes.Buffer
	if err := itemTmpl.Execute(&b, itemPage{Listing: l, Charset: "gbk"}); err != nil {
		s.log.Error("demo site template", "path", r.URL.Path, "err", err)
		s.sendText(w, r, http.StatusInternalServerError, "template error\n")
		return
	}
	body, err := simplifiedchinese.GBK.NewEncoder().Bytes(b.Bytes())
	if err != nil {
		s.log.Error("demo site gbk", "path", r.URL.Path, "err", err)
		s.sendText(w, r, http.StatusInternalServerError, "encoding error\n")
		return
	}
	s.send(w, r, http.StatusOK, "text/html; charset=gbk", body)
}

func queryEscape(q string) string { return url.QueryEscape(q) }
