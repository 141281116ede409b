package wildwatch

import (
	"context"
	"errors"
	"io"
	"time"
)

// EvidenceStore keeps evidence objects under keys such as
// "captures/<sweep>/<capture>.warc.gz". Objects are write-once: Put refuses
// to replace an existing key with ErrObjectExists. storage.Dir and
// storage.S3 implement it and pass one conformance suite.
type EvidenceStore interface {
	// Put stores size bytes from r under key. It returns ErrObjectExists,
	// leaving the stored object alone, when key exists.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (ObjectInfo, error)
	// Get opens the object at key; ErrObjectNotFound when there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)
	// Stat describes the object at key; ErrObjectNotFound when there is none.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List returns the objects whose keys start with prefix, in key order.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
}

// ObjectInfo describes a stored evidence object.
type ObjectInfo struct {
	Key         string    `json:"key"`
	Size        int64     `json:"size"`
	ContentType string    `json:"content_type,omitempty"`
	Modified    time.Time `json:"modified"`
	// RetentionMode is the object lock mode the store holds the object
	// under ("COMPLIANCE" or "GOVERNANCE"), empty when it is not locked or
	// the store does not say; RetainUntil is when that lock ends.
	RetentionMode string    `json:"retention_mode,omitempty"`
	RetainUntil   time.Time `json:"retain_until,omitzero"`
}

// Errors an EvidenceStore returns; test with errors.Is.
var (
	ErrObjectExists   = errors.New("evidence object exists")
	ErrObjectNotFound = errors.New("evidence object not found")
)
