package wildwatch

import (
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		window   string
		t        string
		contains bool
		next     string
	}{
		{"22:00-06:00", "2025-03-01 23:30", true, "2025-03-01 23:30"},
		{"22:00-06:00", "2025-03-01 05:59", true, "2025-03-01 05:59"},
		{"22:00-06:00", "2025-03-01 06:00", false, "2025-03-01 22:00"},
		{"22:00-06:00", "2025-03-01 12:00", false, "2025-03-01 22:00"},
		{"22:00-06:00", "2025-03-01 22:00", true, "2025-03-01 22:00"},
		{"09:30-17:00", "2025-03-01 17:00", false, "2025-03-02 09:30"},
		{"09:30-17:00", "2025-03-01 08:00", false, "2025-03-01 09:30"},
		{"00:00-24:00", "2025-03-01 08:00", true, "2025-03-01 08:00"},
		// The night the clocks go forward (02:00 → 03:00).
		{"01:00-01:30", "2025-03-30 02:30", false, "2025-03-31 01:00"},
	}
	for _, tc := range tests {
		w, err := ParseWindow(tc.window)
		if err != nil {
			t.Fatalf("ParseWindow(%q): %v", tc.window, err)
		}
		if w.String() != tc.window {
			t.Errorf("ParseWindow(%q).String() = %q", tc.window, w)
		}
		tt := at(tc.t)
		if got := w.Contains(tt); got != tc.contains {
			t.Errorf("%s contains %s = %v", tc.window, tc.t, got)
		}
		if got := w.Next(tt); !got.Equal(at(tc.next)) {
			t.Errorf("%s: next after %s = %s, want %s", tc.window, tc.t, got, tc.next)
		}
	}
	for _, bad := range []string{"", "22:00", "22-06", "25:00-06:00", "22:60-06:00", "22:00-22:00", "7:5-08:00", "24:30-01:00"} {
		if _, err := ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) accepted", bad)
		}
	}
}

func TestScheduleStartAt(t *testing.T) {
	t.Parallel()
	fire := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) // 14:00 in Berlin
	s := Schedule{Every: Interval(6 * time.Hour), Window: "22:00-06:00", TZ: "Europe/Berlin"}
	got, err := s.StartAt(fire)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2025, 6, 1, 20, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("StartAt = %s, want %s (22:00 in Berlin)", got, want)
	}
	if got, _ := (Schedule{Every: Interval(time.Hour)}).StartAt(fire); !got.Equal(fire) {
		t.Errorf("StartAt without a window = %s", got)
	}
	if _, err := (Schedule{Window: "22:00-06:00", TZ: "Nowhere/Land"}).StartAt(fire); err == nil {
		t.Error("unknown time zone accepted")
	}
}

func TestInterval(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"7d", 7 * 24 * time.Hour, "7d"},
		{"36h", 36 * time.Hour, "36h"},
		{"48h", 48 * time.Hour, "2d"},
		{"90m", 90 * time.Minute, "1h30m"},
		{"2s", 2 * time.Second, "2s"},
		{"6h", 6 * time.Hour, "6h"},
	} {
		var d Interval
		if err := d.UnmarshalText([]byte(tc.in)); err != nil || time.Duration(d) != tc.want {
			t.Errorf("Interval(%q) = %v, %v; want %v", tc.in, time.Duration(d), err, tc.want)
		}
		if b, _ := d.MarshalText(); string(b) != tc.out {
			t.Errorf("Interval(%v) writes %q, want %q", tc.want, b, tc.out)
		}
	}
	for _, bad := range []string{"", "7", "d", "1.5d", "-1d", "soon"} {
		var d Interval
		if err := d.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("Interval(%q) accepted", bad)
		}
	}
}
