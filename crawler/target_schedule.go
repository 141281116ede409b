package crawler

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/wildwatch/wildwatch"
)

// MinEvery is the shortest interval a schedule's every may have.
const MinEvery = time.Second

// WebhookSecretPrefix starts the name of every environment variable a
// target's webhook may take its secret from, so that a target cannot have
// its webhooks signed with another of the daemon's secrets.
const WebhookSecretPrefix = "WILDWATCH_WEBHOOK_"

var envName = regexp.MustCompile(`^[A-Z0-9_]+$`)

// checkSchedule checks the schedule, revisit interval and webhook.
func (p *targetParser) checkSchedule(t wildwatch.Target) error {
	if t.Revisit < 0 {
		return p.fail("revisit", "must not be negative")
	}
	if s := t.Schedule; s != nil {
		if err := p.checkScheduleFields(*s); err != nil {
			return err
		}
	}
	if w := t.Webhook; w != nil {
		u, err := url.Parse(w.URL)
		switch {
		case w.URL == "":
			return p.fail("webhook.url", "required")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return p.fail("webhook.url", "%q is not an absolute http(s) URL", w.URL)
		case w.SecretEnv == "":
			return p.fail("webhook.secret_env", "required: the name of the environment variable holding the signing secret")
		case !envName.MatchString(w.SecretEnv) || !strings.HasPrefix(w.SecretEnv, WebhookSecretPrefix) || w.SecretEnv == WebhookSecretPrefix:
			return p.fail("webhook.secret_env", "%q: want the name of an environment variable starting with %s", w.SecretEnv, WebhookSecretPrefix)
		}
	}
	return nil
}

func (p *targetParser) checkScheduleFields(s wildwatch.Schedule) error {
	switch {
	case s.Cron == "" && s.Every == 0:
		return p.fail("schedule", "give cron or every")
	case s.Cron != "" && s.Every != 0:
		return p.fail("schedule", "give cron or every, not both")
	case s.Every < 0:
		return p.fail("schedule.every", "must not be negative")
	case s.Every != 0 && time.Duration(s.Every) < MinEvery:
		return p.fail("schedule.every", "%s is shorter than %s", time.Duration(s.Every), MinEvery)
	}
	if s.Cron != "" {
		if err := CheckCron(s.Cron); err != nil {
			return p.fail("schedule.cron", "%v", err)
		}
	}
	if s.TZ != "" {
		if _, err := s.Location(); err != nil {
			return p.fail("schedule.tz", "unknown time zone %q (want an IANA name such as Europe/Berlin)", s.TZ)
		}
	}
	if s.Window != "" {
		if _, err := wildwatch.ParseWindow(s.Window); err != nil {
			return p.fail("schedule.window", "%v", err)
		}
	}
	return nil
}

// CheckCron checks a schedule's cron expression: five fields or a
// descriptor, as the scheduler reads it. The time zone is the schedule's
// tz, not a prefix of the expression.
func CheckCron(spec string) error {
	s := strings.TrimSpace(spec)
	if strings.HasPrefix(s, "CRON_TZ=") || strings.HasPrefix(s, "TZ=") {
		return fmt.Errorf("%q: give the time zone as tz, not in the expression", spec)
	}
	if _, err := cron.ParseStandard(s); err != nil {
		return fmt.Errorf("%q is not a cron expression (five fields, or @daily, @hourly, @every 6h…): %v", spec, err)
	}
	return nil
}
