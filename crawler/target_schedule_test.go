package crawler

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

// scheduled is a valid target with a schedule, revisit interval and
// webhook; cases below replace its last lines.
const scheduled = `name: shop
allowed_hosts: [shop.example]
start_urls: [https://shop.example/list]
selectors:
  listing_links: a.item
  fields:
    title: h1
revisit: 7d
webhook:
  url: https://hooks.example/ww
  secret_env: WILDWATCH_WEBHOOK_SHOP
schedule:
  cron: "0 */6 * * *"
  window: 22:00-06:00
  tz: Europe/Berlin
`

func TestParseTargetSchedule(t *testing.T) {
	t.Parallel()
	got, err := ParseTarget("shop.yaml", []byte(scheduled))
	if err != nil {
		t.Fatal(err)
	}
	want := &wildwatch.Schedule{Cron: "0 */6 * * *", Window: "22:00-06:00", TZ: "Europe/Berlin"}
	if *got.Schedule != *want || time.Duration(got.Revisit) != 7*24*time.Hour ||
		*got.Webhook != (wildwatch.Webhook{URL: "https://hooks.example/ww", SecretEnv: "WILDWATCH_WEBHOOK_SHOP"}) {
		t.Errorf("parsed %+v, revisit %v, webhook %+v", got.Schedule, got.Revisit, got.Webhook)
	}
	head := scheduled[:strings.Index(scheduled, "revisit:")]
	tests := []struct {
		name, tail string
		line       int
		field      string
		reason     string
	}{
		{"both", "schedule:\n  cron: '@daily'\n  every: 6h\n", 8, "schedule", "not both"},
		{"neither", "schedule:\n  window: 22:00-06:00\n", 8, "schedule", "give cron or every"},
		{"bad cron", "schedule:\n  cron: 0 25 * * *\n", 9, "schedule.cron", "not a cron expression"},
		{"tz in cron", "schedule:\n  cron: CRON_TZ=UTC 0 * * * *\n", 9, "schedule.cron", "give the time zone as tz"},
		{"short every", "schedule:\n  every: 10ms\n", 9, "schedule.every", "shorter than"},
		{"bad every", "schedule:\n  every: often\n", 9, "schedule.every", "often"},
		{"bad window", "schedule:\n  every: 1h\n  window: nights\n", 10, "schedule.window", "HH:MM-HH:MM"},
		{"bad tz", "schedule:\n  every: 1h\n  tz: Mars/Olympus\n", 10, "schedule.tz", "unknown time zone"},
		{"unknown key", "schedule:\n  every: 1h\n  at: noon\n", 10, "schedule.at", "unknown key"},
		{"negative revisit", "revisit: -1h\n", 8, "revisit", "negative"},
		{"webhook without secret", "webhook:\n  url: https://hooks.example/ww\n", 8, "webhook.secret_env", "required"},
		{"webhook not http", "webhook:\n  url: ftp://hooks.example\n  secret_env: X\n", 9, "webhook.url", "not an absolute http(s) URL"},
		{"webhook bad env", "webhook:\n  url: https://hooks.example\n  secret_env: my secret\n", 10, "webhook.secret_env", "starting with WILDWATCH_WEBHOOK_"},
		{"webhook other env", "webhook:\n  url: https://hooks.example\n  secret_env: WILDWATCH_S3_SECRET_KEY\n", 10, "webhook.secret_env", "starting with WILDWATCH_WEBHOOK_"},
	}
	for _, tc := range tests {
		_, err := ParseTarget("shop.yaml", []byte(head+tc.tail))
		var te *TargetError
		if !errors.As(err, &te) || te.Line != tc.line || te.Field != tc.field || !strings.Contains(te.Reason, tc.reason) {
			t.Errorf("%s: error %v, want shop.yaml:%d: %s: …%s…", tc.name, err, tc.line, tc.field, tc.reason)
		}
	}
}

