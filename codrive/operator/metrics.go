package operator

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/codrive/codrive/codrive"
)

// The metrics, read from the Session at every scrape (package doc has the
// table). Every name starts with codrive_.
var (
	descReady     = desc("ready", "1 while codrive is logged in to neko and attached to Chromium (/readyz answers 200).")
	descConnected = desc("neko_connected", "1 while codrive's WebSocket to neko is up.")
	descAttached  = desc("browser_attached", "1 while codrive is attached to Chromium's tab.")
	descState     = desc("state", "1 for who holds host control now (free, automation, human, disconnected), 0 for the others.", "state")
	descGate      = desc("gate", "1 for the gate automation meets now (open, waiting, yielding, paused, handoff, closed), 0 for the others.", "gate")
	descSteps     = desc("steps_in_flight", "Automation steps (and proxied acting commands) that passed the gate and have not ended.")
	descLocked    = desc("room_locked", "1 while codrive keeps the room's controls locked (policy locked).")
	descPending   = desc("pending_requests", "People's requests for control codrive has not granted (policies hold and locked).")
	descPeople    = desc("participants", "Sessions connected to the neko room, codrive's own excluded.")
	descPaused    = desc("paused_seconds_total", "Time automation spent paused, by the operator or for a handoff.")
	descRequests  = desc("control_requests_total", "People's requests for control while automation hosted, by outcome: yielded, kept, ignored.", "outcome")
	descHandoffs  = desc("handoffs_total", "Handoffs that ended, by outcome: completed, timed_out, cancelled, failed.", "outcome")
	descReconn    = desc("reconnects_total", "Links that came back after a drop, by peer (neko, chromium) and cause (restarted, silent, disconnected, dropped; browser_gone, tab_closed).", "peer", "cause")
	descConns     = desc("proxy_connections", "Script connections open on the CDP proxy now.")
	descConnsTot  = desc("proxy_connections_total", "Script connections the CDP proxy accepted.")
	descPassed    = desc("proxy_commands_total", "Script commands the CDP proxy forwarded to Chromium, acting or not.")
	descHeld      = desc("held_commands", "Acting commands held now, waiting for automation to get control.")
	descHeldTot   = desc("held_commands_total", "Acting commands that left the hold, by outcome: released, answered, timed_out, dropped.", "outcome")
	descHoldTime  = desc("hold_duration_seconds", "How long each held command waited, whatever its outcome.")
	descCmdTime   = desc("proxy_command_duration_seconds", "Chromium's answer time for forwarded script commands, from the write to the answer (holds excluded), by class: acting, observing, evaluating.", "class")
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("codrive_"+name, help, labels, nil)
}

// collector turns the Session's state and Stats into metrics at scrape
// time. Before the Session exists only codrive_ready (0) is reported.
type collector struct{ o *Operator }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReady, descConnected, descAttached, descState, descGate, descSteps, descLocked,
		descPending, descPeople, descPaused, descRequests, descHandoffs, descReconn, descConns, descConnsTot, descPassed,
		descHeld, descHeldTot, descHoldTime, descCmdTime} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s, _ := c.o.current()
	if s == nil {
		ch <- gauge(descReady, 0)
		return
	}
	st, conn, page, stats, proxy := s.Status(), s.Connection(), s.PageInfo(), s.Stats(), s.ProxyStats()
	ch <- gauge(descReady, bool01(s.Ready() == nil))
	ch <- gauge(descConnected, bool01(conn.Connected))
	ch <- gauge(descAttached, bool01(page.Attached))
	for _, state := range []codrive.State{codrive.StateFree, codrive.StateAutomation, codrive.StateHuman, codrive.StateDisconnected} {
		ch <- gauge(descState, bool01(st.State == state), string(state))
	}
	for _, g := range []codrive.Gate{codrive.GateOpen, codrive.GateWaiting, codrive.GateYielding, codrive.GatePaused, codrive.GateHandoff, codrive.GateClosed} {
		ch <- gauge(descGate, bool01(st.Gate == g), string(g))
	}
	ch <- gauge(descSteps, float64(st.Steps))
	ch <- gauge(descLocked, bool01(st.Locked))
	ch <- gauge(descPending, float64(len(st.Pending)))
	people := 0
	for _, p := range s.Participants() {
		if p.Connected && !p.Self {
			people++
		}
	}
	ch <- gauge(descPeople, float64(people))
	ch <- counter(descPaused, stats.Paused.Seconds())

	r := stats.Requests
	ch <- counter(descRequests, float64(r.Yielded), "yielded")
	ch <- counter(descRequests, float64(r.Kept), "kept")
	ch <- counter(descRequests, float64(r.Ignored), "ignored")
	h := stats.Handoffs
	ch <- counter(descHandoffs, float64(h.Completed), "completed")
	ch <- counter(descHandoffs, float64(h.TimedOut), "timed_out")
	ch <- counter(descHandoffs, float64(h.Cancelled), "cancelled")
	ch <- counter(descHandoffs, float64(h.Failed), "failed")
	rc := stats.Reconnects
	ch <- counter(descReconn, float64(rc.NekoRestarted), "neko", "restarted")
	ch <- counter(descReconn, float64(rc.NekoSilent), "neko", "silent")
	ch <- counter(descReconn, float64(rc.NekoDisconnected), "neko", "disconnected")
	ch <- counter(descReconn, float64(rc.NekoDropped), "neko", "dropped")
	ch <- counter(descReconn, float64(rc.BrowserGone), "chromium", "browser_gone")
	ch <- counter(descReconn, float64(rc.TabClosed), "chromium", "tab_closed")

	ch <- gauge(descConns, float64(proxy.Scripts))
	ch <- counter(descConnsTot, float64(stats.Connections))
	ch <- counter(descPassed, float64(proxy.Passed))
	ch <- gauge(descHeld, float64(proxy.Held))
	ho := stats.Holds
	ch <- counter(descHeldTot, float64(ho.Released), "released")
	ch <- counter(descHeldTot, float64(ho.Answered), "answered")
	ch <- counter(descHeldTot, float64(ho.TimedOut), "timed_out")
	ch <- counter(descHeldTot, float64(ho.Dropped), "dropped")
	ch <- histogram(descHoldTime, stats.HoldDuration)
	ch <- histogram(descCmdTime, stats.Commands.Acting, "acting")
	ch <- histogram(descCmdTime, stats.Commands.Observing, "observing")
	ch <- histogram(descCmdTime, stats.Commands.Evaluating, "evaluating")
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func histogram(d *prometheus.Desc, h codrive.Histogram, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		buckets[b.Seconds()] = h.Counts[i]
	}
	return prometheus.MustNewConstHistogram(d, h.Count, h.Sum.Seconds(), buckets, labels...)
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
