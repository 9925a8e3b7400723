package cdpproxy

import "strings"

// Class is how the gate treats one CDP method.
type Class int

const (
	// Acting commands change what the person sees or does: they wait while a
	// person holds control.
	Acting Class = iota
	// Observing commands only read state or prepare the session: they pass at
	// once, whoever holds control.
	Observing
	// Evaluating commands run JavaScript. They are acting, except when they
	// run in an isolated world, when the client asked V8 to refuse side
	// effects (throwOnSideEffect), or when the proxy, before holding one,
	// proves it side-effect-free by running it with throwOnSideEffect itself.
	Evaluating
	// Local commands (the Codrive domain) are answered by the proxy and never
	// reach Chromium.
	Local
)

func (c Class) String() string {
	switch c {
	case Acting:
		return "acting"
	case Observing:
		return "observing"
	case Evaluating:
		return "evaluating"
	case Local:
		return "local"
	}
	return "unknown"
}

// Classify tells how the gate treats method. Lookup order: the exact method,
// then a "*.name" rule (every *.enable / *.disable), then the "Domain.*" rule,
// and otherwise Acting: delaying an unknown command is safer than running it
// under a person's hands. Every command the Playwright connect/attach path and
// chromedp's attach path send is listed as observing (the tests connect both
// during a hold), so the default never stalls a client that is only setting up.
func Classify(method string) Class {
	if c, ok := gate[method]; ok {
		return c
	}
	domain, name, ok := strings.Cut(method, ".")
	if !ok {
		return Acting
	}
	if c, ok := gate["*."+name]; ok {
		return c
	}
	if c, ok := gate[domain+".*"]; ok {
		return c
	}
	return Acting
}

