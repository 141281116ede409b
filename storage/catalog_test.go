package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/internal/pgtest"
)

func TestCatalogSQLite(t *testing.T) {
	t.Parallel()
	runCatalogSuite(t, func(t *testing.T) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "data", "wildwatch.db")
	})
}

func TestCatalogPostgres(t *testing.T) {
	t.Parallel()
	runCatalogSuite(t, func(t *testing.T) string { return pgtest.New(t) })
}

// catalogSuite is what each conformance test gets: a way to make a fresh,
// empty database.
type catalogSuite struct {
	// newDSN returns the DSN of a fresh database, removed after t.
	newDSN func(t *testing.T) string
}

// open returns a migrated catalog on a fresh database.
func (s catalogSuite) open(t *testing.T) *Catalog {
	t.Helper()
	return openCatalogT(t, s.newDSN(t))
}

// openCatalogT opens dsn (several times if called again: separate handles,
// as separate processes would have) and closes it after t.
func openCatalogT(t *testing.T, dsn string) *Catalog {
	t.Helper()
	c, err := OpenCatalog(t.Context(), CatalogConfig{DSN: dsn, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatalf("OpenCatalog(%s): %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("closing catalog: %v", err)
		}
	})
	return c
}

// runCatalogSuite holds SQLite and PostgreSQL to one behaviour.
func runCatalogSuite(t *testing.T, newDSN func(t *testing.T) string) {
	s := catalogSuite{newDSN: newDSN}
	tests := []struct {
		name string
		fn   func(t *testing.T, s catalogSuite)
	}{
		{"Migrations", testCatalogMigrations},
		{"UpgradeCaptures", testCatalogUpgradeCaptures},
		{"Targets", testCatalogTargets},
		{"Sweeps", testCatalogSweeps},
		{"SweepStatus", testCatalogSweepStatus},
		{"Tasks", testCatalogTasks},
		{"Counts", testCatalogCounts},
		{"FinishRace", testCatalogFinishRace},
		{"FinishOutcome", testCatalogFinishOutcome},
		{"LookupListing", testCatalogLookupListing},
		{"PutCaptureFinish", testCatalogPutCaptureFinish},
		{"AddTasks", testCatalogAddTasks},
		{"ConcurrentWriters", testCatalogConcurrentWriters},
		{"SweepErrors", testCatalogSweepErrors},
		{"Captures", testCatalogCaptures},
		{"Flags", testCatalogFlags},
		{"ListFlags", testCatalogListFlags},
		{"Reviews", testCatalogReviews},
		{"Tokens", testCatalogTokens},
		{"CaptureListings", testCatalogCaptureListings},
		{"RuleSets", testCatalogRuleSets},
		{"RuleSetRaces", testCatalogRuleSetRaces},
		{"RuleStats", testCatalogRuleStats},
		{"UpgradeRuleSets", testCatalogUpgradeRuleSets},
		{"Users", testCatalogUsers},
		{"Cases", testCatalogCases},
		{"Investigate", testCatalogInvestigate},
		{"ReviewQueue", testCatalogReviewQueue},
		{"LangIndex", testCatalogLangIndex},
		{"Monitor", testCatalogMonitor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, s)
		})
	}
}

