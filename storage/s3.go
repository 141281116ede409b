package storage

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/wildwatch/wildwatch"
)

// S3Config configures an S3 evidence store. The zero value of each optional
// field means its default.
type S3Config struct {
	// Endpoint is the server's host[:port], without a scheme
	// ("s3.amazonaws.com", "127.0.0.1:7070").
	Endpoint string
	// Bucket holds the evidence.
	Bucket    string
	AccessKey string
	SecretKey string
	// Region is the bucket's region; empty asks the server.
	Region string
	// Secure makes the store use HTTPS.
	Secure bool
	// CreateBucket creates Bucket when it does not exist.
	CreateBucket bool
	// ObjectLock creates the bucket (with CreateBucket) with S3 object lock
	// enabled. An existing bucket is used as it is.
	ObjectLock bool
	// Retention, when positive, stores every object with an object lock
	// retention of that long in RetentionMode. The bucket must have object
	// lock: NewS3 checks it and fails with ErrNoObjectLock when it has not
	// (with CreateBucket, a bucket it creates gets object lock). It does not
	// rely on a bucket default retention, which not every server applies to
	// new objects (versitygw v1.8.0 does not).
	Retention time.Duration
	// RetentionMode is RetentionGovernance (default: users allowed to
	// bypass governance retention may lift the lock) or RetentionCompliance
	// (nobody may, until the retention ends).
	RetentionMode string
	// MaxAttempts bounds the tries of one request that fails transiently
	// (network errors, 5xx, 429); default 4.
	MaxAttempts int
	// RetryDelay is the wait before the second try, doubled for each
	// further one up to 30s; default 250ms.
	RetryDelay time.Duration
	// Logger receives retries; default discards.
	Logger *slog.Logger
}

const (
	defaultS3MaxAttempts = 4
	defaultS3RetryDelay  = 250 * time.Millisecond
	maxS3RetryDelay      = 30 * time.Second
)

func (cfg S3Config) withDefaults() S3Config {
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, defaultS3MaxAttempts)
	cfg.RetryDelay = cmp.Or(cfg.RetryDelay, defaultS3RetryDelay)
	cfg.RetentionMode = cmp.Or(cfg.RetentionMode, RetentionGovernance)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

func (cfg S3Config) validate() error {
	switch {
	case cfg.Endpoint == "":
		return errors.New("no endpoint")
	case strings.Contains(cfg.Endpoint, "://"):
		return fmt.Errorf("endpoint %q: give host[:port] without a scheme (Secure selects HTTPS)", cfg.Endpoint)
	case cfg.Bucket == "":
		return errors.New("no bucket")
	case cfg.MaxAttempts < 1:
		return fmt.Errorf("max attempts %d < 1", cfg.MaxAttempts)
	case cfg.RetryDelay < 0:
		return fmt.Errorf("negative retry delay %v", cfg.RetryDelay)
	case cfg.Retention < 0:
		return fmt.Errorf("negative retention %v", cfg.Retention)
	case cfg.RetentionMode != RetentionGovernance && cfg.RetentionMode != RetentionCompliance:
		return fmt.Errorf("retention mode %q: want %s or %s", cfg.RetentionMode, RetentionGovernance, RetentionCompliance)
	}
	return nil
}