func TestSetSchedule(t *testing.T) {
	t.Parallel()
	src := []byte("# The shop.\n" + scheduled[:strings.Index(scheduled, "schedule:")])
	orig, err := ParseTarget("shop.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	out, got, err := SetSchedule("shop.yaml", src, orig, &wildwatch.Schedule{Every: wildwatch.Interval(6 * time.Hour), TZ: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Schedule == nil || time.Duration(got.Schedule.Every) != 6*time.Hour || !strings.HasPrefix(string(out), "# The shop.\n") ||
		!strings.Contains(string(out), "schedule:\n  every: 6h\n  tz: UTC\n") {
		t.Errorf("SetSchedule wrote:\n%s\nparsed %+v", out, got.Schedule)
	}
	// Replacing keeps the key where it is; nil removes it.
	out2, got2, err := SetSchedule("shop.yaml", out, got, &wildwatch.Schedule{Cron: "@daily"})
	if err != nil || got2.Schedule.Cron != "@daily" || strings.Count(string(out2), "schedule:") != 1 {
		t.Errorf("replacing: %v\n%s", err, out2)
	}
	out3, got3, err := SetSchedule("shop.yaml", out2, got2, nil)
	if err != nil || got3.Schedule != nil || strings.Contains(string(out3), "schedule") || !strings.Contains(string(out3), "secret_env: WILDWATCH_WEBHOOK_SHOP") {
		t.Errorf("removing: %v\n%s", err, out3)
	}
	// A bad schedule is refused as ParseTarget refuses it.
	_, _, err = SetSchedule("shop.yaml", src, orig, &wildwatch.Schedule{Cron: "every day"})
	var te *TargetError
	if !errors.As(err, &te) || te.Field != "schedule.cron" {
		t.Errorf("bad cron: %v", err)
	}
	// A target stored without its document is written from the target.
	out4, got4, err := SetSchedule("shop.yaml", nil, orig, &wildwatch.Schedule{Every: wildwatch.Interval(time.Hour)})
	if err != nil || got4.Name != "shop" || time.Duration(got4.Schedule.Every) != time.Hour || time.Duration(got4.Revisit) != 7*24*time.Hour {
		t.Errorf("from the target: %v, %+v\n%s", err, got4, out4)
	}
}

// TestConditionalFetch: validators given with WithConditional go with the
// page request only, not with robots.txt, and a 304 comes back as a
// capture of status 304 with a non-retryable error.
func TestConditionalFetch(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string][]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.URL.Path] = append(got[r.URL.Path], r.Header.Get("If-None-Match")+"|"+r.Header.Get("If-Modified-Since"))
		mu.Unlock()
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nAllow: /\n")
		case "/old":
			http.Redirect(w, r, "/item", http.StatusFound)
		default:
			w.Header().Set("ETag", `"v1"`)
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			fmt.Fprint(w, "<h1>Chair</h1>")
		}
	}))
	t.Cleanup(srv.Close)
	f := New(Config{})
	t.Cleanup(f.Close)
	tg := wildwatch.Target{Name: "cond", AllowedHosts: []string{"127.0.0.1"},
		Politeness: wildwatch.Politeness{RequestsPerSecond: -1, AllowPrivate: true}}
	h := http.Header{"If-None-Match": {`"v1"`}, "If-Modified-Since": {"Sat, 01 Mar 2025 10:00:00 GMT"}}

	c, err := f.Fetch(WithConditional(t.Context(), h), tg, srv.URL+"/item")
	var fe *FetchError
	if c == nil || c.Status != http.StatusNotModified || len(c.Body) != 0 || !errors.As(err, &fe) || fe.Retryable {
		t.Fatalf("conditional fetch: %+v, %v", c, err)
	}
	c, err = f.Fetch(t.Context(), tg, srv.URL+"/item")
	if err != nil || c.Status != http.StatusOK {
		t.Fatalf("plain fetch: %+v, %v", c, err)
	}
	// A redirect's next hop does not get them.
	if _, err := f.Fetch(WithConditional(t.Context(), h), tg, srv.URL+"/old"); err != nil {
		t.Fatalf("conditional fetch through a redirect: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string][]string{
		"/robots.txt": {"|"},
		"/item":       {`"v1"|Sat, 01 Mar 2025 10:00:00 GMT`, "|", "|"},
		"/old":        {`"v1"|Sat, 01 Mar 2025 10:00:00 GMT`},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("headers received %v, want %v", got, want)
	}
}
