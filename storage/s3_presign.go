package storage

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

// Presigner makes URLs that let whoever holds them GET one evidence object,
// without credentials, until they expire. *S3 implements it; stores that
// do not (Dir) have share links signed by a LinkSigner and served by the
// API instead.
type Presigner interface {
	PresignGet(ctx context.Context, key string, expires time.Duration) (*url.URL, error)
}

var _ Presigner = (*S3)(nil)

// PresignGet implements Presigner with an S3 presigned GET URL (signature
// version 4, signed with the store's credentials, no request sent). expires
// is between one second and MaxLinkLifetime. The URL names the endpoint
// the store was configured with, so recipients must be able to reach it.
// Fetches through the URL go to S3 directly: S3 server access logs, not
// the custody log, record them.
func (s *S3) PresignGet(ctx context.Context, key string, expires time.Duration) (*url.URL, error) {
	if err := validateKey(key); err != nil {
		return nil, err
	}
	if expires < time.Second || expires > MaxLinkLifetime {
		return nil, fmt.Errorf("presigning %s: expiry %v: want between 1s and %v: %w", key, expires, MaxLinkLifetime, ErrInvalid)
	}
	u, err := s.client.PresignedGetObject(ctx, s.cfg.Bucket, key, expires, nil)
	if err != nil {
		return nil, fmt.Errorf("presigning %s: %w", key, err)
	}
	return u, nil
}