// S3 is an evidence store in an S3 bucket (AWS S3, MinIO, versitygw, Ceph
// RGW, …). It is safe for concurrent use.
//
// Write-once: Put uploads with If-None-Match: *, so that the server refuses
// (412 Precondition Failed, ErrObjectExists) a Put of a key that exists,
// and of two racing Puts stores one. It relies on the server honouring the
// header (AWS S3 since 2024, MinIO, versitygw); on a server that ignores it
// a versioned bucket (object lock implies versioning) keeps the first
// version under the later ones.
//
// Connections: requests reuse the client's keep-alive connections, and
// Get's reader drains a short unread rest on Close so that its connection
// can serve the next request. A server that closes every connection after
// one answer (versitygw without --keep-alive) makes each request connect
// anew whatever the client does.
//
// Uploads are one PUT of bytes held in memory (evidence objects are bounded
// by the crawler's body limit), with Content-MD5 so the server rejects bytes
// damaged in transit, and without minio-go's streaming signature: over
// plain HTTP that signature sends the body aws-chunked, and versitygw then
// records "Content-Encoding: aws-chunked" on the object. With
// DisableContentSha256 the request carries the plain body (signed as
// UNSIGNED-PAYLOAD, integrity from Content-MD5) and the object is stored
// with no Content-Encoding, byte for byte. Content-MD5 is also what S3
// requires for uploads into buckets with object lock.
//
// Retention: with S3Config.Retention every Put sends an object lock mode
// and retain-until date, so each object version is locked from the moment
// it is stored, whatever the bucket's default retention. Put, Stat and Get
// report the lock the server holds the object under (ObjectInfo's
// RetentionMode and RetainUntil, from the X-Amz-Object-Lock-* headers).
// Object lock protects versions, not keys: a DELETE without a version ID
// only adds a delete marker and a PUT over the key adds a version, both of
// which S3 allows; the locked version keeps its bytes and can be neither
// deleted nor changed until its retention ends.
//
// Transient failures (network errors, 5xx, 429, SlowDown) are retried up to
// MaxAttempts times with exponential backoff bounded by ctx; minio-go's own
// retries are turned off so the policy is one and visible here. A retried
// Put whose earlier try reached the server but lost its answer finds its own
// object on the next try; it recognises it by its ETag (the MD5 of a
// single-part upload) and succeeds.
type S3 struct {
	client *minio.Client
	cfg    S3Config
	log    *slog.Logger
}

var _ wildwatch.EvidenceStore = (*S3)(nil)

// NewS3 connects to the bucket, creating it when cfg.CreateBucket is set.
// With a Retention it checks that the bucket has object lock enabled and
// fails with ErrNoObjectLock when it has not.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("s3 evidence store: %w", err)
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     cfg.Secure,
		Region:     cfg.Region,
		MaxRetries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 evidence store: %w", err)
	}
	s := &S3{client: client, cfg: cfg, log: cfg.Logger.With("bucket", cfg.Bucket)}

	var exists bool
	err = s.retry(ctx, "bucket exists", "", func(int) error {
		var err error
		exists, err = client.BucketExists(ctx, cfg.Bucket)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("s3 evidence store: bucket %s: %w", cfg.Bucket, err)
	}
	if !exists {
		if err := s.makeBucket(ctx); err != nil {
			return nil, fmt.Errorf("s3 evidence store: %w", err)
		}
	}
	if cfg.Retention > 0 {
		if err := s.checkObjectLock(ctx); err != nil {
			return nil, fmt.Errorf("s3 evidence store: %w", err)
		}
		s.log.Info("evidence objects are locked", "retention", FormatRetention(cfg.Retention), "mode", cfg.RetentionMode)
	}
	return s, nil
}

// makeBucket creates the bucket, with object lock when the configuration
// asks for it or for a retention.
func (s *S3) makeBucket(ctx context.Context) error {
	cfg := s.cfg
	if !cfg.CreateBucket {
		return fmt.Errorf("bucket %s does not exist", cfg.Bucket)
	}
	lock := cfg.ObjectLock || cfg.Retention > 0
	err := s.retry(ctx, "make bucket", "", func(int) error {
		err := s.client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region, ObjectLocking: lock})
		if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			return nil // created meanwhile by another worker
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("creating bucket %s: %w", cfg.Bucket, err)
	}
	s.log.Info("created evidence bucket", "object_lock", lock)
	return nil
}

// Bucket returns the bucket's name.
func (s *S3) Bucket() string { return s.cfg.Bucket }

