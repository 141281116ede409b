// Package storage keeps what wildwatch must remember: evidence and the
// catalog.
//
// # Evidence
//
// Evidence objects are write-once. Two wildwatch.EvidenceStore
// implementations hold them and pass one conformance suite
// (storage/evidencetest): Dir, a local directory of read-only files (the
// embedded default), and S3, any S3-compatible server through minio-go.
//
// Evidence.Record turns one capture into evidence: a gzip WARC 1.1 object
// (WriteWARC) stored under a content-addressed key, for a page rendered in
// the browser also its screenshot (PNG) and rendered DOM (HTML) as objects
// of their own, then a manifest naming each object's role, SHA-256 and
// size, signed with the deployment's Ed25519 key (Signer) and stored under
// ManifestKey. VerifyCapture and VerifyPath check a manifest's signature
// and every object it names, offline when the evidence is a directory.
//
// A listing captured again with the same response payload is recorded
// with a WARC revisit record (Evidence.RevisitOf, WARCParams.Revisit)
// instead of the payload; its manifest also names the earlier WARC and
// manifest, so verifying it checks the evidence it leans on. A rendered
// DOM or screenshot equal to the earlier capture's is not stored again.
//
// Keys look like
//
//	captures/<sweep>/<capture>/<first 16 hex digits of the WARC's SHA-256>.warc.gz
//	captures/<sweep>/<capture>/<first 16 hex digits of the screenshot's SHA-256>.png
//	captures/<sweep>/<capture>/<first 16 hex digits of the DOM's SHA-256>.html
//	captures/<sweep>/<capture>.manifest.json
//
// # Catalog
//
// Catalog is the SQL catalog of targets, sweeps, captures, flags and
// reviews, on SQLite (embedded) or PostgreSQL (shared by many workers).
// Each capture says how it compares with the listing's capture before it
// (new, changed, unchanged, removed), and the catalog keeps each listing's
// status from its captures (GetListing, ListingHistory).
package storage
