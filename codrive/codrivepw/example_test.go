package codrivepw_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/codrive/codrivepw"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// The example runs for real in `make test`: a neko-compatible test server
// and a local headless Chromium stand in for a neko container.

const examplePage = `data:text/html,<title>co-driving</title><button onclick="document.title='clicked'">go</button>`

// A Playwright script through codrive that asks a person for help (a
// CAPTCHA, a login) with the Codrive CDP domain, and carries on when they
// are done.
func ExampleConnect() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := nekotest.NewServer(nekotest.Options{AdminPassword: "admin", UserPassword: "neko"})
	defer srv.Close()
	chromium, err := cdp.Launch(ctx, cdp.LaunchOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer chromium.Close()

	s, err := codrive.Attach(ctx, codrive.Options{
		NekoURL: srv.URL, User: "bot", Password: "admin",
		CDPURL: chromium.URL,
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
	browser, err := codrivepw.Connect(s, pw)
	if err != nil {
		log.Fatal(err)
	}
	defer browser.Close() // disconnects; the tab stays
	page := browser.Contexts()[0].Pages()[0]
	if _, err := page.Goto(examplePage); err != nil {
		log.Fatal(err)
	}

	// The person, watching in neko's viewer: takes control when asked,
	// solves it, releases.
	person, err := neko.NewClient(srv.URL, neko.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := person.Login(ctx, "alice", "neko"); err != nil {
		log.Fatal(err)
	}
	viewer, err := person.Connect(ctx, neko.ConnOptions{NoReconnect: true})
	if err != nil {
		log.Fatal(err)
	}
	defer viewer.Close()
	helped := make(chan struct{})
	go func() {
		defer close(helped)
		asked := func(st codrive.Status) bool { return st.Gate == codrive.GateHandoff && st.State == codrive.StateFree }
		if _, err := s.WaitState(ctx, asked); err != nil {
			log.Fatal(err)
		}
		if _, err := person.RequestControl(ctx); err != nil {
			log.Fatal(err)
		}
		if _, err := s.WaitState(ctx, func(st codrive.Status) bool { return st.State == codrive.StateHuman }); err != nil {
			log.Fatal(err)
		}
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
	<-helped
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