// Put implements wildwatch.EvidenceStore.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (wildwatch.ObjectInfo, error) {
	if err := validateKey(key); err != nil {
		return wildwatch.ObjectInfo{}, err
	}
	if size < 0 {
		return wildwatch.ObjectInfo{}, fmt.Errorf("storing %s: size %d", key, size)
	}
	if err := ctx.Err(); err != nil {
		return wildwatch.ObjectInfo{}, fmt.Errorf("storing %s: %w", key, err)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return wildwatch.ObjectInfo{}, fmt.Errorf("storing %s: reading %d bytes: %w", key, size, err)
	}
	sum := md5.Sum(data)
	etag := hex.EncodeToString(sum[:])

	opts := minio.PutObjectOptions{
		ContentType:          cmp.Or(contentType, "application/octet-stream"),
		SendContentMd5:       true,
		DisableContentSha256: true,
		DisableMultipart:     true,
	}
	opts.SetMatchETagExcept("*")
	var up minio.UploadInfo
	err := s.retry(ctx, "put", key, func(attempt int) error {
		if s.cfg.Retention > 0 {
			opts.Mode = minio.RetentionMode(s.cfg.RetentionMode)
			opts.RetainUntilDate = time.Now().Add(s.cfg.Retention)
		}
		var err error
		up, err = s.client.PutObject(ctx, s.cfg.Bucket, key, bytes.NewReader(data), size, opts)
		if minio.ToErrorResponse(err).StatusCode != http.StatusPreconditionFailed {
			return err
		}
		if attempt > 0 {
			// An earlier try may have stored the object and lost the answer.
			st, serr := s.client.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
			if serr == nil && strings.EqualFold(strings.Trim(st.ETag, `"`), etag) && st.Size == size {
				s.log.Info("evidence object stored by an earlier try", "key", key)
				return nil
			}
		}
		return wildwatch.ErrObjectExists
	})
	if err != nil {
		return wildwatch.ObjectInfo{}, fmt.Errorf("storing %s: %w", key, err)
	}
	if s.cfg.Retention == 0 && strings.EqualFold(strings.Trim(up.ETag, `"`), etag) && up.Size == size {
		// The server's ETag is the MD5 of what it stored: our bytes, not
		// an encoding of them. Nothing more to read back.
		return wildwatch.ObjectInfo{Key: key, Size: size, ContentType: opts.ContentType, Modified: cmp.Or(up.LastModified, time.Now().UTC())}, nil
	}
	info, err := s.Stat(ctx, key)
	if err != nil {
		return wildwatch.ObjectInfo{}, fmt.Errorf("storing %s: stored, but: %w", key, err)
	}
	if info.Size != size {
		return wildwatch.ObjectInfo{}, fmt.Errorf("storing %s: server reports %d bytes, sent %d", key, info.Size, size)
	}
	if s.cfg.Retention > 0 && (info.RetentionMode != s.cfg.RetentionMode || info.RetainUntil.IsZero()) {
		// The object is stored and stays; the caller sees in info what lock
		// it got.
		s.log.Error("evidence object stored without the retention asked for", "key", key,
			"want_mode", s.cfg.RetentionMode, "got_mode", info.RetentionMode, "retain_until", info.RetainUntil)
	}
	return info, nil
}

// Get implements wildwatch.EvidenceStore. The reader's Close drains a rest
// of up to drainOnClose bytes, so that a caller that stops early leaves the
// connection fit for the next request; a larger rest costs more to read
// than a new connection, and the connection is dropped.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, wildwatch.ObjectInfo, error) {
	if err := validateKey(key); err != nil {
		return nil, wildwatch.ObjectInfo{}, err
	}
	var obj *minio.Object
	var st minio.ObjectInfo
	err := s.retry(ctx, "get", key, func(int) error {
		var err error
		obj, err = s.client.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		// GetObject is lazy; Stat sends a HEAD, the first Read the GET.
		// (The HEAD is what reports the object lock: versitygw leaves it
		// out of GET answers.)
		st, err = obj.Stat()
		if err != nil {
			obj.Close()
		}
		return err
	})
	if err != nil {
		return nil, wildwatch.ObjectInfo{}, s3Error("reading", key, err)
	}
	return drainingBody{obj}, s3ObjectInfo(st), nil
}

