package workers

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
)

// When a sweep ends having raised flags, its monitors are told by webhook:
// the target's own (Target.Webhook) and the daemon's global one
// (WebhookConfig.URL), each a POST of an Announcement, signed, delivered by
// a task of its own that Asynq retries while the receiver is down.
//
// Deliveries connect under the crawler's address guard: a webhook on a
// loopback, private or link-local address is refused, unless the target
// allows private addresses (allow_private_addresses, as for crawling) or,
// for the global webhook, WebhookConfig.AllowPrivate is set. A refused
// delivery is logged, recorded as a guard error on the sweep and not
// retried.

// Task types of announcements.
const (
	// TypeSweepEnded announces the end of a sweep to its webhooks.
	TypeSweepEnded = "sweep:ended"
	// TypeWebhook delivers one announcement to one webhook.
	TypeWebhook = "webhook:deliver"
)

// Headers of a webhook delivery.
const (
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, keyed with the
	// webhook's secret, of the timestamp header's value, a dot and the
	// body (see SignWebhook).
	HeaderSignature = "X-Wildwatch-Signature"
	// HeaderTimestamp is the Unix time, in seconds, the delivery was sent.
	HeaderTimestamp = "X-Wildwatch-Timestamp"
	// HeaderEvent names the event: EventSweepFlags.
	HeaderEvent = "X-Wildwatch-Event"
	// HeaderDelivery identifies the delivery, the same on every retry:
	// "<sweep>/target" or "<sweep>/global".
	HeaderDelivery = "X-Wildwatch-Delivery"
)

// EventSweepFlags is the event of an Announcement.
const EventSweepFlags = "sweep.flags"

// Defaults of WebhookConfig.
const (
	DefaultWebhookTimeout  = 10 * time.Second
	DefaultWebhookMaxRetry = 12
)

// WebhookConfig configures webhook deliveries. The zero value delivers to
// target webhooks only, and finds none of their secrets.
type WebhookConfig struct {
	// URL, when set, is told of the flags of every sweep, whatever its
	// target says; Secret signs what is sent to it (required with URL).
	URL    string
	Secret string
	// LookupSecret returns the secret a target's webhook names
	// (wildwatch.Webhook.SecretEnv), "" when there is none.
	LookupSecret func(name string) string
	// PublicURL is the API's address as the monitors reach it
	// ("https://wildwatch.example.org"), the base of the links in
	// announcements; empty leaves the links as paths ("/api/v1/flags/ID").
	PublicURL string
	// Timeout bounds one delivery (default DefaultWebhookTimeout).
	Timeout time.Duration
	// MaxRetry is how often a failed delivery is retried, with the
	// workers' growing delay (default DefaultWebhookMaxRetry).
	MaxRetry int
	// AllowPrivate lets the global webhook be on a loopback, private or
	// link-local address (test and demo setups); a target's webhook
	// follows the target's allow_private_addresses instead.
	AllowPrivate bool
	// Client, when set, sends every delivery in place of the guarded
	// clients, and so without the address guard; it is meant for tests.
	Client *http.Client

	// guarded and open send deliveries when Client is nil: under the
	// address guard, and not.
	guarded, open *http.Client
}

func (c WebhookConfig) withDefaults() WebhookConfig {
	c.Timeout = cmp.Or(c.Timeout, DefaultWebhookTimeout)
	c.MaxRetry = cmp.Or(c.MaxRetry, DefaultWebhookMaxRetry)
	if c.Client != nil {
		c.guarded, c.open = c.Client, c.Client
		return c
	}
	if c.guarded == nil {
		c.guarded = &http.Client{Timeout: c.Timeout, Transport: crawler.GuardedTransport(false)}
		c.open = &http.Client{Timeout: c.Timeout, Transport: crawler.GuardedTransport(true)}
	}
	return c
}

// client returns the client for a delivery.
func (c WebhookConfig) client(d delivery) *http.Client {
	if d.AllowPrivate {
		return c.open
	}
	return c.guarded
}

func (c WebhookConfig) validate() error {
	if c.URL == "" {
		return nil
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook url %q is not an absolute http(s) URL", c.URL)
	}
	if c.Secret == "" {
		return errors.New("a global webhook needs a secret to sign with")
	}
	return nil
}

