package codrive_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/playwright-community/playwright-go"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// These examples run for real: exampleRoom stands in for a neko container
// (the neko-compatible test server) and its Chromium (a local headless
// one). In production, NekoURL and CDPURL point at the container.

const examplePage = `data:text/html,<title>co-driving</title><button onclick="document.title='clicked'">go</button>`

func exampleRoom() (nekoURL, cdpURL string, stop func()) {
	srv := nekotest.NewServer(nekotest.Options{AdminPassword: "admin", UserPassword: "neko"})
	b, err := cdp.Launch(context.Background(), cdp.LaunchOptions{})
	if err != nil {
		srv.Close()
		log.Fatal(err)
	}
	return srv.URL, b.URL, func() { b.Close(); srv.Close() }
}

// alice is a person watching the room in neko.
func alice(ctx context.Context, nekoURL string) *neko.Client {
	c, err := neko.NewClient(nekoURL, neko.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Login(ctx, "alice", "neko"); err != nil {
		log.Fatal(err)
	}
	return c
}

func waitFor(ctx context.Context, s *codrive.Session, st codrive.State) {
	if _, err := s.WaitState(ctx, func(x codrive.Status) bool { return x.State == st }); err != nil {
		log.Fatal(err)
	}
}

// A chromedp script through codrive: a person takes control midway, the
// script's click waits for them, and lands once they release.
func ExampleSession_Chromedp() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nekoURL, cdpURL, stop := exampleRoom()
	defer stop()

	s, err := codrive.Attach(ctx, codrive.Options{
		Config: codrive.Config{NekoURL: nekoURL, User: "bot", Password: "admin", ReclaimAfter: 100 * time.Millisecond},
		CDPURL: cdpURL,
		Listen: "127.0.0.1:0", // the proxy scripts connect to
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)

	page, err := s.Chromedp(ctx) // the existing tab, through the proxy
	if err != nil {
		log.Fatal(err)
	}
	defer page.Detach()
	// Acting takes control first.
	if err := chromedp.Do(page.Context(), chromedp.Navigate(examplePage)); err != nil {
		log.Fatal(err)
	}
	fmt.Println("drives:", s.Status().State)

	person := alice(ctx, nekoURL)
	if _, err := person.RequestControl(ctx); err != nil { // codrive yields (policy yield)
		log.Fatal(err)
	}
	waitFor(ctx, s, codrive.StateHuman)
	fmt.Println("drives:", s.Status().State, s.Status().HostName)

	clicked := make(chan error, 1)
	go func() { clicked <- chromedp.Do(page.Context(), chromedp.Click(chromedp.CSS("button"))) }()
	// The click is held, not failed, while alice drives. She releases:
	if err := person.ReleaseControl(ctx); err != nil {
		log.Fatal(err)
	}
	if err := <-clicked; err != nil {
		log.Fatal(err)
	}
	title, err := chromedp.Run(page.Context(), chromedp.Title())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("title:", title)
	// Output:
	// drives: automation
	// drives: human alice
	// title: clicked
}

// A Playwright script through codrive that asks a person for help (a
// CAPTCHA, a login) with the Codrive CDP domain, and carries on when they
// are done.
func ExampleSession_Playwright() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nekoURL, cdpURL, stop := exampleRoom()
	defer stop()

	s, err := codrive.Attach(ctx, codrive.Options{
		Config: codrive.Config{NekoURL: nekoURL, User: "bot", Password: "admin"},
		CDPURL: cdpURL,
		Listen: "127.0.0.1:0",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)

	dir, err := cdptest.DriverDir() // the driver `make driver` installed
	if err != nil {
		log.Fatal(err)
	}
	pw, err := playwright.Run(&playwright.RunOptions{DriverDirectory: dir, SkipInstallBrowsers: true})
	if err != nil {
		log.Fatal(err)
	}
	defer pw.Stop()
	browser, err := s.Playwright(pw) // = pw.Chromium.ConnectOverCDP(s.ProxyURL())
	if err != nil {
		log.Fatal(err)
	}
	defer browser.Close() // disconnects; the tab stays
	page := browser.Contexts()[0].Pages()[0]
	if _, err := page.Goto(examplePage); err != nil {
		log.Fatal(err)
	}

	// The person: told by codrive's broadcast, takes control, solves it,
	// releases.
	person := alice(ctx, nekoURL)
	go func() {
		waitFor(ctx, s, codrive.StateFree) // codrive released for the handoff
		if _, err := person.RequestControl(ctx); err != nil {
			log.Fatal(err)
		}
		waitFor(ctx, s, codrive.StateHuman)
		if err := person.ReleaseControl(ctx); err != nil {
			log.Fatal(err)
		}
	}()

	cdpSession, err := page.Context().NewCDPSession(page)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := cdpSession.Send("Codrive.handoff", map[string]any{"reason": "please solve the CAPTCHA", "timeout": 30}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("the person is done")
	if err := page.Locator("button").Click(); err != nil {
		log.Fatal(err)
	}
	title, err := page.Title()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("title:", title)
	// Output:
	// the person is done
	// title: clicked
}
