// Command chromedp is the README's chromedp recipe: under `codrive run`, it
// drives the tab people watch through codrive's proxy and hands off to a
// person with the Codrive.handoff CDP command.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	cdpproto "github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/codrive/codrive/cdp"
)

func main() {
	ctx := context.Background()
	// The existing tab, through the proxy; Detach leaves it open.
	page, err := cdp.Attach(ctx, os.Getenv("CODRIVE_CDP_URL"), cdp.AttachOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer page.Detach()

	if err := chromedp.Do(page.Context(), chromedp.Navigate("https://example.com/login")); err != nil {
		log.Fatal(err)
	}
	handoff := cdpproto.Command[map[string]any, cdpproto.Empty]{Method: "Codrive.handoff"}
	err = chromedp.Do(page.Context(), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdpproto.Call(ctx, t, handoff, map[string]any{"reason": "solve the CAPTCHA", "timeout": 600})
		return err
	}))
	if err != nil {
		log.Fatal(err)
	}
	title, err := chromedp.Run(page.Context(), chromedp.Title())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(title)
}
