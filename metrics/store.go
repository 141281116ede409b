package metrics

import (
	"context"
	"io"
	"strings"

	"github.com/wildwatch/wildwatch"
)

// Store returns an evidence store that counts the objects and bytes
// written through it, and the captures (a capture is recorded when its
// manifest is stored), and otherwise is s. Give it to the evidence writer
// only: it hides any optional interface of s (presigning, for one).
func (m *Metrics) Store(s wildwatch.EvidenceStore) wildwatch.EvidenceStore {
	return &countingStore{EvidenceStore: s, m: m}
}

type countingStore struct {
	wildwatch.EvidenceStore
	m *Metrics
}

func (s *countingStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (wildwatch.ObjectInfo, error) {
	info, err := s.EvidenceStore.Put(ctx, key, r, size, contentType)
	if err != nil {
		return info, err
	}
	kind := objectKind(key)
	n := info.Size
	if n <= 0 {
		n = size
	}
	s.m.evidenceObjs.WithLabelValues(kind).Inc()
	s.m.evidenceBytes.WithLabelValues(kind).Add(float64(max(n, 0)))
	if kind == "manifest" {
		s.m.captures.Inc()
	}
	return info, nil
}

// objectKind names an evidence object by its key's ending.
func objectKind(key string) string {
	switch {
	case strings.HasSuffix(key, ".manifest.json"):
		return "manifest"
	case strings.HasSuffix(key, ".manifest.tsr"):
		return "timestamp"
	case strings.HasSuffix(key, ".warc.gz"):
		return "warc"
	case strings.HasSuffix(key, ".png"):
		return "screenshot"
	case strings.HasSuffix(key, ".html"):
		return "dom"
	}
	return "other"
}
