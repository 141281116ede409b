// Package api serves wildwatch's HTTP JSON API and provides a client for it.
//
// Every route under /api/v1 needs a bearer token. A token has one role:
// monitor (targets, sweeps and flags, start sweeps, review flags),
// investigator (a monitor who may also download evidence) or admin (all of
// it, and applying targets). Only a SHA-256 hash of each token is stored.
package api
