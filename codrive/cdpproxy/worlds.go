package cdpproxy

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
)

// Chromium writes "method" first in events, so a prefix test finds the few
// events the proxy reads without parsing the rest (screencast frames,
// network bodies) at all.
var (
	prefixContextEvent = []byte(`{"method":"Runtime.executionContext`)
	prefixDetached     = []byte(`{"method":"Target.detachedFromTarget"`)
)

// noteEvent reads what the proxy needs from an event: isolated worlds
// appearing and going, and sessions detaching (whose commands Chromium
// will not answer).
func (r *relay) noteEvent(msg []byte) {
	switch {
	case r.ctrl != nil && bytes.HasPrefix(msg, prefixContextEvent):
		r.worlds.note(msg)
	case bytes.HasPrefix(msg, prefixDetached):
		gone := r.worlds.note(msg)
		if gone == "" {
			return
		}
		r.cdMu.Lock()
		delete(r.cdEnabled, gone)
		r.cdMu.Unlock()
		end(r.ids.dropSession(gone))
	}
}

// evalObserving reports whether a Runtime.evaluate/callFunctionOn cannot act
// on the page: it runs in an isolated world (where Playwright and puppeteer
// resolve selectors, check actionability and wait for document.fonts.ready
// before screenshots; page scripts cannot see those worlds' globals), or the
// client asked V8 to refuse side effects.
func (r *relay) evalObserving(h *header) bool {
	p := &h.eval
	if p.throwOnSideEffect {
		return true
	}
	switch {
	case p.uniqueContextID != "":
		return r.worlds.isolatedUnique(p.uniqueContextID)
	case p.contextID != 0:
		return r.worlds.isolated(h.session, p.contextID)
	case p.executionContextID != 0:
		return r.worlds.isolated(h.session, p.executionContextID)
	case p.objectID != "":
		if id, ok := objectContext(p.objectID); ok {
			return r.worlds.isolated(h.session, id)
		}
	}
	return false
}

// objectContext extracts the execution context from a V8 remote object id,
// "ISOLATE.CONTEXT.ID" in current V8. The format is opaque by protocol, so
// anything else is "unknown", which keeps the command acting.
func objectContext(objectID string) (int64, bool) {
	parts := strings.Split(objectID, ".")
	if len(parts) != 3 {
		return 0, false
	}
	id, err := strconv.ParseInt(parts[1], 10, 64)
	return id, err == nil
}

// worldKey names an execution context within a CDP session.
type worldKey struct {
	session string
	id      int64
}

// worlds tracks the isolated-world execution contexts Chromium announced on
// this connection (Runtime.executionContextCreated, auxData.type
// "isolated").
type worlds struct {
	mu       sync.Mutex
	byID     map[worldKey]string // → uniqueId
	byUnique map[string]worldKey // uniqueId →
}

func (w *worlds) init() {
	w.byID = make(map[worldKey]string)
	w.byUnique = make(map[string]worldKey)
}

func (w *worlds) isolated(session string, id int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.byID[worldKey{session, id}]
	return ok
}

func (w *worlds) isolatedUnique(u string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.byUnique[u]
	return ok
}

// note updates the table from one event; it returns the session id of a
// Target.detachedFromTarget.
func (w *worlds) note(msg []byte) (detached string) {
	var ev struct {
		Method    string `json:"method"`
		SessionID string `json:"sessionId"`
		Params    struct {
			Context struct {
				ID       int64  `json:"id"`
				UniqueID string `json:"uniqueId"`
				AuxData  struct {
					Type string `json:"type"`
				} `json:"auxData"`
			} `json:"context"`
			ExecutionContextID       int64  `json:"executionContextId"`
			ExecutionContextUniqueID string `json:"executionContextUniqueId"`
			SessionID                string `json:"sessionId"`
		} `json:"params"`
	}
	if json.Unmarshal(msg, &ev) != nil {
		return ""
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev.Method {
	case "Runtime.executionContextCreated":
		c := ev.Params.Context
		if c.AuxData.Type == "isolated" {
			k := worldKey{ev.SessionID, c.ID}
			w.byID[k] = c.UniqueID
			if c.UniqueID != "" {
				w.byUnique[c.UniqueID] = k
			}
		}
	case "Runtime.executionContextDestroyed":
		if k, ok := w.byUnique[ev.Params.ExecutionContextUniqueID]; ok {
			delete(w.byUnique, ev.Params.ExecutionContextUniqueID)
			delete(w.byID, k)
		}
		if ev.Params.ExecutionContextID != 0 {
			k := worldKey{ev.SessionID, ev.Params.ExecutionContextID}
			if u, ok := w.byID[k]; ok {
				delete(w.byID, k)
				delete(w.byUnique, u)
			}
		}
	case "Runtime.executionContextsCleared":
		w.dropSession(ev.SessionID)
	case "Target.detachedFromTarget":
		w.dropSession(ev.Params.SessionID)
		return ev.Params.SessionID
	}
	return ""
}

func (w *worlds) dropSession(session string) {
	for k, u := range w.byID {
		if k.session == session {
			delete(w.byID, k)
			delete(w.byUnique, u)
		}
	}
}
