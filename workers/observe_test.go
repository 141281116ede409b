package workers_test

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/workers"
)

// events records what a worker tells its Observer.
type events struct {
	mu     sync.Mutex
	pages  map[string]int // "target mode status"
	flags  map[string]int // "target category"
	errors []string
}

func (e *events) PageFetched(target, mode string, c *wildwatch.Capture, err error, d time.Duration) {
	status := "none"
	if c != nil {
		status = strconv.Itoa(c.Status)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pages[target+" "+mode+" "+status]++
}

func (e *events) FlagRaised(target, category string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flags[target+" "+category]++
}

func (e *events) SweepError(kind string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errors = append(e.errors, kind)
}

// TestObserver sweeps the tiny site with an Observer and checks it heard
// every page, the flag and the error the sweep records.
func TestObserver(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/item/9"
	ln.Close()
	s := newSite(t, dead)
	host, _, _ := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))

	ev := &events{pages: map[string]int{}, flags: map[string]int{}}
	b := newStackWith(t, 4, func(c *workers.Config) { c.Observer = ev })
	sw := b.sweep(t, wildwatch.Target{
		Name:         "tiny",
		AllowedHosts: []string{host},
		StartURLs:    []string{s.URL + "/search"},
		Selectors:    wildwatch.Selectors{ListingLinks: "a.l", Fields: wildwatch.FieldSelectors{Title: "h1.t", Description: "p.d"}},
		Politeness:   wildwatch.Politeness{RequestsPerSecond: -1, AllowPrivate: true},
	})

	ev.mu.Lock()
	defer ev.mu.Unlock()
	// The search page and three listings answer; the dead host never
	// does, on the first try nor on the retry.
	if n := ev.pages["tiny static 200"]; n != 4 {
		t.Errorf("%d pages answered 200, want 4: %v", n, ev.pages)
	}
	if n := ev.pages["tiny static none"]; n != 2 {
		t.Errorf("%d fetches without an answer, want 2 (a try and a retry): %v", n, ev.pages)
	}
	if len(ev.flags) != 1 || sw.Counts.Flags != 1 {
		t.Errorf("flags heard %v; the sweep counts %d", ev.flags, sw.Counts.Flags)
	}
	for k := range ev.flags {
		if !strings.HasPrefix(k, "tiny ") || k == "tiny " {
			t.Errorf("flag heard as %q, want the target and a category", k)
		}
	}
	if len(ev.errors) != 1 || ev.errors[0] != wildwatch.ErrKindNetwork {
		t.Errorf("errors heard %v, want one network error", ev.errors)
	}
}