// gate is THE table deciding acting vs observing. It is read-only.
//
// Guiding rule: a command is acting when it can move, type, navigate, change
// the document, close or open what the person looks at, or pause their page.
// Set-up commands that libraries send while attaching to a target must be
// observing: Chromium keeps a new target paused (waitingForDebugger) until
// the client's initialisation finishes with Runtime.runIfWaitingForDebugger,
// so holding one of them would freeze a tab the person just opened.
var gate = map[string]Class{
	// --- generic ---
	"*.enable":  Observing, // turning event streams on changes nothing on the page
	"*.disable": Observing, // turning event streams off changes nothing on the page
	"Codrive.*": Local,     // the proxy's own domain: state, handoff, state events

	// --- Input: every synthetic input event acts ---
	"Input.*": Acting, // mouse, keyboard, touch, drag, IME, gestures: the person's hands

	// --- Page ---
	"Page.navigate":                            Acting,    // replaces the page under the person
	"Page.reload":                              Acting,    // reloads it (losing their input)
	"Page.navigateToHistoryEntry":              Acting,    // back/forward (Playwright's goBack/goForward)
	"Page.resetNavigationHistory":              Acting,    // rewrites the history the person navigates
	"Page.stopLoading":                         Acting,    // interrupts a load the person may have started
	"Page.handleJavaScriptDialog":              Acting,    // a dialog may be the person's: let them answer it
	"Page.bringToFront":                        Acting,    // switches the tab the person sees
	"Page.close":                               Acting,    // closes the tab
	"Page.crash":                               Acting,    // kills the tab
	"Page.setDocumentContent":                  Acting,    // replaces the document
	"Page.setWebLifecycleState":                Acting,    // freezes/resumes the page
	"Page.waitForDebugger":                     Acting,    // pauses the page
	"Page.getFrameTree":                        Observing, // reads frames (Playwright attach)
	"Page.getResourceTree":                     Observing, // reads resources
	"Page.getResourceContent":                  Observing, // reads a resource body
	"Page.searchInResource":                    Observing, // reads
	"Page.getLayoutMetrics":                    Observing, // reads viewport/scroll metrics (screenshots)
	"Page.getNavigationHistory":                Observing, // reads history
	"Page.getAppManifest":                      Observing, // reads
	"Page.getInstallabilityErrors":             Observing, // reads
	"Page.getAppId":                            Observing, // reads
	"Page.getOriginTrials":                     Observing, // reads
	"Page.getPermissionsPolicyState":           Observing, // reads
	"Page.getAdScriptAncestry":                 Observing, // reads
	"Page.getAnnotatedPageContent":             Observing, // reads
	"Page.captureScreenshot":                   Observing, // a picture; must pass while a person drives
	"Page.captureSnapshot":                     Observing, // MHTML snapshot, reads
	"Page.printToPDF":                          Observing, // renders a copy, the page is untouched
	"Page.startScreencast":                     Observing, // watching
	"Page.stopScreencast":                      Observing, // watching
	"Page.screencastFrameAck":                  Observing, // flow control of the screencast
	"Page.addScriptToEvaluateOnNewDocument":    Observing, // set-up for future documents (Playwright/puppeteer attach and init scripts)
	"Page.removeScriptToEvaluateOnNewDocument": Observing, // undoes the set-up
	"Page.createIsolatedWorld":                 Observing, // libraries' private JS world; invisible to the page
	"Page.setLifecycleEventsEnabled":           Observing, // event stream switch (attach)
	"Page.setInterceptFileChooserDialog":       Observing, // set-up (Playwright attach)
	"Page.setBypassCSP":                        Observing, // set-up
	"Page.setAdBlockingEnabled":                Observing, // set-up
	"Page.setDownloadBehavior":                 Observing, // set-up (deprecated form of Browser.setDownloadBehavior)
	"Page.setPrerenderingAllowed":              Observing, // set-up
	"Page.setRPHRegistrationMode":              Observing, // set-up for tests of protocol handlers
	"Page.setSPCTransactionMode":               Observing, // set-up for payment tests
	"Page.setFontFamilies":                     Observing, // default fonts: headless Playwright sets them while initialising every target (paused meanwhile)
	"Page.setFontSizes":                        Observing, // default font sizes, same kind of set-up
	"Page.addCompilationCache":                 Observing, // code cache plumbing
	"Page.produceCompilationCache":             Observing, // code cache plumbing
	"Page.clearCompilationCache":               Observing, // code cache plumbing

	// --- Runtime ---
	"Runtime.evaluate":                        Evaluating, // page JS can click, type, navigate: see Evaluating
	"Runtime.callFunctionOn":                  Evaluating, // same; Playwright's utility-world calls are isolated
	"Runtime.runScript":                       Acting,     // runs page JS
	"Runtime.terminateExecution":              Acting,     // kills the script the page is running
	"Runtime.runIfWaitingForDebugger":         Observing,  // MUST pass: new targets stay paused until it arrives
	"Runtime.addBinding":                      Observing,  // set-up (exposeBinding); the page decides to call it
	"Runtime.removeBinding":                   Observing,  // undoes it
	"Runtime.getProperties":                   Observing,  // reads an object
	"Runtime.releaseObject":                   Observing,  // frees a handle
	"Runtime.releaseObjectGroup":              Observing,  // frees handles
	"Runtime.awaitPromise":                    Observing,  // waits for a promise that already exists
	"Runtime.compileScript":                   Observing,  // compiles without running
	"Runtime.discardConsoleEntries":           Observing,  // clears the protocol's console buffer
	"Runtime.getExceptionDetails":             Observing,  // reads
	"Runtime.getHeapUsage":                    Observing,  // reads
	"Runtime.getIsolateId":                    Observing,  // reads
	"Runtime.globalLexicalScopeNames":         Observing,  // reads
	"Runtime.queryObjects":                    Observing,  // reads the heap
	"Runtime.setAsyncCallStackDepth":          Observing,  // debugging set-up
	"Runtime.setCustomObjectFormatterEnabled": Observing,  // debugging set-up
	"Runtime.setMaxCallStackSizeToCapture":    Observing,  // debugging set-up

	// --- DOM: reads pass, edits act ---
	"DOM.getDocument":                        Observing, // reads
	"DOM.getFlattenedDocument":               Observing, // reads (deprecated)
	"DOM.describeNode":                       Observing, // reads
	"DOM.querySelector":                      Observing, // reads
	"DOM.querySelectorAll":                   Observing, // reads
	"DOM.resolveNode":                        Observing, // makes a JS handle for a node
	"DOM.requestNode":                        Observing, // maps a JS handle to a node id
	"DOM.requestChildNodes":                  Observing, // reads
	"DOM.pushNodeByPathToFrontend":           Observing, // reads
	"DOM.pushNodesByBackendIdsToFrontend":    Observing, // reads
	"DOM.getAttributes":                      Observing, // reads
	"DOM.getBoxModel":                        Observing, // reads geometry (click targeting)
	"DOM.getContentQuads":                    Observing, // reads geometry (Playwright click targeting)
	"DOM.getNodeForLocation":                 Observing, // hit test, reads
	"DOM.getOuterHTML":                       Observing, // reads
	"DOM.getFrameOwner":                      Observing, // reads (Playwright frames)
	"DOM.getFileInfo":                        Observing, // reads
	"DOM.performSearch":                      Observing, // reads
	"DOM.getSearchResults":                   Observing, // reads
	"DOM.discardSearchResults":               Observing, // frees search state
	"DOM.collectClassNamesFromSubtree":       Observing, // reads
	"DOM.getNodesForSubtreeByStyle":          Observing, // reads
	"DOM.getRelayoutBoundary":                Observing, // reads
	"DOM.getTopLayerElements":                Observing, // reads
	"DOM.getElementByRelation":               Observing, // reads
	"DOM.getContainerForNode":                Observing, // reads
	"DOM.getQueryingDescendantsForContainer": Observing, // reads
	"DOM.getAnchorElement":                   Observing, // reads
	"DOM.getImplicitAnchorCandidates":        Observing, // reads
	"DOM.getDetachedDomNodes":                Observing, // reads
	"DOM.getNodeStackTraces":                 Observing, // reads
	"DOM.setNodeStackTracesEnabled":          Observing, // debugging set-up
	"DOM.setInspectedNode":                   Observing, // sets $0 for the console only
	"DOM.markUndoableState":                  Observing, // bookkeeping for undo
	"DOM.setAttributeValue":                  Acting,    // edits the document
	"DOM.setAttributesAsText":                Acting,    // edits
	"DOM.removeAttribute":                    Acting,    // edits
	"DOM.setNodeName":                        Acting,    // edits
	"DOM.setNodeValue":                       Acting,    // edits
	"DOM.setOuterHTML":                       Acting,    // edits
	"DOM.removeNode":                         Acting,    // edits
	"DOM.moveTo":                             Acting,    // edits
	"DOM.copyTo":                             Acting,    // edits
	"DOM.undo":                               Acting,    // edits
	"DOM.redo":                               Acting,    // edits
	"DOM.setFileInputFiles":                  Acting,    // fills a form field
	"DOM.focus":                              Acting,    // steals the person's focus/caret
	"DOM.scrollIntoViewIfNeeded":             Acting,    // scrolls the person's view (Playwright before a click)

	// --- CSS: reads pass, style edits act ---
	"CSS.getComputedStyleForNode":          Observing, // reads
	"CSS.getMatchedStylesForNode":          Observing, // reads
	"CSS.getInlineStylesForNode":           Observing, // reads
	"CSS.getBackgroundColors":              Observing, // reads
	"CSS.getPlatformFontsForNode":          Observing, // reads
	"CSS.getStyleSheetText":                Observing, // reads
	"CSS.getMediaQueries":                  Observing, // reads
	"CSS.getLayersForNode":                 Observing, // reads
	"CSS.getAnimatedStylesForNode":         Observing, // reads
	"CSS.getLonghandProperties":            Observing, // reads
	"CSS.getLocationForSelector":           Observing, // reads
	"CSS.getEnvironmentVariables":          Observing, // reads
	"CSS.collectClassNames":                Observing, // reads
	"CSS.resolveValues":                    Observing, // reads
	"CSS.startRuleUsageTracking":           Observing, // coverage
	"CSS.stopRuleUsageTracking":            Observing, // coverage
	"CSS.takeCoverageDelta":                Observing, // coverage
	"CSS.trackComputedStyleUpdates":        Observing, // watching
	"CSS.trackComputedStyleUpdatesForNode": Observing, // watching
	"CSS.takeComputedStyleUpdates":         Observing, // watching

	// --- Target ---
	"Target.setAutoAttach":          Observing, // discovery (every client's attach)
	"Target.setDiscoverTargets":     Observing, // discovery
	"Target.getTargets":             Observing, // discovery
	"Target.getTargetInfo":          Observing, // discovery
	"Target.attachToTarget":         Observing, // opens a session; the page is untouched (NewCDPSession)
	"Target.attachToBrowserTarget":  Observing, // opens a session
	"Target.detachFromTarget":       Observing, // closes a session, not the tab
	"Target.autoAttachRelated":      Observing, // discovery
	"Target.getBrowserContexts":     Observing, // discovery
	"Target.createBrowserContext":   Observing, // an empty, invisible profile until a page opens in it
	"Target.exposeDevToolsProtocol": Observing, // set-up binding
	"Target.setRemoteLocations":     Observing, // discovery set-up
	"Target.getDevToolsTarget":      Observing, // discovery
	"Target.createTarget":           Acting,    // in neko a new tab takes over the person's screen
	"Target.closeTarget":            Acting,    // closes a tab the person may be using
	"Target.activateTarget":         Acting,    // switches the visible tab
	"Target.disposeBrowserContext":  Acting,    // closes all of its tabs
	"Target.openDevTools":           Acting,    // opens a window over the person's

	// --- Browser ---
	"Browser.getVersion":              Observing, // reads (every client's first command)
	"Browser.getBrowserCommandLine":   Observing, // reads
	"Browser.getHistogram":            Observing, // reads
	"Browser.getHistograms":           Observing, // reads
	"Browser.getWindowBounds":         Observing, // reads
	"Browser.getWindowForTarget":      Observing, // reads
	"Browser.getGlobalPrivacyControl": Observing, // reads
	"Browser.setDownloadBehavior":     Observing, // set-up (Playwright connect)
	"Browser.setPermission":           Observing, // set-up (context permissions)
	"Browser.grantPermissions":        Observing, // set-up
	"Browser.resetPermissions":        Observing, // set-up
	"Browser.setDockTile":             Observing, // cosmetic, not the page
	"Browser.close":                   Acting,    // closes the person's browser
	"Browser.crash":                   Acting,    // kills it
	"Browser.crashGpuProcess":         Acting,    // kills rendering
	"Browser.setWindowBounds":         Acting,    // moves/resizes the person's window
	"Browser.setContentsSize":         Acting,    // resizes the window
	"Browser.cancelDownload":          Acting,    // the download may be the person's
	"Browser.executeBrowserCommand":   Acting,    // opens browser UI

	// --- Emulation: observing, by decision ---
	// Playwright and puppeteer send Emulation.* (focus emulation, media, device
	// metrics for contexts with a viewport, user agent, locale, timezone) while
	// initialising every new target, which stays paused meanwhile. Holding them
	// would freeze a popup the person opens while driving. They configure the
	// tab rather than act in it; the visible ones (device metrics, media)
	// change layout or colours, never input, the document or navigation.
	"Emulation.*": Observing, // set-up of the emulated environment (see above)

	// --- Debugger: reads pass, anything that can pause or change the page acts ---
	"Debugger.getScriptSource":              Observing, // reads
	"Debugger.getPossibleBreakpoints":       Observing, // reads
	"Debugger.searchInContent":              Observing, // reads
	"Debugger.getStackTrace":                Observing, // reads
	"Debugger.disassembleWasmModule":        Observing, // reads
	"Debugger.nextWasmDisassemblyChunk":     Observing, // reads
	"Debugger.setAsyncCallStackDepth":       Observing, // debugging set-up
	"Debugger.setBlackboxPatterns":          Observing, // debugging set-up
	"Debugger.setBlackboxedRanges":          Observing, // debugging set-up
	"Debugger.setBlackboxExecutionContexts": Observing, // debugging set-up
	"DOMDebugger.getEventListeners":         Observing, // reads

	// --- whole domains that only watch or configure plumbing ---
	"Network.*":             Observing, // traffic events and set-up (headers, cache, cookies, throttling)
	"Fetch.*":               Observing, // interception: paused requests must be answered at once or the person's page stalls
	"Log.*":                 Observing, // log events
	"Console.*":             Observing, // deprecated console events
	"Performance.*":         Observing, // metrics
	"PerformanceTimeline.*": Observing, // metrics
	"Profiler.*":            Observing, // profiling and coverage
	"HeapProfiler.*":        Observing, // heap snapshots
	"Memory.*":              Observing, // memory stats
	"Tracing.*":             Observing, // traces
	"IO.*":                  Observing, // reads streams (PDF, traces)
	"Inspector.*":           Observing, // detach/crash events (chromedp attach)
	"Schema.*":              Observing, // protocol description
	"Security.*":            Observing, // certificate-error set-up
	"Accessibility.*":       Observing, // reads the AX tree
	"DOMSnapshot.*":         Observing, // reads
	"LayerTree.*":           Observing, // reads
	"Audits.*":              Observing, // reads issues
	"Media.*":               Observing, // player events
	"WebAudio.*":            Observing, // reads
	"SystemInfo.*":          Observing, // reads
	"ServiceWorker.*":       Observing, // worker plumbing (Playwright attach)
	"BackgroundService.*":   Observing, // recording events
	"Storage.*":             Observing, // storage/cookie set-up and reads (storageState)
	"DOMStorage.*":          Observing, // local/session storage reads and set-up
	"IndexedDB.*":           Observing, // storage reads and set-up
	"CacheStorage.*":        Observing, // storage reads and set-up
	"WebAuthn.*":            Observing, // virtual authenticators (set-up)
	"Autofill.*":            Observing, // test set-up
	"Preload.*":             Observing, // events
	"Tethering.*":           Observing, // port forwarding set-up
}