// Announcement is the JSON body of a webhook delivery: a sweep that ended
// and the flags it raised.
type Announcement struct {
	Event      string                `json:"event"`
	Sweep      string                `json:"sweep"`
	Target     string                `json:"target"`
	Status     string                `json:"status"`
	Reason     string                `json:"reason,omitempty"`
	FinishedAt *time.Time            `json:"finished_at,omitempty"`
	Counts     wildwatch.SweepCounts `json:"counts"`
	// Link is the sweep in the API.
	Link  string          `json:"link"`
	Flags []AnnouncedFlag `json:"flags"`
}

// AnnouncedFlag is one new flag of an Announcement.
type AnnouncedFlag struct {
	ID       string  `json:"id"`
	URL      string  `json:"url"`
	Category string  `json:"category"`
	Score    float64 `json:"score"`
	// Link is the flag in the API.
	Link string `json:"link"`
}

// SignWebhook returns the HeaderSignature value for body sent at the
// HeaderTimestamp value ts.
func SignWebhook(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifyWebhook checks a delivery as its receiver would: the signature
// over the timestamp and body, and a timestamp within tolerance of now.
func VerifyWebhook(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook timestamp %q: %w", ts, err)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook timestamp %s is %s away from now", ts, d)
	}
	if !hmac.Equal([]byte(h.Get(HeaderSignature)), []byte(SignWebhook(secret, ts, body))) {
		return errors.New("webhook signature does not match")
	}
	return nil
}

// endedPayload is the body of a TypeSweepEnded task.
type endedPayload struct {
	Sweep string `json:"sweep"`
}

// delivery is the body of a TypeWebhook task.
type delivery struct {
	Sweep string `json:"sweep"`
	// Dest is "target" (the secret is named by SecretEnv) or "global".
	Dest      string          `json:"dest"`
	URL       string          `json:"url"`
	SecretEnv string          `json:"secret_env,omitempty"`
	Body      json.RawMessage `json:"body"`
	// AllowPrivate lifts the address guard for this delivery.
	AllowPrivate bool `json:"allow_private,omitempty"`
}

// sweepEnded queues the announcement of the end of a sweep; queueing it
// again is a no-op.
func (e *enqueuer) sweepEnded(ctx context.Context, sweepID string) error {
	body, err := json.Marshal(endedPayload{Sweep: sweepID})
	if err != nil {
		return err
	}
	_, err = e.queue.EnqueueContext(ctx, asynq.NewTask(TypeSweepEnded, body,
		asynq.TaskID("ended/"+sweepID), asynq.Queue(QueueSweep), asynq.MaxRetry(e.maxRetry), asynq.Retention(taskRetention)))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("queueing the end of sweep %s: %w", sweepID, err)
	}
	return nil
}

// announce builds the announcement of an ended sweep and queues one
// delivery per webhook; nothing when the sweep raised no flag or has no
// webhook.
func (h *handlers) announce(ctx context.Context, p endedPayload) error {
	sw, err := h.catalog.GetSweep(ctx, p.Sweep)
	if err != nil {
		return fmt.Errorf("announcing sweep %s: %w", p.Sweep, err)
	}
	if sw.Counts.Flags == 0 {
		return nil
	}
	t, err := h.catalog.SweepTarget(ctx, p.Sweep)
	if err != nil {
		return fmt.Errorf("announcing sweep %s: %w", p.Sweep, err)
	}
	cfg := h.life.webhooks
	var dests []delivery
	if t.Webhook != nil && t.Webhook.URL != "" {
		dests = append(dests, delivery{Dest: "target", URL: t.Webhook.URL, SecretEnv: t.Webhook.SecretEnv,
			AllowPrivate: t.Politeness.AllowPrivate})
	}
	if cfg.URL != "" {
		dests = append(dests, delivery{Dest: "global", URL: cfg.URL, AllowPrivate: cfg.AllowPrivate})
	}
	if len(dests) == 0 {
		return nil
	}
	a := Announcement{Event: EventSweepFlags, Sweep: sw.ID, Target: sw.Target, Status: sw.Status, Reason: sw.Reason,
		FinishedAt: sw.FinishedAt, Counts: sw.Counts, Link: apiLink(cfg.PublicURL, "sweeps", sw.ID), Flags: []AnnouncedFlag{}}
	for offset := 0; ; {
		fs, err := h.catalog.ListFlags(ctx, storage.FlagFilter{SweepID: sw.ID, Limit: 1000, Offset: offset})
		if err != nil {
			return fmt.Errorf("announcing sweep %s: %w", p.Sweep, err)
		}
		for _, f := range fs {
			a.Flags = append(a.Flags, AnnouncedFlag{ID: f.ID, URL: f.URL, Category: f.Category, Score: f.Score,
				Link: apiLink(cfg.PublicURL, "flags", f.ID)})
		}
		if len(fs) < 1000 {
			break
		}
		offset += len(fs)
	}
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	for _, d := range dests {
		d.Sweep, d.Body = sw.ID, body
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		_, err = h.enq.queue.EnqueueContext(ctx, asynq.NewTask(TypeWebhook, b,
			asynq.TaskID("webhook/"+sw.ID+"/"+d.Dest), asynq.Queue(QueueSweep), asynq.MaxRetry(cfg.MaxRetry),
			asynq.Retention(taskRetention)))
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("queueing webhook of sweep %s: %w", sw.ID, err)
		}
	}
	h.logger.InfoContext(ctx, "sweep announced", "sweep", sw.ID, "flags", len(a.Flags), "webhooks", len(dests))
	return nil
}

