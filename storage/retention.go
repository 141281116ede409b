package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// Object lock retention modes (S3Config.RetentionMode).
const (
	// RetentionGovernance locks an object against deletion and overwriting
	// except by users allowed to bypass governance retention.
	RetentionGovernance = "GOVERNANCE"
	// RetentionCompliance locks an object against everyone, the account's
	// root user included, until the retention ends.
	RetentionCompliance = "COMPLIANCE"
)

// ErrNoObjectLock is returned by NewS3 when a retention is asked for on a
// bucket that does not have object lock enabled.
var ErrNoObjectLock = errors.New("bucket has no object lock")

// ParseRetention parses a retention period: a whole number of days with the
// suffix "d" ("365d"), or a Go duration ("720h", "90m"). "" and "0" mean no
// retention. Negative periods are refused.
func ParseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("retention %q: want whole days such as 365d, or a Go duration such as 720h", s)
		}
		if n < 0 {
			return 0, fmt.Errorf("retention %q is negative", s)
		}
		if n > math.MaxInt64/int64(24*time.Hour) {
			return 0, fmt.Errorf("retention %q is too long", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("retention %q: want whole days such as 365d, or a Go duration such as 720h", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("retention %q is negative", s)
	}
	return d, nil
}

// ParseRetentionMode returns RetentionGovernance or RetentionCompliance
// for s in any case; "" means RetentionGovernance.
func ParseRetentionMode(s string) (string, error) {
	switch m := strings.ToUpper(strings.TrimSpace(s)); m {
	case "":
		return RetentionGovernance, nil
	case RetentionGovernance, RetentionCompliance:
		return m, nil
	}
	return "", fmt.Errorf("retention mode %q: want %s or %s", s, RetentionGovernance, RetentionCompliance)
}

// FormatRetention formats d as ParseRetention reads it: whole days as
// "365d", anything else as a Go duration.
func FormatRetention(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// checkObjectLock fails with ErrNoObjectLock unless the bucket has object
// lock enabled, which a retention on every object needs. It reads the
// bucket's object lock configuration; its default retention, if any, is
// not relied on (Put sets the retention of each object itself).
func (s *S3) checkObjectLock(ctx context.Context) error {
	var enabled string
	err := s.retry(ctx, "object lock configuration", "", func(int) error {
		var err error
		enabled, _, _, _, err = s.client.GetObjectLockConfig(ctx, s.cfg.Bucket)
		return err
	})
	if code := minio.ToErrorResponse(err).Code; code == "ObjectLockConfigurationNotFoundError" {
		enabled, err = "", nil
	}
	if err != nil {
		return fmt.Errorf("bucket %s: reading its object lock configuration: %w", s.cfg.Bucket, err)
	}
	if enabled != "Enabled" {
		return fmt.Errorf("bucket %s: %w, so a %s retention of %s cannot be applied to evidence; "+
			"use a bucket created with object lock enabled, or enable object lock on this one (S3 allows it on a versioned bucket)",
			s.cfg.Bucket, ErrNoObjectLock, s.cfg.RetentionMode, FormatRetention(s.cfg.Retention))
	}
	return nil
}

// objectRetention reads an object's lock from the headers of a HEAD or GET
// answer: X-Amz-Object-Lock-Mode and X-Amz-Object-Lock-Retain-Until-Date.
// (minio-go's GetObjectRetention cannot parse every server's answer to the
// ?retention request; the headers are the same facts and come with every
// Stat and Get.) An absent or unreadable date leaves until zero.
func objectRetention(h http.Header) (mode string, until time.Time) {
	mode = strings.ToUpper(h.Get("X-Amz-Object-Lock-Mode"))
	if v := h.Get("X-Amz-Object-Lock-Retain-Until-Date"); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			until = t.UTC()
		}
	}
	return mode, until
}
