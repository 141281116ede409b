// Package wildwatch holds the domain types shared by every part of the
// wildwatch daemon: what is swept (Target, Sweep), what is captured
// (Capture, Listing), what detection decides (Verdict, Match) and what people
// act on (Flag, Review), plus the small interfaces between the parts.
//
// The package imports the standard library only. Fetching lives in crawler,
// detection in rules, evidence and the catalog in storage, queueing in
// workers and the HTTP API in api.
package wildwatch

// Version is the software version written into every evidence manifest.
// It is stamped at build time with -ldflags "-X github.com/wildwatch/wildwatch.Version=…".
var Version = "dev"
