package storage

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestParseRetention(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, true},
		{"0", 0, true},
		{"365d", 365 * day, true},
		{" 30d ", 30 * day, true},
		{"0d", 0, true},
		{"720h", 720 * time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"1.5d", 0, false},
		{"-1d", 0, false},
		{"-5h", 0, false},
		{"d", 0, false},
		{"365", 0, false},
		{"1y", 0, false},
		{"999999999d", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseRetention(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseRetention(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestFormatRetention(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{365 * 24 * time.Hour, 24 * time.Hour, 36 * time.Hour, 90 * time.Minute} {
		s := FormatRetention(d)
		back, err := ParseRetention(s)
		if err != nil || back != d {
			t.Errorf("FormatRetention(%v) = %q, which parses as %v, %v", d, s, back, err)
		}
	}
	if got := FormatRetention(365 * 24 * time.Hour); got != "365d" {
		t.Errorf("FormatRetention(365 days) = %q, want 365d", got)
	}
}

func TestParseRetentionMode(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", RetentionGovernance},
		{"governance", RetentionGovernance},
		{"COMPLIANCE", RetentionCompliance},
		{" Compliance ", RetentionCompliance},
		{"legal-hold", ""},
	}
	for _, tt := range tests {
		got, err := ParseRetentionMode(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("ParseRetentionMode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestObjectRetention(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	if mode, until := objectRetention(h); mode != "" || !until.IsZero() {
		t.Errorf("no headers: %q, %v", mode, until)
	}
	h.Set("X-Amz-Object-Lock-Mode", "COMPLIANCE")
	h.Set("X-Amz-Object-Lock-Retain-Until-Date", "2027-03-14T09:26:53.000Z")
	mode, until := objectRetention(h)
	if mode != RetentionCompliance || !until.Equal(time.Date(2027, 3, 14, 9, 26, 53, 0, time.UTC)) {
		t.Errorf("objectRetention = %q, %v", mode, until)
	}
	h.Set("X-Amz-Object-Lock-Retain-Until-Date", "soon")
	if _, until := objectRetention(h); !until.IsZero() {
		t.Errorf("unreadable date gave %v", until)
	}
}

func ExampleParseRetention() {
	d, err := ParseRetention("365d")
	if err != nil {
		panic(err)
	}
	fmt.Println(d, FormatRetention(d))
	// Output: 8760h0m0s 365d
}