// drainOnClose bounds what drainingBody reads to keep a connection.
const drainOnClose = 64 << 10

// drainingBody is a response body whose Close first reads a short rest.
type drainingBody struct{ io.ReadCloser }

func (b drainingBody) Close() error {
	_, _ = io.CopyN(io.Discard, b.ReadCloser, drainOnClose)
	return b.ReadCloser.Close()
}

// Stat implements wildwatch.EvidenceStore.
func (s *S3) Stat(ctx context.Context, key string) (wildwatch.ObjectInfo, error) {
	if err := validateKey(key); err != nil {
		return wildwatch.ObjectInfo{}, err
	}
	var st minio.ObjectInfo
	err := s.retry(ctx, "stat", key, func(int) error {
		var err error
		st, err = s.client.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
		return err
	})
	if err != nil {
		return wildwatch.ObjectInfo{}, s3Error("describing", key, err)
	}
	return s3ObjectInfo(st), nil
}

// List implements wildwatch.EvidenceStore. Listings carry no content type
// and no retention (S3 does not return them without a request per object).
func (s *S3) List(ctx context.Context, prefix string) ([]wildwatch.ObjectInfo, error) {
	var objs []wildwatch.ObjectInfo
	err := s.retry(ctx, "list", prefix, func(int) error {
		objs = []wildwatch.ObjectInfo{}
		for o := range s.client.ListObjectsIter(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if o.Err != nil {
				return o.Err
			}
			objs = append(objs, wildwatch.ObjectInfo{Key: o.Key, Size: o.Size, Modified: o.LastModified.UTC()})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %q: %w", prefix, err)
	}
	// S3 lists in UTF-8 byte order already; sorting keeps the promise
	// whatever the server does.
	slices.SortFunc(objs, func(a, b wildwatch.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return objs, nil
}

// s3ObjectInfo describes an object from a HEAD or GET answer, with its
// object lock retention when it has one.
func s3ObjectInfo(st minio.ObjectInfo) wildwatch.ObjectInfo {
	info := wildwatch.ObjectInfo{
		Key:         st.Key,
		Size:        st.Size,
		ContentType: st.ContentType,
		Modified:    st.LastModified.UTC(),
	}
	info.RetentionMode, info.RetainUntil = objectRetention(st.Metadata)
	return info
}

// s3Error maps "no such key" to wildwatch.ErrObjectNotFound. A HEAD on a
// missing bucket also answers a bare 404, which cannot be told apart.
func s3Error(op, key string, err error) error {
	resp := minio.ToErrorResponse(err)
	if resp.Code == "NoSuchKey" || (resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket") {
		return fmt.Errorf("%s %s: %w", op, key, wildwatch.ErrObjectNotFound)
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}

// retry runs fn until it succeeds, fails for good, MaxAttempts tries are
// spent or ctx ends. fn gets the number of earlier tries.
func (s *S3) retry(ctx context.Context, op, key string, fn func(attempt int) error) error {
	delay := s.cfg.RetryDelay
	for attempt := 0; ; attempt++ {
		err := fn(attempt)
		if err == nil || !transient(ctx, err) {
			return err
		}
		if attempt+1 >= s.cfg.MaxAttempts {
			return fmt.Errorf("%w (gave up after %d tries)", err, attempt+1)
		}
		wait := delay + rand.N(delay/2+1)
		s.log.Warn("s3 request failed, retrying", "op", op, "key", key, "try", attempt+1, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (retry abandoned: %w)", err, context.Cause(ctx))
		case <-t.C:
		}
		delay = min(2*delay, maxS3RetryDelay)
	}
}

// transient reports whether err may go away if the request is sent again.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "RequestTimeTooSkewed":
		return true
	}
	if resp.StatusCode != 0 {
		return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
