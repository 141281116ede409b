package crawler

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gocolly/colly/v2"

	"github.com/wildwatch/wildwatch"
)

// FetchError is why a Fetch failed. Kind is one of the wildwatch.ErrKind*
// constants; Retryable says whether trying again later may help, and
// RetryAfter how long the server asked to wait (zero when it did not say).
type FetchError struct {
	Kind       string
	URL        string
	Status     int
	Retryable  bool
	RetryAfter time.Duration
	Err        error
}

func (e *FetchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fetching %s: %s", e.URL, e.Kind)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *FetchError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is a FetchError worth retrying later: a
// network failure, a 429 or a 5xx, a host backing off, a block page or a
// spent daily cap.
func IsRetryable(err error) bool {
	var fe *FetchError
	return errors.As(err, &fe) && fe.Retryable
}

// Errors wrapped in FetchError.Err.
var (
	// ErrRobots reports a URL that robots.txt disallows; it was not requested.
	ErrRobots = errors.New("disallowed by robots.txt")
	// ErrHostNotAllowed reports a URL, or a redirect, to a host not in the
	// target's allowed hosts.
	ErrHostNotAllowed = errors.New("host not in allowed_hosts")
	// ErrTooManyRedirects reports more redirects than the target allows.
	ErrTooManyRedirects = errors.New("too many redirects")
)

// statusError classifies a response status. It returns nil for 2xx.
func statusError(rawURL string, status int, header http.Header, now time.Time) *FetchError {
	if status >= 200 && status < 300 {
		return nil
	}
	fe := &FetchError{
		Kind:   wildwatch.ErrKindHTTP,
		URL:    rawURL,
		Status: status,
		Err:    errors.New(strings.ToLower(http.StatusText(status))),
	}
	if status == http.StatusTooManyRequests || status >= 500 {
		fe.Retryable = true
		fe.RetryAfter = retryAfter(header.Get("Retry-After"), now)
	}
	return fe
}

// retryAfter reads a Retry-After value, seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}

// classify turns an error from a request into a FetchError.
func classify(rawURL string, err error) *FetchError {
	var fe *FetchError
	if errors.As(err, &fe) {
		// Raised for a request made on the page's behalf (robots.txt):
		// report it against the page.
		c := *fe
		c.URL = rawURL
		if fe.URL != rawURL {
			c.Err = fmt.Errorf("%s: %w", fe.URL, fe.Err)
		}
		return &c
	}
	fe = &FetchError{URL: rawURL, Err: err}
	var ge *GuardError
	var be *BackoffError
	var ce *CapError
	switch {
	case errors.As(err, &be):
		fe.Kind, fe.Retryable, fe.RetryAfter, fe.Err = wildwatch.ErrKindThrottled, true, be.Remaining, be
	case errors.Is(err, ErrLimiterWait):
		// Not sent: the host's queue was too long to wait through.
		fe.Kind, fe.Retryable = wildwatch.ErrKindThrottled, true
	case errors.As(err, &ce):
		fe.Kind, fe.Retryable, fe.RetryAfter, fe.Err = wildwatch.ErrKindCapped, true, max(time.Until(ce.Reset), time.Second), ce
	case errors.Is(err, colly.ErrRobotsTxtBlocked), errors.Is(err, ErrRobots):
		fe.Kind, fe.Err = wildwatch.ErrKindRobots, ErrRobots
	case errors.As(err, &ge):
		fe.Kind = wildwatch.ErrKindGuard
	case errors.Is(err, colly.ErrForbiddenDomain), errors.Is(err, ErrHostNotAllowed):
		fe.Kind = wildwatch.ErrKindGuard
		if !errors.Is(err, ErrHostNotAllowed) {
			fe.Err = fmt.Errorf("%w: %w", ErrHostNotAllowed, err)
		}
	case errors.Is(err, ErrTooManyRedirects):
		fe.Kind = wildwatch.ErrKindHTTP
	default:
		// Refused connections, name resolution, timeouts, resets, TLS and
		// cancellation: the network, worth another try.
		fe.Kind, fe.Retryable = wildwatch.ErrKindNetwork, true
	}
	return fe
}
