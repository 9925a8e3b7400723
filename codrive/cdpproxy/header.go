package cdpproxy

// A header is what the proxy reads from a client message, in one pass:
// the top-level id, method and sessionId, where params are, and the few
// params of an evaluation the gate looks at. The rest of the message is
// never copied or decoded.
//
// The scanner also decides whether Chromium will answer the message with
// its id, because the proxy gives every command an id of its own (see
// ids.go) and must know which answers to expect. Chromium 156 answers a
// message its JSON parser refuses without any id, so the scanner checks
// the syntax as that parser does, never more strictly (probed against it:
// \v and \f count as whitespace, raw control characters and UTF-8-encoded
// surrogates are fine in strings, numbers must be finite doubles, nesting
// stops at 301 levels). Where it cannot tell, it errs towards "valid":
// an answer that then never comes only leaves an entry until the
// connection ends, while an unexpected id would reach the client unmapped.
type header struct {
	// valid: the message is one JSON object that Chromium's parser accepts.
	valid bool
	// idOK: the first top-level "id" is a number with an int32 value,
	// which is all Chromium asks of it ("2.0" and "1e2" pass and are
	// answered as 2 and 100). id is that value; idStart and idEnd are where
	// its text is in the message.
	idOK           bool
	id             int32
	idStart, idEnd int64
	// method and session are the first top-level "method" and "sessionId"
	// when they are strings. Chromium refuses a message with a key twice,
	// so for any message it runs the first one is the only one.
	method, session     string
	hasMethod, hasSess  bool
	methodLong, sessLng bool // longer than the scanner keeps: unknown
	// paramsStart and paramsEnd are where the first top-level "params"
	// object is (end 0: none); paramsKind is what that value is: 0 (no
	// params), '{', 'n' (null, which Chromium takes as none) or 'x'
	// (anything else, which Chromium refuses).
	paramsStart, paramsEnd int64
	paramsKind             byte
	// eval are the params of Runtime.evaluate and Runtime.callFunctionOn the
	// gate reads. V8 takes the last of duplicate keys, and so do they.
	eval evalParams
	// inputType is params.type, which says whether an Input.dispatch*
	// command presses or releases (gesture.go).
	inputType string

	// idDone and methodDone are set as soon as the first id and method are
	// complete: a large message can be routed before its end.
	idDone, methodDone bool
}

// evalParams are the params of an evaluation that tell whether it can act
// on the page (see relay.evalObserving).
type evalParams struct {
	contextID          int64
	executionContextID int64
	uniqueContextID    string
	objectID           string
	throwOnSideEffect  bool
}

// maxDepth is the deepest nesting Chromium's parser accepts, counting the
// message object itself ("JSON: stack limit exceeded" beyond).
const maxDepth = 301

// maxCapture bounds each value the scanner keeps (a method name, a session
// id, a number's text): anything longer is not a real CDP value.
const maxCapture = 1024

type scanState uint8

const (
	stValue      scanState = iota // a value must start here
	stValueOrEnd                  // after '[': a value or ']'
	stKeyOrEnd                    // after '{': a key or '}'
	stKey                         // after ',' in an object: a key
	stColon                       // after a key: ':'
	stCommaOrEnd                  // after a value inside a container
	stString                      // inside a string
	stEscape                      // after a backslash in a string
	stHex                         // inside \uXXXX
	stUTF8                        // inside a multi-byte UTF-8 sequence
	stNumber                      // inside a number
	stLiteral                     // inside true, false or null
	stDone                        // after the message object: whitespace only
	stError                       // not JSON that Chromium accepts
)

// Number grammar phases (RFC 8259, which Chromium follows).
const (
	nMinus     uint8 = iota // after '-'
	nZero                   // a leading 0
	nInt                    // integer digits
	nDot                    // after '.'
	nFrac                   // fraction digits
	nExp                    // after 'e' or 'E'
	nExpSign                // after the exponent's sign
	nExpDigits              // exponent digits
)

// What the string or number being scanned is, for the header.
const (
	fNone uint8 = iota
	fKey        // a key at depth 1, or at depth 2 in params
	fID
	fMethod
	fSession
	fContextID
	fExecContextID
	fUniqueContextID
	fObjectID
	fThrow
	fType
)

// paramsOK is false when Chromium refuses the params whatever the method.
func (h *header) paramsOK() bool { return h.paramsKind != 'x' }

// keyParams marks the message's "params" key in s.key: a container, not a
// kept value.
const keyParams = 15

// keyOf names a key the header cares about at this depth.
func keyOf(k []byte, depth int) uint8 {
	if depth == 1 {
		switch string(k) {
		case "id":
			return fID
		case "method":
			return fMethod
		case "sessionId":
			return fSession
		case "params":
			return keyParams
		}
		return fNone
	}
	switch string(k) {
	case "contextId":
		return fContextID
	case "executionContextId":
		return fExecContextID
	case "uniqueContextId":
		return fUniqueContextID
	case "objectId":
		return fObjectID
	case "throwOnSideEffect":
		return fThrow
	case "type":
		return fType
	}
	return fNone
}