func testCatalogMigrations(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	want, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("no migrations embedded")
	}

	// Two processes opening a fresh database at once.
	dsn := s.newDSN(t)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	cats := make([]*Catalog, 2)
	for i := range cats {
		wg.Go(func() {
			cats[i], errs[i] = OpenCatalog(ctx, CatalogConfig{DSN: dsn})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent open %d: %v", i, err)
		}
		defer cats[i].Close()
	}
	c := cats[0]
	wantDialect := DialectSQLite
	if isPostgresDSN(dsn) {
		wantDialect = DialectPostgres
	}
	if c.Dialect() != wantDialect {
		t.Errorf("Dialect() = %q, want %q", c.Dialect(), wantDialect)
	}

	type applied struct {
		Version   int
		Name      string
		AppliedAt int64
	}
	readApplied := func(c *Catalog) []applied {
		rows, err := c.db.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var as []applied
		for rows.Next() {
			var a applied
			if err := rows.Scan(&a.Version, &a.Name, &a.AppliedAt); err != nil {
				t.Fatal(err)
			}
			as = append(as, a)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return as
	}
	before := readApplied(c)
	if len(before) != len(want) {
		t.Fatalf("schema_migrations has %d rows after concurrent opens, want %d", len(before), len(want))
	}
	for i, m := range want {
		if before[i].Version != m.version || before[i].Name != m.name {
			t.Errorf("schema_migrations row %d = %d %s, want %d %s", i, before[i].Version, before[i].Name, m.version, m.name)
		}
	}
	if err := c.PutTarget(ctx, catTarget("kept"), []byte("name: kept\n")); err != nil {
		t.Fatal(err)
	}

	// Opening again applies nothing and keeps the data.
	again := openCatalogT(t, dsn)
	catSame(t, "schema_migrations after reopening", readApplied(again), before)
	if _, _, err := again.GetTarget(ctx, "kept"); err != nil {
		t.Errorf("target lost on reopening: %v", err)
	}
	if err := again.migrate(ctx); err != nil {
		t.Errorf("migrating again: %v", err)
	}
	catSame(t, "schema_migrations after migrating again", readApplied(again), before)
}

// testCatalogUpgradeCaptures opens a catalog of schema version 1 holding a
// capture: migrating it keeps the capture, which reads back without a
// screenshot, DOM or static listing, and new captures carry them.
func testCatalogUpgradeCaptures(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	dsn := s.newDSN(t)
	old, err := openCatalogDB(ctx, CatalogConfig{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.migrateTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	catSweep(t, old, "s1", "market", 0)
	before := catCapture("s1", "c-old", catTime)
	meta, err := json.Marshal(before.Capture)
	if err != nil {
		t.Fatal(err)
	}
	listing, _ := json.Marshal(before.Listing)
	verdict, _ := json.Marshal(before.Verdict)
	// The version 1 INSERT, as PutCapture ran it before migration 2.
	if _, err := old.db.ExecContext(ctx, `INSERT INTO captures
		(id, sweep_id, target, url, fetched_at, meta, listing, verdict, manifest_key, warc_key, warc_sha256, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		"c-old", "s1", "market", before.Capture.URL, unixMicros(catTime), string(meta), string(listing), string(verdict),
		before.ManifestKey, before.WARCKey, before.WARCSHA256, unixMicros(catTime)); err != nil {
		t.Fatal(err)
	}

	c := openCatalogT(t, dsn)
	got, err := c.GetCapture(ctx, "c-old")
	if err != nil {
		t.Fatal(err)
	}
	before.Capture.Body, before.Capture.Text = nil, ""
	catSame(t, "capture stored before migration 2", got, before)
	if got.StaticListing != nil || got.ScreenshotKey != "" || got.DOMKey != "" {
		t.Errorf("capture stored before migration 2 = %+v", got)
	}
	rendered := catRenderedCapture("s1", "c-new", catTime.Add(time.Second))
	if added, err := c.PutCapture(ctx, rendered); err != nil || !added {
		t.Fatalf("PutCapture after migrating = %v, %v", added, err)
	}
	recs, err := c.ListCaptures(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "ListCaptures after migrating", recs, []CaptureRecord{before, rendered})
}

func TestCatalogConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  CatalogConfig
	}{
		{"empty dsn", CatalogConfig{}},
		{"bare sqlite prefix", CatalogConfig{DSN: "sqlite:"}},
		{"negative conns", CatalogConfig{DSN: "x.db", MaxOpenConns: -1}},
		{"negative busy timeout", CatalogConfig{DSN: "x.db", BusyTimeout: -time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := OpenCatalog(t.Context(), tc.cfg)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("OpenCatalog(%+v) = %v, want ErrInvalid", tc.cfg, err)
			}
		})
	}
}

func TestCatalogDSNDialect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dsn  string
		want bool
	}{
		{"postgres://u@h/db", true},
		{"postgresql://u@h/db?sslmode=disable", true},
		{"sqlite:./data/wildwatch.db", false},
		{"./data/wildwatch.db", false},
		{"file:/tmp/x.db?mode=rwc", false},
		{"postgres.db", false},
	}
	for _, tc := range tests {
		if got := isPostgresDSN(tc.dsn); got != tc.want {
			t.Errorf("isPostgresDSN(%q) = %v, want %v", tc.dsn, got, tc.want)
		}
	}
}

// Fixtures.

// catTime is a fixed instant at the precision the catalog keeps.
var catTime = time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC)

func catTarget(name string) wildwatch.Target {
	no := false
	return wildwatch.Target{
		Name:         name,
		Platform:     "Example Market",
		AllowedHosts: []string{"market.example"},
		StartURLs:    []string{"https://market.example/c/antiques"},
		Search:       &wildwatch.Search{URLTemplate: "https://market.example/s?q={query}", Queries: []string{"ivory", "象牙"}},
		Selectors: wildwatch.Selectors{
			ListingLinks: "a.item",
			NextPage:     "a.next",
			Fields:       wildwatch.FieldSelectors{Title: "h1", Price: ".price", Images: "img.photo"},
		},
		Limits:     wildwatch.Limits{MaxPages: 3, Timeout: wildwatch.Duration(5 * time.Second)},
		Politeness: wildwatch.Politeness{RequestsPerSecond: 0.5, ObeyRobots: &no},
	}
}

// catSweep creates sweep id of target name, created at catTime+offset.
func catSweep(t *testing.T, c *Catalog, id, target string, offset time.Duration) wildwatch.Sweep {
	t.Helper()
	s := wildwatch.Sweep{ID: id, Target: target, CreatedAt: catTime.Add(offset)}
	if err := c.CreateSweep(t.Context(), s, catTarget(target)); err != nil {
		t.Fatalf("CreateSweep(%s): %v", id, err)
	}
	return s
}

func catAddTask(t *testing.T, c *Catalog, task SweepTask) {
	t.Helper()
	added, err := c.AddTask(t.Context(), task)
	if err != nil || !added {
		t.Fatalf("AddTask(%+v) = %v, %v; want true, nil", task, added, err)
	}
}

func catFinish(t *testing.T, c *Catalog, sweepID, key string, failed bool) bool {
	t.Helper()
	done, err := c.FinishTask(t.Context(), sweepID, key, failed)
	if err != nil {
		t.Fatalf("FinishTask(%s, %s): %v", sweepID, key, err)
	}
	return done
}

// catSame compares got and want by their JSON form, which is what
// callers of the catalog see.
func catSame(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("%s:\ngot  %s\nwant %s", what, g, w)
	}
}

// catErr checks that err wraps want.
func catErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func catTaskKey(kind string, i int) string { return fmt.Sprintf("%s:%d", kind, i) }
