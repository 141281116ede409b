// Package rules decides whether a listing offers a prohibited wildlife
// product: the rule-set format (Parse), text normalisation (Normalize), the
// compiled matcher (Compile, Matcher.Match) and the default rule pack
// (Default, DefaultYAML), plus MatchLines for `wildwatch match`, Diff for
// what changed between two rule sets and Backtest for what a candidate
// rule set would flag differently.
//
// A rule set is a YAML document of categories (ivory, rhino_horn, pangolin,
// …), each with weighted rules of terms by language and RE2 patterns, and
// exclusions for the traps that share their words (ivory the colour, Tiger
// Balm, toys, tagua). Field text and terms are normalised the same way, so
// disguised spellings ("i.v.o.r.y", "1v0ry", Cyrillic homoglyphs, zero-width
// characters, full-width letters, Traditional Chinese) meet the plain term.
// Terms are compiled into two automata: a trie walked from each word start
// for the terms that match whole words, and an Aho–Corasick automaton for
// the rest (Chinese, Japanese, Thai, "*suffix" terms), so matching cost
// grows with the text, not with the number of terms. A verdict explains
// itself with each match's rule, field and byte offsets in the original
// text.
//
// Scoring: every distinct term of a rule found in a listing adds the rule's
// weight to its category, up to the rule's max; rules may require context
// terms or other rules; exclusions near a match (or anywhere, for listing
// exclusions) cancel it unless a negation ("not resin") voids them. The best
// category's score is compared with the flag and review thresholds.
//
// Matching allocates little beyond the verdict: per-character answers of
// the Unicode tables are kept in tables built a block at a time on first
// use, and a matcher reuses its working buffers through a pool. Work stays
// close to linear in the text even for a listing that repeats a term
// thousands of times.
package rules
