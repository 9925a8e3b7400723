package smoke

import (
	"context"
	"errors"
	"fmt"
	"slices"

	cdpproto "github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/internal/sanitize"
)

// ownTab is a tab smoke opens for itself, in the background: navigating
// the page people watch would show them smoke's test page (and leave it
// there). In neko's headful Chromium a background tab does not take the
// window over.
type ownTab struct {
	id     target.ID
	ctx    context.Context // chromedp, bound to the tab
	cancel context.CancelFunc
	page   *cdp.Page // the watched page, whose browser connection it shares
}

// openTab opens about:blank in a background tab of the browser page
// belongs to, and attaches to it.
func openTab(ctx context.Context, page *cdp.Page) (*ownTab, error) {
	var id target.ID
	actx, cancel := context.WithCancel(page.Context())
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	yes := true
	err := chromedp.Do(actx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		// Hidden: not in the tab strip either, where Chromium knows it.
		res, err := cdpproto.Call(ctx, chromedp.FromContext(ctx).Browser, target.CreateTarget,
			target.CreateTargetParams{URL: "about:blank", Background: &yes, Hidden: &yes})
		id = res.TargetID
		return err
	}))
	if err != nil {
		return nil, fmt.Errorf("open a tab of its own: %w", err)
	}
	// A child of the page's context, not of ctx: the tab must outlive the
	// check that opened it, until cleanup closes it.
	tctx, tcancel := chromedp.NewContext(page.Context(), chromedp.WithTargetID(id))
	t := &ownTab{id: id, ctx: tctx, cancel: tcancel, page: page}
	if err := chromedp.Do(tctx); err != nil {
		_ = t.close(ctx)
		return nil, fmt.Errorf("attach to its own tab %s: %w", id, err)
	}
	return t, nil
}

// close closes the tab and lets go of it.
func (t *ownTab) close(ctx context.Context) error {
	actx, cancel := context.WithCancel(t.page.Context())
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	err := chromedp.Do(actx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := cdpproto.Call(ctx, chromedp.FromContext(ctx).Browser, target.CloseTarget, target.CloseTargetParams{TargetID: t.id})
		return err
	}))
	t.cancel()
	if err != nil {
		return fmt.Errorf("close its own tab %s: %w", t.id, err)
	}
	return nil
}

// checkPage: the watched page is where it was, and smoke's tab is gone.
func (r *run) checkPage(ctx context.Context) error {
	targets, err := cdp.ListTargets(ctx, r.o.CDPURL)
	if err != nil {
		return err
	}
	var errs []error
	if r.tab != nil && slices.ContainsFunc(targets, func(t cdp.Target) bool { return t.ID == string(r.tab.id) }) {
		errs = append(errs, fmt.Errorf("its own tab %s is still open", r.tab.id))
	}
	i := slices.IndexFunc(targets, func(t cdp.Target) bool { return t.ID == r.page.TargetID() })
	switch {
	case i < 0:
		errs = append(errs, fmt.Errorf("the watched page %s is gone", r.page.TargetID()))
	case targets[i].URL != r.pageURL:
		errs = append(errs, fmt.Errorf("the watched page moved from %s to %s", sanitize.URL(r.pageURL), sanitize.URL(targets[i].URL)))
	}
	return errors.Join(errs...)
}
