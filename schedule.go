package wildwatch

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule says when a target is swept: on a cron expression or every
// fixed interval, optionally only within a daily crawl window. A fire that
// falls outside the window is deferred to the window's next start; a fire
// while the target's last sweep is still queued, running or paused starts
// nothing.
type Schedule struct {
	// Cron is a five-field cron expression ("0 */6 * * *") or a descriptor
	// ("@daily", "@every 6h"), read in TZ.
	Cron string `yaml:"cron,omitempty" json:"cron,omitempty"`
	// Every fires at this interval ("6h", "1d"), counted from the start
	// of the target's latest sweep (scheduled or not), so that a restart
	// of the scheduler neither skips nor doubles a run; a target never
	// swept is first swept this long after a scheduler first saw the
	// schedule.
	Every Interval `yaml:"every,omitempty" json:"every,omitempty"`
	// Window limits sweep starts to hours of the day, "22:00-06:00" (it may
	// span midnight), in TZ; empty means any time.
	Window string `yaml:"window,omitempty" json:"window,omitempty"`
	// TZ is the IANA time zone of Cron and Window ("Europe/Berlin");
	// empty means UTC.
	TZ string `yaml:"tz,omitempty" json:"tz,omitempty"`
}

// Location returns the schedule's time zone.
func (s Schedule) Location() (*time.Location, error) {
	if s.TZ == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(s.TZ)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", s.TZ, err)
	}
	return loc, nil
}

// StartAt returns when a sweep fired at t may start: t itself when the
// schedule has no window or t is within it, else the window's next start.
func (s Schedule) StartAt(t time.Time) (time.Time, error) {
	if s.Window == "" {
		return t, nil
	}
	w, err := ParseWindow(s.Window)
	if err != nil {
		return time.Time{}, err
	}
	loc, err := s.Location()
	if err != nil {
		return time.Time{}, err
	}
	return w.Next(t.In(loc)), nil
}

// Webhook is where the monitors of a target are told about new flags.
type Webhook struct {
	// URL receives a signed JSON POST when a sweep ends having raised
	// flags.
	URL string `yaml:"url" json:"url"`
	// SecretEnv names the environment variable of the daemon holding the
	// HMAC secret the body is signed with; it starts with
	// WILDWATCH_WEBHOOK_ (the daemon lends no other variable to webhooks).
	SecretEnv string `yaml:"secret_env" json:"secret_env"`
}

// Window is a daily span of time, from Start to End, in minutes after
// midnight. End before Start spans midnight.
type Window struct {
	Start, End int
}

// ParseWindow reads "HH:MM-HH:MM".
func ParseWindow(s string) (Window, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return Window{}, fmt.Errorf("window %q: want HH:MM-HH:MM", s)
	}
	start, err := parseClock(from)
	if err != nil {
		return Window{}, fmt.Errorf("window %q: %w", s, err)
	}
	end, err := parseClock(to)
	if err != nil {
		return Window{}, fmt.Errorf("window %q: %w", s, err)
	}
	if start == end {
		return Window{}, fmt.Errorf("window %q: starts where it ends", s)
	}
	return Window{Start: start, End: end}, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return hh*60 + mm, nil
}

// String writes the window as "HH:MM-HH:MM".
func (w Window) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", w.Start/60, w.Start%60, w.End/60, w.End%60)
}

// Contains reports whether t, read in its own location, is within the
// window (its start included, its end not).
func (w Window) Contains(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	if w.Start < w.End {
		return m >= w.Start && m < w.End
	}
	return m >= w.Start || m < w.End
}

// Next returns t when it is within the window, else the window's next
// start after t, in t's location.
func (w Window) Next(t time.Time) time.Time {
	if w.Contains(t) {
		return t
	}
	y, mo, d := t.Date()
	start := time.Date(y, mo, d, w.Start/60, w.Start%60, 0, 0, t.Location())
	if !start.After(t) {
		start = time.Date(y, mo, d+1, w.Start/60, w.Start%60, 0, 0, t.Location())
	}
	return start
}

// Interval is a time.Duration that reads and writes as text and also
// takes whole days: "7d", "36h", "90m".
type Interval time.Duration

// MarshalText implements encoding.TextMarshaler: whole days as "7d", else
// as time.Duration does, without trailing zero units ("6h", "1h30m").
func (d Interval) MarshalText() ([]byte, error) {
	v := time.Duration(d)
	if v != 0 && v%(24*time.Hour) == 0 {
		return []byte(strconv.FormatInt(int64(v/(24*time.Hour)), 10) + "d"), nil
	}
	s := v.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return []byte(s), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Interval) UnmarshalText(b []byte) error {
	v, err := ParseInterval(string(b))
	if err != nil {
		return err
	}
	*d = Interval(v)
	return nil
}

// ParseInterval reads "<n>d" or a time.ParseDuration string.
func ParseInterval(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || n > 36500 {
			return 0, fmt.Errorf("interval %q: want whole days such as 7d, or a duration such as 36h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("interval: %w", err)
	}
	return v, nil
}
