// Package bench measures a sweep of the demo marketplace through the whole
// pipeline (queue, fetch, extract, match, evidence, catalog) beside a bare
// colly crawl of the same pages in the same run. Run it with `make bench`.
package bench
