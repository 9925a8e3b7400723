package codrive_test

import (
	"cmp"
	"context"
	"fmt"
	"log"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// These examples run for real in `make test`: exampleRoom stands in for a
// neko container (the neko-compatible test server) and its Chromium (a
// local headless one). In production, NekoURL and CDPURL point at the
// container.

const examplePage = `data:text/html,<title>co-driving</title><button onclick="document.title='clicked'">go</button>`

func exampleRoom() (nekoURL, cdpURL string, stop func()) {
	srv := nekotest.NewServer(nekotest.Options{AdminPassword: "admin", UserPassword: "neko"})
	b, err := cdp.Launch(context.Background(), cdp.LaunchOptions{URL: examplePage})
	if err != nil {
		srv.Close()
		log.Fatal(err)
	}
	return srv.URL, b.URL, func() { b.Close(); srv.Close() }
}

// alice is a person watching the room in neko's viewer: a session with its
// socket open. (A session without one that holds control looks like a
// crashed bot, and codrive takes control back from it.) A real person
// clicks "request control" and "release" in the viewer.
func alice(ctx context.Context, nekoURL string) (*neko.Client, func()) {
	c, err := neko.NewClient(nekoURL, neko.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Login(ctx, "alice", "neko"); err != nil {
		log.Fatal(err)
	}
	conn, err := c.Connect(ctx, neko.ConnOptions{NoReconnect: true})
	if err != nil {
		log.Fatal(err)
	}
	return c, func() { _ = conn.Close(); _ = c.Logout(context.WithoutCancel(ctx)) }
}

func waitFor(ctx context.Context, s *codrive.Session, ok func(codrive.Status) bool) codrive.Status {
	st, err := s.WaitState(ctx, ok)
	if err != nil {
		log.Fatal(err)
	}
	return st
}

func isState(want codrive.State) func(codrive.Status) bool {
	return func(s codrive.Status) bool { return s.State == want }
}

// Attach, then drive the tab with chromedp through codrive's proxy: a
// person takes control midway, the script's click waits for them, and lands
// once they release.
func ExampleAttach() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nekoURL, cdpURL, stop := exampleRoom()
	defer stop()

	s, err := codrive.Attach(ctx, codrive.Options{
		NekoURL: nekoURL, User: "bot", Password: "admin",
		CDPURL:       cdpURL,
		Listen:       "127.0.0.1:0", // the proxy scripts connect to
		ReclaimAfter: 100 * time.Millisecond,
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

	person, leave := alice(ctx, nekoURL)
	defer leave()
	if _, err := person.RequestControl(ctx); err != nil { // codrive yields (policy yield)
		log.Fatal(err)
	}
	st := waitFor(ctx, s, isState(codrive.StateHuman))
	fmt.Println("drives:", st.State, st.HostName)

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

// Without a CDP URL codrive only arbitrates: automation reaches Chromium its
// own way and wraps each step in Do, which waits while a person drives.
func ExampleSession_Do() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nekoURL, cdpURL, stop := exampleRoom()
	defer stop()

	s, err := codrive.Attach(ctx, codrive.Options{NekoURL: nekoURL, User: "bot", Password: "admin"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)

	page, err := cdp.Attach(ctx, cdpURL, cdp.AttachOptions{}) // straight to Chromium
	if err != nil {
		log.Fatal(err)
	}
	defer page.Detach()
	var title string
	err = s.Do(ctx, func(ctx context.Context) error {
		// A person asking for control now waits for this step (policy
		// finish-step) or interrupts what follows it (yield).
		fmt.Println("step runs while", s.Status().State, "drives")
		if err := chromedp.Do(page.Context(), chromedp.Click(chromedp.CSS("button"))); err != nil {
			return err
		}
		title, err = chromedp.Run(page.Context(), chromedp.Title())
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("title:", title)
	// Output:
	// step runs while automation drives
	// title: clicked
}

// A script asks a person for help (a CAPTCHA, a login) and carries on when
// they are done. Viewers are told why by a neko broadcast.
func ExampleSession_Handoff() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nekoURL, cdpURL, stop := exampleRoom()
	defer stop()

	s, err := codrive.Attach(ctx, codrive.Options{NekoURL: nekoURL, User: "bot", Password: "admin", CDPURL: cdpURL})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)
	if err := s.Acquire(ctx); err != nil {
		log.Fatal(err)
	}

	// The person: sees the handoff, takes control, solves it, releases.
	person, leave := alice(ctx, nekoURL)
	defer leave()
	go func() {
		st := waitFor(ctx, s, func(st codrive.Status) bool { return st.Gate == codrive.GateHandoff && st.State == codrive.StateFree })
		fmt.Println("asked:", st.Handoff)
		if _, err := person.RequestControl(ctx); err != nil {
			log.Fatal(err)
		}
		waitFor(ctx, s, isState(codrive.StateHuman))
		if err := person.ReleaseControl(ctx); err != nil {
			log.Fatal(err)
		}
	}()

	if err := s.Handoff(ctx, "please solve the CAPTCHA"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("the person is done")
	if err := s.Wait(ctx); err != nil { // automation has control again
		log.Fatal(err)
	}
	fmt.Println("drives:", s.Status().State)
	// Output:
	// asked: please solve the CAPTCHA
	// the person is done
	// drives: automation
}

// Every change comes as an Event, in order: here the state events of a
// person's turn under policy yield.
func ExampleSession_Subscribe() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nekoURL, cdpURL, stop := exampleRoom()
	defer stop()

	s, err := codrive.Attach(ctx, codrive.Options{
		NekoURL: nekoURL, User: "bot", Password: "admin", CDPURL: cdpURL,
		ReclaimAfter: 100 * time.Millisecond,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)
	events, unsubscribe := s.Subscribe()
	defer unsubscribe()

	person, leave := alice(ctx, nekoURL)
	defer leave()
	acted := make(chan struct{})
	go func() {
		defer close(acted)
		if err := s.Acquire(ctx); err != nil {
			log.Fatal(err)
		}
		if _, err := person.RequestControl(ctx); err != nil {
			log.Fatal(err)
		}
		waitFor(ctx, s, isState(codrive.StateHuman))
		if err := person.ReleaseControl(ctx); err != nil {
			log.Fatal(err)
		}
		// codrive takes control back by itself: Acquire's demand stands.
	}()
	for turns := 0; turns < 2; {
		ev := <-events
		switch ev.Kind {
		case codrive.EventState:
			fmt.Println("state:", ev.Status.State, cmp.Or(ev.Status.HostName, "-"))
			if ev.Status.State == codrive.StateAutomation {
				turns++
			}
		case codrive.EventRequest:
			fmt.Println("request from", ev.ActorName)
		}
	}
	<-acted
	// Output:
	// state: automation bot
	// request from alice
	// state: human alice
	// state: free -
	// state: automation bot
}

// Status says who drives and whether automation may act now (the gate).
func ExampleSession_Status() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nekoURL, cdpURL, stop := exampleRoom()
	defer stop()

	s, err := codrive.Attach(ctx, codrive.Options{
		NekoURL: nekoURL, User: "bot", Password: "admin", CDPURL: cdpURL,
		Policy: codrive.PolicyHold,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)

	st := s.Status()
	fmt.Println(st.State, st.Gate, st.Policy)
	if err := s.Acquire(ctx); err != nil {
		log.Fatal(err)
	}
	st = s.Status()
	fmt.Println(st.State, st.Gate, st.HostName)

	// Under policy hold a person's request waits, and the status lists it.
	person, leave := alice(ctx, nekoURL)
	defer leave()
	if _, err := person.RequestControl(ctx); err != nil {
		log.Fatal(err)
	}
	st = waitFor(ctx, s, func(st codrive.Status) bool { return len(st.Pending) > 0 })
	fmt.Println(st.State, st.Gate, "pending:", st.Pending[0].Name)

	if err := s.Pause(ctx); err != nil { // the operator stops automation
		log.Fatal(err)
	}
	st = waitFor(ctx, s, isState(codrive.StateFree))
	fmt.Println(st.State, st.Gate)
	// Output:
	// free waiting hold
	// automation open bot
	// automation open pending: alice
	// free paused
}
