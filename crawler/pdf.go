package crawler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/fetch"
	cdpio "github.com/chromedp/cdproto/io"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Paper of PrintPDF: A4 with 1.5 cm margins, in inches.
const (
	pdfPaperWidth  = 8.27
	pdfPaperHeight = 11.69
	pdfMargin      = 0.59
)

// pdfFooter numbers the pages of a printed document.
const pdfFooter = `<div style="font-family:sans-serif;font-size:8px;width:100%;text-align:center;color:#555">` +
	`<span class="pageNumber"></span> / <span class="totalPages"></span></div>`

// pdfImagesLoaded waits until every image of the document has loaded or
// failed.
const pdfImagesLoaded = `Promise.all(Array.from(document.images, i => i.complete ? 0 :
	new Promise(r => { i.addEventListener("load", r); i.addEventListener("error", r); })))
	.then(() => document.readyState)`

// PrintPDF prints an HTML document (UTF-8) to PDF on A4 paper, with
// backgrounds and page numbers, in one of the browser's tabs. The document
// is set as the content of a blank tab, so it must carry everything it
// shows (images as data: URLs, styles inline): every network request it
// makes is refused. It waits for a free tab like Render, and is bounded by
// the browser's PageTimeout. It has the signature of storage.PDFFunc.
func (b *Browser) PrintPDF(ctx context.Context, html []byte) ([]byte, error) {
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("printing PDF: waiting for a browser tab: %w", context.Cause(ctx))
	}
	defer func() { <-b.slots }()
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PageTimeout)
	defer cancel()

	for attempt := 1; ; attempt++ {
		pdf, err := b.printOnce(ctx, html)
		var tf *tabFailure
		if !errors.As(err, &tf) || attempt == 2 || ctx.Err() != nil {
			if err != nil {
				return nil, fmt.Errorf("printing PDF: %w", err)
			}
			return pdf, nil
		}
		b.log.WarnContext(ctx, "printing PDF failed in the tab; trying a fresh tab", "reason", tf.reason, "err", tf.err)
	}
}

// printOnce prints on one leased tab and gives the tab back.
func (b *Browser) printOnce(ctx context.Context, html []byte) ([]byte, error) {
	tb, err := b.lease(ctx, guardedProxy)
	if err != nil {
		return nil, err
	}
	pdf, err := b.printOnTab(ctx, tb, html)
	r := &pageRender{b: b, tab: tb, hang: b.cfg.HangTimeout}
	healthy := err == nil && r.reset(ctx) == nil
	hung := errors.Is(err, errNoAnswer)
	if hung {
		b.checkBrowser(ctx, tb.c)
	}
	b.release(tb, healthy, hung)
	if err != nil && (tb.c.dead() || hung) {
		return nil, &tabFailure{reason: reasonHung, err: err}
	}
	return pdf, err
}

func (b *Browser) printOnTab(ctx context.Context, tb *tab, html []byte) ([]byte, error) {
	// Requests refused in goroutines are waited for after the attempt's
	// context ends, which ends their calls too.
	var wg sync.WaitGroup
	defer wg.Wait()
	actx, cancel := context.WithCancel(tb.ctx)
	defer cancel()
	if dl, ok := ctx.Deadline(); ok {
		var cancelDl context.CancelFunc
		actx, cancelDl = context.WithDeadlineCause(actx, dl, errNoAnswer)
		defer cancelDl()
	}
	stop := context.AfterFunc(ctx, cancel)
	defer stop()

	// The tab intercepts every request (see newTab): refuse those the
	// document makes, so that a reference to the network can neither
	// leave the machine nor stall the print.
	if err := chromedp.Listen(actx, func(ev any) {
		if ev, ok := ev.(*fetch.EventRequestPaused); ok {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if strings.HasPrefix(ev.Request.URL, "data:") {
					_, _ = chromedp.Call(actx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
					return
				}
				_, _ = chromedp.Call(actx, fetch.FailRequest, fetch.FailRequestParams{
					RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient,
				})
			}()
		}
	}); err != nil {
		return nil, &tabFailure{reason: reasonGone, err: err}
	}

	if _, err := chromedp.Call(actx, cdppage.SetDocumentContent, cdppage.SetDocumentContentParams{
		FrameID: tb.frame, HTML: string(html),
	}); err != nil {
		return nil, pdfError("setting the document", err, actx)
	}
	if _, err := chromedp.Run(actx, chromedp.Evaluate[string](pdfImagesLoaded, chromedp.EvalAwaitPromise)); err != nil {
		return nil, pdfError("waiting for images", err, actx)
	}
	yes, no := true, false
	margin := pdfMargin
	res, err := chromedp.Call(actx, cdppage.PrintToPDF, cdppage.PrintToPDFParams{
		PaperWidth:              pdfPaperWidth,
		PaperHeight:             pdfPaperHeight,
		MarginTop:               &margin,
		MarginBottom:            &margin,
		MarginLeft:              &margin,
		MarginRight:             &margin,
		PrintBackground:         &yes,
		DisplayHeaderFooter:     &yes,
		HeaderTemplate:          "<span></span>",
		FooterTemplate:          pdfFooter,
		PreferCSSPageSize:       &no,
		GenerateTaggedPDF:       &yes,
		GenerateDocumentOutline: &yes,
		TransferMode:            cdppage.PrintToPDFTransferModeReturnAsStream,
	})
	if err != nil {
		return nil, pdfError("printing", err, actx)
	}
	if res.Stream == "" {
		return res.Data, nil
	}
	pdf, err := readStream(actx, res.Stream)
	if err != nil {
		return nil, pdfError("reading the PDF", err, actx)
	}
	return pdf, nil
}

// pdfError names the step that failed; a tab that did not answer in time
// wraps errNoAnswer.
func pdfError(step string, err error, actx context.Context) error {
	if errors.Is(context.Cause(actx), errNoAnswer) {
		return fmt.Errorf("%s: %w", step, errNoAnswer)
	}
	return fmt.Errorf("%s: %w", step, err)
}

// readStream reads a DevTools stream to its end and closes it. A PDF is
// read as a stream so that its size is not bounded by one protocol
// message.
func readStream(ctx context.Context, h cdpio.StreamHandle) ([]byte, error) {
	defer func() { _, _ = chromedp.Call(ctx, cdpio.Close, cdpio.CloseParams{Handle: h}) }()
	var out bytes.Buffer
	for {
		res, err := chromedp.Call(ctx, cdpio.Read, cdpio.ReadParams{Handle: h, Size: 1 << 20})
		if err != nil {
			return nil, err
		}
		out.Write(res.Data) // decoded from base64 when the browser sent it so
		if res.EOF {
			return out.Bytes(), nil
		}
	}
}