// apiLink is the API URL of a sweep or flag.
func apiLink(base, kind, id string) string {
	return strings.TrimRight(base, "/") + "/api/v1/" + kind + "/" + url.PathEscape(id)
}

// deliver posts one announcement, signed. A receiver that does not answer
// 2xx gets it again later.
func (h *handlers) deliver(ctx context.Context, d delivery) error {
	cfg := h.life.webhooks
	secret := cfg.Secret
	if d.Dest == "target" {
		secret = ""
		if cfg.LookupSecret != nil && d.SecretEnv != "" {
			secret = cfg.LookupSecret(d.SecretEnv)
		}
	}
	if secret == "" {
		h.logger.ErrorContext(ctx, "webhook not sent: no secret", "sweep", d.Sweep, "url", d.URL, "secret_env", d.SecretEnv)
		return fmt.Errorf("webhook of sweep %s to %s: no secret (set %s): %w", d.Sweep, d.URL, cmp.Or(d.SecretEnv, "the global webhook secret"), asynq.SkipRetry)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return fmt.Errorf("webhook of sweep %s: %v: %w", d.Sweep, err, asynq.SkipRetry)
	}
	ts := strconv.FormatInt(h.life.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "wildwatch/"+wildwatch.Version)
	req.Header.Set(HeaderEvent, EventSweepFlags)
	req.Header.Set(HeaderDelivery, d.Sweep+"/"+d.Dest)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, SignWebhook([]byte(secret), ts, d.Body))
	resp, err := cfg.client(d).Do(req)
	var ge *crawler.GuardError
	if errors.As(err, &ge) {
		return h.webhookRefused(ctx, d, ge)
	}
	if err != nil {
		h.logger.WarnContext(ctx, "webhook not delivered; will retry", "sweep", d.Sweep, "url", d.URL, "err", err)
		return fmt.Errorf("webhook of sweep %s: %w", d.Sweep, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		h.logger.WarnContext(ctx, "webhook refused; will retry", "sweep", d.Sweep, "url", d.URL, "status", resp.StatusCode)
		return fmt.Errorf("webhook of sweep %s: %s answered %d", d.Sweep, d.URL, resp.StatusCode)
	}
	h.logger.InfoContext(ctx, "webhook delivered", "sweep", d.Sweep, "url", d.URL, "status", resp.StatusCode)
	return nil
}

// webhookRefused records a delivery the address guard refused, on its
// sweep and in the log, and ends it: trying again would be refused again.
func (h *handlers) webhookRefused(ctx context.Context, d delivery, ge *crawler.GuardError) error {
	h.logger.ErrorContext(ctx, "webhook not sent: address refused", "sweep", d.Sweep, "url", d.URL, "dest", d.Dest,
		"addr", ge.Addr, "reason", ge.Reason)
	msg := fmt.Sprintf("webhook (%s) not sent: %v; allow private addresses to deliver to it", d.Dest, ge)
	e := wildwatch.SweepError{SweepID: d.Sweep, URL: d.URL, Kind: wildwatch.ErrKindGuard, Message: msg, At: time.Now().UTC()}
	if err := h.catalog.AddSweepError(ctx, e); err != nil {
		return fmt.Errorf("recording refused webhook of sweep %s: %w", d.Sweep, err)
	}
	return fmt.Errorf("webhook of sweep %s to %s: %w: %w", d.Sweep, d.URL, ge, asynq.SkipRetry)
}
