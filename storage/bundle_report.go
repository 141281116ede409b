package storage

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/wildwatch/wildwatch"
)

// reportData is what the bundle's report shows.
type reportData struct {
	Title       string
	Description string
	Created     time.Time
	Software    string
	KeyID       string
	PublicKey   string
	Items       []reportItem
	// Earlier are captures that no item is of but whose responses the
	// items' revisit records stand for.
	Earlier []reportItem
	// Printable is set for the document printed to PDF: screenshots are
	// inlined and files are named as they lie in the bundle.
	Printable bool
}

// reportItem is one capture in the report.
type reportItem struct {
	N         int
	CaptureID string
	SweepID   string
	Target    string
	Platform  string
	URL       string
	FinalURL  string
	Title     string
	Seller    string
	Price     string
	Location  string
	Fetched   string
	Started   string
	Status    int
	RemoteIP  string
	Mode      string
	UserAgent string
	RuleSet   string
	Score     float64
	Category  string
	Flagged   bool
	Matches   []wildwatch.Match
	Decision  string
	FlagID    string
	Reviews   []wildwatch.Review
	Files     []reportFile
	// RevisitOf names the earlier captures whose responses this capture's
	// revisit records stand for.
	RevisitOf  []string
	Screenshot string
	// ScreenshotData is the screenshot as a data: URL, for the printed
	// report; ScreenshotNote says why it is not there.
	ScreenshotData template.URL
	ScreenshotNote string

	fetched time.Time
	shot    *ManifestObject
}

// reportFile is one of a capture's files in the bundle.
type reportFile struct {
	Path   string
	Role   string
	SHA256 string
	Bytes  int64
}

// reportTime is how the report writes times.
const reportTime = "2006-01-02 15:04:05 UTC"

func newReportItem(it BundleItem, m *Manifest) reportItem {
	rec := it.Capture
	l := rec.Listing
	fetched := m.FetchedAt
	if fetched.IsZero() {
		fetched = m.StartedAt
	}
	ri := reportItem{
		CaptureID: m.CaptureID, SweepID: m.SweepID, Target: m.Target,
		Platform: cmp.Or(l.Platform, m.Target),
		URL:      m.URL, FinalURL: cmp.Or(m.FinalURL, m.URL),
		Title: l.Title, Seller: l.Seller, Location: l.Location,
		Price:   strings.TrimSpace(l.Price + " " + l.Currency),
		Fetched: fetched.UTC().Format(reportTime), Started: m.StartedAt.UTC().Format(reportTime),
		Status: m.Status, RemoteIP: m.RemoteIP, Mode: m.Mode, UserAgent: m.UserAgent,
		RuleSet: cmp.Or(rec.Verdict.RuleSet, m.RuleSet), Score: rec.Verdict.Score, Category: rec.Verdict.Category,
		Flagged: rec.Verdict.Flagged, Matches: rec.Verdict.Matches,
		Decision: "not flagged",
		fetched:  fetched.UTC(),
	}
	if f := it.Flag; f != nil {
		ri.FlagID, ri.Reviews = f.ID, f.Reviews
		ri.Decision = f.Status
		if f.Status == wildwatch.FlagNew {
			ri.Decision = "flagged, not reviewed"
		}
	}
	return ri
}

// maxInlineScreenshots bounds the screenshot bytes the printed report
// inlines; the rest are named by their file in the bundle.
const maxInlineScreenshots = 32 << 20

// inlineScreenshots reads the screenshots again for the printed report,
// which cannot refer to other files, up to maxInlineScreenshots.
func (r *reportData) inlineScreenshots(ctx context.Context, store wildwatch.EvidenceStore) error {
	var total int64
	for i := range r.Items {
		ri := &r.Items[i]
		if ri.shot == nil {
			continue
		}
		name := BundleScreenshotPath(ri.CaptureID)
		if total+ri.shot.Size > maxInlineScreenshots {
			ri.ScreenshotNote = "Screenshot not printed here (the printed report's size limit): see " + name + " in the bundle."
			continue
		}
		data, err := readBounded(ctx, store, ri.shot.Key, ri.shot.Size)
		if err != nil {
			return fmt.Errorf("capture %s: %w", ri.CaptureID, err)
		}
		if sum := sha256.Sum256(data); !strings.EqualFold(hex.EncodeToString(sum[:]), ri.shot.SHA256) {
			return fmt.Errorf("capture %s: %s changed while the bundle was written: %w", ri.CaptureID, ri.shot.Key, ErrEvidenceChanged)
		}
		total += int64(len(data))
		ri.ScreenshotData = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(data))
	}
	return nil
}

// render returns the report as an HTML document; printable for the PDF.
func (r reportData) render(printable bool) ([]byte, error) {
	r.Printable = printable
	var b bytes.Buffer
	if err := reportTemplate.Execute(&b, r); err != nil {
		return nil, fmt.Errorf("rendering the report: %w", err)
	}
	return b.Bytes(), nil
}

//go:embed bundle_report.html
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"time":  func(t time.Time) string { return t.UTC().Format(reportTime) },
	"score": func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"short": func(s string) string { return s[:min(16, len(s))] },
}).Parse(reportHTML))
