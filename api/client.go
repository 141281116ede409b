package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/rules"
	"github.com/wildwatch/wildwatch/storage"
)

// Client calls a wildwatch API server.
type Client struct {
	// BaseURL is the server, "http://127.0.0.1:8080".
	BaseURL string
	// Token is the bearer token.
	Token string
	// HTTP is the client used; http.DefaultClient when nil.
	HTTP *http.Client
}

// Error is an answer other than 2xx.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("server answered %d: %s", e.Status, e.Message) }

// do sends a request and decodes a JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	resp, err := c.send(ctx, method, path, body, contentType)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decoding answer to %s %s: %w", method, path, err)
	}
	return nil
}

// send sends a request and returns a 2xx response; the caller closes it.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var eb errorBody
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(b))
		}
		return nil, &Error{Status: resp.StatusCode, Message: eb.Error}
	}
	return resp, nil
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, path, bytes.NewReader(b), "application/json", out)
}

// WhoAmI returns the token's name and role.
func (c *Client) WhoAmI(ctx context.Context) (Principal, error) {
	var p Principal
	return p, c.do(ctx, http.MethodGet, "/api/v1/whoami", nil, "", &p)
}

// ApplyTarget stores a YAML target; file names it in error messages.
func (c *Client) ApplyTarget(ctx context.Context, file string, src []byte) (wildwatch.Target, error) {
	var t wildwatch.Target
	return t, c.do(ctx, http.MethodPost, "/api/v1/targets?file="+url.QueryEscape(file), bytes.NewReader(src), "application/yaml", &t)
}

// Targets lists the stored targets.
func (c *Client) Targets(ctx context.Context) ([]wildwatch.Target, error) {
	var ts []wildwatch.Target
	return ts, c.do(ctx, http.MethodGet, "/api/v1/targets", nil, "", &ts)
}

// StartSweep starts a sweep of the named target.
func (c *Client) StartSweep(ctx context.Context, target string) (wildwatch.Sweep, error) {
	var s wildwatch.Sweep
	return s, c.postJSON(ctx, "/api/v1/sweeps", map[string]string{"target": target}, &s)
}

// Sweep returns a sweep with its progress and errors.
func (c *Client) Sweep(ctx context.Context, id string) (SweepDetail, error) {
	var s SweepDetail
	return s, c.do(ctx, http.MethodGet, "/api/v1/sweeps/"+url.PathEscape(id), nil, "", &s)
}

// Sweeps lists sweeps, newest first; target "" means all.
func (c *Client) Sweeps(ctx context.Context, target string) ([]wildwatch.Sweep, error) {
	var s []wildwatch.Sweep
	return s, c.do(ctx, http.MethodGet, "/api/v1/sweeps?target="+url.QueryEscape(target), nil, "", &s)
}

// Flags lists flags; q holds the filters (target, category, status, sweep,
// since, until, limit, offset).
func (c *Client) Flags(ctx context.Context, q url.Values) ([]wildwatch.Flag, error) {
	var fs []wildwatch.Flag
	return fs, c.do(ctx, http.MethodGet, "/api/v1/flags?"+q.Encode(), nil, "", &fs)
}

// Flag returns one flag with its listing, matches and capture.
func (c *Client) Flag(ctx context.Context, id string) (FlagDetail, error) {
	var f FlagDetail
	return f, c.do(ctx, http.MethodGet, "/api/v1/flags/"+url.PathEscape(id), nil, "", &f)
}

// Review records a decision (confirmed or dismissed) on a flag.
func (c *Client) Review(ctx context.Context, flagID, decision, note string) (wildwatch.Flag, error) {
	var f wildwatch.Flag
	return f, c.postJSON(ctx, "/api/v1/flags/"+url.PathEscape(flagID)+"/reviews", map[string]string{"decision": decision, "note": note}, &f)
}

// Capture returns a capture's record.
func (c *Client) Capture(ctx context.Context, id string) (CaptureView, error) {
	var cv CaptureView
	return cv, c.do(ctx, http.MethodGet, "/api/v1/captures/"+url.PathEscape(id), nil, "", &cv)
}

// Extraction returns what static and rendered extraction found on a
// capture's page.
func (c *Client) Extraction(ctx context.Context, captureID string) (Extraction, error) {
	var x Extraction
	return x, c.do(ctx, http.MethodGet, "/api/v1/captures/"+url.PathEscape(captureID)+"/extraction", nil, "", &x)
}

// Download copies a capture's object ("warc", "manifest", "screenshot" or
// "dom") to w, byte for byte.
func (c *Client) Download(ctx context.Context, captureID, object string, w io.Writer) error {
	resp, err := c.send(ctx, http.MethodGet, "/api/v1/captures/"+url.PathEscape(captureID)+"/"+object, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

// ApplyRules stores a YAML rule set as a new version; activate makes it the
// one workers use.
func (c *Client) ApplyRules(ctx context.Context, file string, src []byte, activate bool, note string) (ApplyResult, error) {
	var res ApplyResult
	q := url.Values{"file": {file}, "note": {note}}
	if activate {
		q.Set("activate", "true")
	}
	return res, c.do(ctx, http.MethodPost, "/api/v1/rules?"+q.Encode(), bytes.NewReader(src), "application/yaml", &res)
}

// RuleSets lists stored rule set versions, newest first.
func (c *Client) RuleSets(ctx context.Context) ([]RuleSetInfo, error) {
	var out []RuleSetInfo
	return out, c.do(ctx, http.MethodGet, "/api/v1/rules", nil, "", &out)
}

// RuleSource returns the YAML of a rule set version: "name@N", or "active".
func (c *Client) RuleSource(ctx context.Context, ref string) ([]byte, error) {
	resp, err := c.send(ctx, http.MethodGet, "/api/v1/rules/"+url.PathEscape(ref), nil, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// ActivateRules makes a stored version ("name@N") the active rule set.
func (c *Client) ActivateRules(ctx context.Context, ref string) (RuleSetInfo, error) {
	var out RuleSetInfo
	return out, c.do(ctx, http.MethodPost, "/api/v1/rules/"+url.PathEscape(ref)+"/activate", nil, "", &out)
}

// DiffRules compares two stored versions ("name@N" or "active").
func (c *Client) DiffRules(ctx context.Context, from, to string) (DiffResult, error) {
	var out DiffResult
	return out, c.do(ctx, http.MethodGet, "/api/v1/rules/diff?"+url.Values{"from": {from}, "to": {to}}.Encode(), nil, "", &out)
}

// Backtest re-scores stored listings with a candidate rule set against the
// active one.
func (c *Client) Backtest(ctx context.Context, file string, src []byte) (rules.BacktestReport, error) {
	var out rules.BacktestReport
	return out, c.do(ctx, http.MethodPost, "/api/v1/rules/backtest?file="+url.QueryEscape(file), bytes.NewReader(src), "application/yaml", &out)
}

// RuleStats returns review precision per rule and term.
func (c *Client) RuleStats(ctx context.Context, ruleSet string) ([]storage.RuleStat, error) {
	var out []storage.RuleStat
	return out, c.do(ctx, http.MethodGet, "/api/v1/rules/stats?rule_set="+url.QueryEscape(ruleSet), nil, "", &out)
}
