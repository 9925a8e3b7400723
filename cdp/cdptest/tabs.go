package cdptest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// NewTab opens a tab on url through the debugging port's HTTP API, as a
// person opening a tab would, and returns its target id. Tests that share
// one Chromium each work in a tab of their own this way. It is a test
// helper: codrive itself never opens tabs.
func (c *Chromium) NewTab(ctx context.Context, pageURL string) (string, error) {
	if pageURL == "" {
		pageURL = "about:blank"
	}
	// Current Chromium refuses GET on /json/new; it must be PUT.
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.URL+"/json/new?"+url.QueryEscape(pageURL), nil)
	if err != nil {
		return "", fmt.Errorf("new tab: %w", err)
	}
	var t struct {
		ID string `json:"id"`
	}
	if err := doJSON(req, &t); err != nil {
		return "", fmt.Errorf("new tab %q: %w", pageURL, err)
	}
	if t.ID == "" {
		return "", fmt.Errorf("new tab %q: no id in the answer", pageURL)
	}
	return t.ID, nil
}

// NewTabT is NewTab for a test: it fails the test on error and closes the
// tab on cleanup (if the test did not close it already).
func (c *Chromium) NewTabT(tb testing.TB, pageURL string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := c.NewTab(ctx, pageURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.CloseTab(ctx, id)
	})
	return id
}

// CloseTab closes a tab by target id, as a person closing it would.
func (c *Chromium) CloseTab(ctx context.Context, id string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+"/json/close/"+url.PathEscape(id), nil)
	if err != nil {
		return fmt.Errorf("close tab: %w", err)
	}
	resp, err := noKeepAlive().Do(req)
	if err != nil {
		return fmt.Errorf("close tab %s: %w", id, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("close tab %s: %s: %s", id, resp.Status, body)
	}
	return nil
}

// PageIDs lists the ids of the page targets (tabs) that are open now.
func (c *Chromium) PageIDs(ctx context.Context) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+"/json/list", nil)
	if err != nil {
		return nil, fmt.Errorf("list tabs: %w", err)
	}
	var ts []struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	if err := doJSON(req, &ts); err != nil {
		return nil, fmt.Errorf("list tabs: %w", err)
	}
	var ids []string
	for _, t := range ts {
		if t.Type == "page" {
			ids = append(ids, t.ID)
		}
	}
	return ids, nil
}

// noKeepAlive is a client whose connections end with each request, so
// helpers leave no idle-connection goroutines behind for leak checks.
func noKeepAlive() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func doJSON(req *http.Request, out any) error {
	resp, err := noKeepAlive().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, body)
	}
	return json.Unmarshal(body, out)
}
