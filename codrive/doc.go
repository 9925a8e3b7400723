// Package codrive lets a script and a person drive the same real browser,
// one at a time, without fighting. The browser is a Chromium that neko
// (https://github.com/m1k1o/neko) streams to people over WebRTC, and that
// scripts (chromedp, Playwright, puppeteer) drive over the Chrome DevTools
// Protocol (CDP).
//
// # Who drives
//
// Attach starts a Session: codrive logs in to neko as a user of its own,
// attaches to Chromium's existing tab, and from then on knows who holds
// neko's host control. That is the Status's State: StateAutomation when
// codrive's session hosts, StateHuman when a person does, StateFree when
// nobody does. neko is the only authority on it: codrive derives the state
// from neko's events, never guesses, and reports every host change neko
// reports as one Event, in order (Subscribe).
//
// # The gate and steps
//
// Automation acts only through the gate (Status.Gate). In Go, Begin, Do and
// Wait block while the gate is shut (a person drives, the operator paused,
// a handoff is on) and ask neko for control when nobody hosts; Begin and Do
// count the work as a step in flight until it ends. Scripts connect to the
// Session's CDP proxy (Options.Listen, ProxyURL, Chromedp, and
// codrive/codrivepw for Playwright) instead of Chromium: while the gate is
// shut their acting commands (input, navigation, page JavaScript with side
// effects) are held, not failed, and go through once automation may act
// again; reading, screenshots and set-up pass at once.
//
// # Policies and handoff
//
// When a person asks for control while automation holds it, the Policy
// decides: PolicyYield (the default) hands over at once, PolicyFinishStep
// lets the steps in flight finish first, PolicyHold keeps control and tells
// the person why, PolicyLocked locks the room's controls while automation
// runs. After a person's turn, automation takes control back once the room
// has stayed free for Options.ReclaimAfter. Automation can also ask a
// person for help (a CAPTCHA, a login) with Handoff, or Codrive.handoff
// over the proxy; the operator moves control by hand with Acquire, Release,
// Pause, Resume, Give and Take.
//
// # What codrive guarantees
//
// No acting command reaches Chromium while a person hosts, except one
// already on its way when someone took control without asking. codrive
// never takes control from a person, except by policy locked or an explicit
// takeover (Take, Options.Takeover); a session without a socket that holds
// control (a crashed bot) is not a person. Nothing blocks automation for
// ever: when the room stays free and automation wants control, codrive
// asks for it. Close leaves the room's settings as codrive found them and
// codrive not hosting (the codrive command calls it on SIGINT and
// SIGTERM); a lock whose codrive died outright (kill -9) is recorded in the
// room itself, and the next codrive with an admin login restores it. codrive survives neko
// and Chromium restarts: it logs in and attaches again by itself. The
// project's README ("The rule, and what survives a crash") says how each
// promise is tested.
//
// # Watching
//
// Status, Subscribe, Participants, Connection, PageInfo and ProxyStats tell
// a monitor or a health check everything codrive knows, in types of this
// package. Status and Event marshal to the JSON that `codrive attach --json`
// prints; CHANGELOG.md lists every change to it, as to the API.
package codrive
