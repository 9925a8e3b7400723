// Package timeline records who drove the browser during a codrive run, with
// what the page looked like at every turn, and renders it as one HTML page
// a person can read: a timeline bar coloured by driver, the screenshots,
// the totals and every event.
//
// # Recording
//
// A [Recorder] writes a recording directory while the run goes on. It takes
// the run's events ([Recorder.Event], or [Recorder.EventJSON] for a line of
// `codrive attach --json`), the held commands of codrive's CDP proxy
// ([Recorder.Held], whose signature is cdpproxy.Options.OnHeld's) and
// screenshots from a [CaptureFunc] ([Tab.Capture] takes them over a DevTools
// connection of its own, never through the proxy's gate).
//
// Nothing it does slows the arbitration: Event and Held copy into a buffer
// that a goroutine writes out, and screenshots are taken by another. It
// captures at the first event, at every host change (so when a person's
// turn starts and when it ends), when a handoff starts, after every
// navigation (Options.NavigationDelay later, once the new page painted),
// on [Recorder.Snapshot] and at [Recorder.Close]. Requests wait in a
// bounded queue (Options.QueueSize); one screenshot serves every request
// waiting when it is taken, and requests that find the queue full are
// dropped and counted, never waited for.
//
// # Disk use
//
// Screenshots are JPEGs of the visible page scaled to at most 960 pixels
// wide (typically 15 to 60 KB). A byte-identical screenshot (the page did
// not change) is not written again. The screenshots kept are capped by
// count (Options.MaxShots, default 300) and bytes (Options.MaxBytes,
// default 24 MiB); past either cap the recorder deletes screenshots, the
// least informative first and the oldest among equals: first those taken
// only for a navigation, then Snapshot ones, then those of host changes,
// turns and handoffs. The recording's first screenshot goes last. The
// newest is always kept, so a run that failed shows the page as it failed.
// events.jsonl and held.jsonl are capped by lines (MaxEvents, MaxHeld,
// 100,000 each: about 60 MB and 20 MB). Whatever a cap leaves out is
// counted in meta.json and said in the report.
//
// # The recording directory
//
// It is what users keep (a CI artefact); its format is versioned
// (meta.json "format", now 1) and a reader refuses a newer one:
//
//	meta.json       {"format":1,"title":…,"started":…,"ended":…,"caps":{…},"counts":{…}}
//	                rewritten atomically at start and at Close; "ended" is
//	                missing when the process died, and the report then ends at
//	                the last thing recorded.
//	events.jsonl    one event per line, exactly as `codrive attach --json`
//	                prints it (codrive.Event: time, kind, actor, actorName,
//	                reason, status{state, host, gate, go, handoff, …},
//	                page{targetId, url, title, attached}). Line n (from 0) is
//	                event n.
//	held.jsonl      one held command per line: {"method", "session", "conn",
//	                "arrived", "heldMs", "outcome", "detail"}; outcome is
//	                released, answered (a read proven side-effect-free during
//	                the hold), timed-out, failed or abandoned.
//	captures.jsonl  one screenshot per line: {"n", "time", "why":[…],
//	                "events":[…], "file", "bytes", "width", "height", "same",
//	                "error"}; why is start, turn-start, turn-end, host,
//	                handoff, navigation, snapshot or end; events are the
//	                events.jsonl lines it was taken for; same names an
//	                earlier identical screenshot whose file it shares; a
//	                failed capture has an error and no file, and one whose
//	                file is gone was deleted under the caps.
//	shots/NNNNNN.jpg the screenshots, numbered by capture.
//
// All times are RFC 3339 with nanoseconds, as Go writes them. Every line
// file is append-only and written as things happen: a recording cut short
// by a crash still loads (a partial last line is skipped, with a note).
//
// # Reports
//
// [Load] reads a directory back, [Build] computes the [Report] (segments
// of the timeline by [Driver], totals, rows), and [Report.WriteHTML] and
// [Report.WriteJSON] write it; [Render] and [RenderJSON] do all three. The
// HTML is one self-contained file: screenshots embedded as data URIs, CSS
// and script inline, nothing fetched, readable offline and without
// JavaScript (the script only adds hover and click). Drivers are told apart
// by colour (the Okabe–Ito palette, safe for colour-blind readers), by
// pattern and by name.
package timeline
