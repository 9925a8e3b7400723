// Package operator serves codrive's endpoints for operators: health and
// readiness probes, Prometheus metrics, the state of the room, an event
// stream and the control actions, for one codrive.Session. The codrive
// command serves it with `codrive attach --http ADDR`; a program that runs
// its own Session mounts Handler.
//
//	s, err := codrive.Attach(ctx, opts)
//	...
//	http.Handle("/", operator.Handler(s, operator.Options{Token: token}))
//
// A sidecar that must answer its probes before its Session exists (while
// Attach waits for Chromium and neko, Options.WaitTimeout) uses New, then
// SetWaiting from Options.OnWait and SetSession once Attach returns.
//
// # Endpoints
//
//	GET  /healthz          200 "ok" while the process lives; 503 once neko refused codrive for good (restart it)
//	GET  /readyz           200 "ready" while logged in to neko and attached to Chromium; 503 and the reason otherwise
//	GET  /metrics          Prometheus text format (below)
//	GET  /codrive/state    JSON State: ready, status, connection, page, participants, proxy counters
//	GET  /codrive/events   Server-Sent Events: one event per codrive.Event, named by its kind, data as `codrive attach --json`
//	POST /codrive/request  Session.Acquire: ask for control (a person who hosts is asked, not robbed)
//	POST /codrive/release  Session.Release
//	POST /codrive/take     Session.Take (admin login)
//	POST /codrive/give     Session.Give, body {"to": "SESSION-ID or NAME"}
//	POST /codrive/pause    Session.Pause
//	POST /codrive/resume   Session.Resume
//	POST /codrive/handoff  Session.Handoff, body {"reason": "...", "timeout": "5m"}
//
// Every action takes an optional JSON body with "timeout" (a duration such
// as "30s", or seconds); without one Options.ActionTimeout (30s) or, for a
// handoff, Options.HandoffTimeout (5m) applies. An action answers the Status
// after it with 200, or {"error": "..."} with 400 (bad body), 401 (token),
// 403 (neko forbids it: not an admin), 404 (no such participant), 409 (the
// session refused: a handoff already under way), 502 (neko unreachable),
// 503 (codrive starting or closing) or 504 (timed out).
//
// # Tokens
//
// With Options.Token, /codrive/* needs ?token=TOKEN or Authorization:
// Bearer TOKEN. /healthz, /readyz and /metrics never need it: kubelet probes
// and Prometheus scrapes carry no secret, and those endpoints move nothing
// and show no participant or page. Without a token (loopback only: Listen
// refuses any other address) /codrive/* refuses a Host that is not an
// address or localhost, and requests a web page makes (an Origin header
// from elsewhere), so that no page in a local browser can drive codrive.
//
// # Metrics
//
// Every metric is read from the Session at scrape time (Session.Status,
// Connection, PageInfo, ProxyStats and Stats); counters count since Attach.
//
//	codrive_ready                           gauge      1 while logged in to neko and attached to Chromium (/readyz is 200)
//	codrive_neko_connected                  gauge      1 while the WebSocket to neko is up
//	codrive_browser_attached                gauge      1 while attached to Chromium's tab
//	codrive_state{state}                    gauge      1 for who holds control: free, automation, human, disconnected
//	codrive_gate{gate}                      gauge      1 for the gate: open, waiting, yielding, paused, handoff, closed
//	codrive_steps_in_flight                 gauge      steps and acting commands past the gate, not ended
//	codrive_room_locked                     gauge      1 while policy locked keeps the room's controls locked
//	codrive_pending_requests                gauge      people's requests for control not granted (hold, locked)
//	codrive_participants                    gauge      sessions connected to the room, codrive's own excluded
//	codrive_paused_seconds_total            counter    time automation was paused (operator pause or handoff)
//	codrive_control_requests_total{outcome} counter    people's requests while automation hosted: yielded, kept, ignored
//	codrive_handoffs_total{outcome}         counter    handoffs ended: completed, timed_out, cancelled, failed
//	codrive_reconnects_total{peer,cause}    counter    links back after a drop: neko (restarted, silent, disconnected, dropped), chromium (browser_gone, tab_closed)
//	codrive_proxy_connections               gauge      script connections open on the CDP proxy
//	codrive_proxy_connections_total         counter    script connections accepted
//	codrive_proxy_commands_total            counter    script commands forwarded to Chromium
//	codrive_held_commands                   gauge      acting commands held now
//	codrive_held_commands_total{outcome}    counter    holds ended: released, answered, timed_out, dropped
//	codrive_hold_duration_seconds           histogram  how long each held command waited (10ms to 10m buckets)
//	codrive_proxy_command_duration_seconds{class}  histogram  Chromium's answer time by class: acting, observing, evaluating (1ms to 30s)
//
// Before the Session exists only codrive_ready (0) is reported. The Go
// runtime's and the process's standard metrics (go_*, process_*) come too,
// unless Options.NoRuntimeMetrics.
package operator
