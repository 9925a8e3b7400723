package cdpproxy

import "encoding/json"

// scanner reads a message incrementally: feed it the message's bytes in
// order, in as many pieces as they arrive, then call finish.
type scanner struct {
	h     header
	state scanState
	base  int64 // offset of the first byte of the piece being fed
	depth int
	// isObj[d] tells whether the container at depth d is an object.
	isObj [maxDepth + 1]bool

	// key is the key whose value comes next, at depth 1 or in params.
	key        uint8
	seen       uint16 // top-level keys already met, a bit per field
	inParams   bool   // depth 2 is the first params object
	paramsSeen bool

	// the string, number or literal being read
	strKey   bool  // the string is a key
	field    uint8 // what the value (or key) is for the header; fNone: not kept
	hexLeft  uint8
	utf8Left uint8
	utf8Lo   byte // the range of the next UTF-8 continuation byte
	utf8Hi   byte
	escaped  bool // the kept string has escapes: decode it at its end
	long     bool // the kept value outgrew maxCapture
	capture  []byte
	litLeft  string // the rest of the literal
	litTrue  bool
	num      uint8 // number grammar phase
	numStart int64
	intDigit int // integer digits of the number

	// names keeps the method names and session ids seen, so that reading
	// one allocates only the first time.
	names map[string]string
}

// reset readies the scanner for a new message, keeping its buffers.
func (s *scanner) reset() {
	c, names := s.capture[:0], s.names
	*s = scanner{capture: c, names: names}
}

// maxNames bounds scanner.names: a client inventing method names or
// sessions only makes it start over.
const maxNames = 512

// name is text() for a value that repeats (a method, a session id).
func (s *scanner) name() string {
	if s.escaped {
		return s.text()
	}
	if v, ok := s.names[string(s.capture)]; ok {
		return v
	}
	if s.names == nil || len(s.names) >= maxNames {
		s.names = make(map[string]string)
	}
	v := string(s.capture)
	s.names[v] = v
	return v
}

// feed scans the next piece of the message.
func (s *scanner) feed(p []byte) {
	base := s.base
	s.base += int64(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch s.state {
		case stString:
			// The common case is a run of plain bytes. Chromium accepts raw
			// control characters in strings: only '"', '\\' and non-ASCII
			// bytes need a look.
			j := i
			for j < len(p) && p[j] != '"' && p[j] != '\\' && p[j] < 0x80 {
				j++
			}
			s.keep(p[i:j])
			if j == len(p) {
				return
			}
			i, c = j, p[j]
			switch {
			case c == '"':
				s.endString()
			case c == '\\':
				s.keep(p[i : i+1])
				s.escaped = true
				s.state = stEscape
			default:
				s.keep(p[i : i+1])
				s.startUTF8(c)
			}
		case stEscape:
			switch c {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.state = stString
			case 'u':
				s.state, s.hexLeft = stHex, 4
			default:
				s.state = stError
				return
			}
			s.keep(p[i : i+1])
		case stHex:
			if !isHex(c) {
				s.state = stError
				return
			}
			s.keep(p[i : i+1])
			if s.hexLeft--; s.hexLeft == 0 {
				s.state = stString
			}
		case stUTF8:
			if c < s.utf8Lo || c > s.utf8Hi {
				s.state = stError
				return
			}
			s.keep(p[i : i+1])
			s.utf8Lo, s.utf8Hi = 0x80, 0xBF
			if s.utf8Left--; s.utf8Left == 0 {
				s.state = stString
			}
		case stNumber:
			if s.numByte(c) {
				// Every number is kept, for the range check.
				if len(s.capture) < maxCapture {
					s.capture = append(s.capture, c)
				} else {
					s.long = true
				}
				continue
			}
			s.endNumber(base + int64(i))
			if s.state == stError {
				return
			}
			i-- // c ends the number: read it again
		case stLiteral:
			if c != s.litLeft[0] {
				s.state = stError
				return
			}
			if s.litLeft = s.litLeft[1:]; s.litLeft == "" {
				s.endLiteral()
			}
		case stError:
			return
		default:
			if !isSpace(c) {
				s.structural(c, base+int64(i))
			}
		}
	}
}

// structural handles a byte outside strings, numbers and literals; pos is
// its offset in the message.
func (s *scanner) structural(c byte, pos int64) {
	switch s.state {
	case stValueOrEnd:
		if c == ']' {
			s.closeContainer(pos)
			return
		}
		s.startValue(c, pos)
	case stValue:
		s.startValue(c, pos)
	case stKeyOrEnd, stKey:
		switch {
		case c == '"':
			s.startString(true, s.keyKept())
		case c == '}' && s.state == stKeyOrEnd:
			s.closeContainer(pos)
		default:
			s.state = stError
		}
	case stColon:
		if c != ':' {
			s.state = stError
			return
		}
		s.state = stValue
	case stCommaOrEnd:
		obj := s.isObj[s.depth]
		switch {
		case c == ',' && obj:
			s.state = stKey
		case c == ',':
			s.state = stValue
		case (c == '}' && obj) || (c == ']' && !obj):
			s.closeContainer(pos)
		default:
			s.state = stError
		}
	default: // stDone: something after the message object
		s.state = stError
	}
}

// keyKept is fKey where the scanner reads keys: in the message object and
// in the first params object.
func (s *scanner) keyKept() uint8 {
	if s.depth == 1 || (s.depth == 2 && s.inParams) {
		return fKey
	}
	return fNone
}

// valueField is what the value starting now is for the header.
func (s *scanner) valueField() uint8 {
	switch {
	case s.depth == 1:
		if s.key == fNone || s.key == keyParams || s.seen&(1<<s.key) != 0 {
			return fNone // only the first of a key counts
		}
		s.seen |= 1 << s.key
		return s.key
	case s.depth == 2 && s.inParams:
		return s.key // the last of a key counts: read them all
	}
	return fNone
}

func (s *scanner) startValue(c byte, pos int64) {
	if s.depth == 0 && c != '{' {
		s.state = stError // not an object: Chromium answers without an id
		return
	}
	params := s.depth == 1 && s.key == keyParams && !s.paramsSeen
	field := s.valueField()
	switch field {
	case fID:
		if c != '-' && (c < '0' || c > '9') {
			s.h.idDone = true // and not an id Chromium takes
		}
	case fMethod:
		if c != '"' {
			s.h.methodDone = true
		}
	}
	switch {
	case c == '{' || c == '[':
		if s.depth+1 > maxDepth {
			s.state = stError
			return
		}
		s.depth++
		s.isObj[s.depth] = c == '{'
		if c == '{' {
			s.state = stKeyOrEnd
		} else {
			s.state = stValueOrEnd
		}
		if params {
			s.paramsSeen = true
			s.inParams = c == '{'
			s.h.paramsStart = pos
		}
		s.key = fNone
	case c == '"':
		s.startString(false, field)
	case c == '-' || (c >= '0' && c <= '9'):
		s.state = stNumber
		s.field = field
		s.numStart = pos
		s.intDigit = 0
		s.long = false
		s.capture = s.capture[:0]
		s.num = nMinus
		if c != '-' {
			s.num = nZero
			if c != '0' {
				s.num, s.intDigit = nInt, 1
			}
		}
		s.capture = append(s.capture, c)
	case c == 't':
		s.state, s.litLeft, s.litTrue, s.field = stLiteral, "rue", true, field
	case c == 'f':
		s.state, s.litLeft, s.litTrue, s.field = stLiteral, "alse", false, field
	case c == 'n':
		s.state, s.litLeft, s.litTrue, s.field = stLiteral, "ull", false, field
	default:
		s.state = stError
	}
	if params {
		s.paramsSeen = true
		switch c {
		case '{', 'n':
			s.h.paramsKind = c
		default:
			s.h.paramsKind = 'x'
		}
	}
}

func (s *scanner) closeContainer(pos int64) {
	if s.depth == 2 && s.inParams {
		s.h.paramsEnd = pos + 1
		s.inParams = false
	}
	s.depth--
	s.afterValue()
}

// afterValue moves on once a value has ended.
func (s *scanner) afterValue() {
	s.field = fNone
	if s.depth == 0 {
		s.state = stDone
		return
	}
	s.state = stCommaOrEnd
	s.key = fNone
}

func (s *scanner) startString(key bool, field uint8) {
	s.state = stString
	s.strKey = key
	s.field = field
	s.escaped = false
	s.long = false
	s.capture = s.capture[:0]
}

// keep appends bytes of the value being kept, if one is.
func (s *scanner) keep(b []byte) {
	if s.field == fNone || s.long {
		return
	}
	if len(s.capture)+len(b) > maxCapture {
		s.long = true
		return
	}
	s.capture = append(s.capture, b...)
}

// startUTF8 checks the lead byte of a multi-byte sequence. Chromium
// accepts UTF-8-encoded surrogates (ED A0..BF) but refuses overlong forms
// and code points above U+10FFFF.
func (s *scanner) startUTF8(c byte) {
	s.utf8Lo, s.utf8Hi = 0x80, 0xBF
	switch {
	case c >= 0xC2 && c <= 0xDF:
		s.utf8Left = 1
	case c == 0xE0:
		s.utf8Left, s.utf8Lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEF:
		s.utf8Left = 2
	case c == 0xF0:
		s.utf8Left, s.utf8Lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		s.utf8Left = 3
	case c == 0xF4:
		s.utf8Left, s.utf8Hi = 3, 0x8F
	default:
		s.state = stError
		return
	}
	s.state = stUTF8
}

// text is the kept string, decoded.
func (s *scanner) text() string {
	v := string(s.capture)
	if s.escaped {
		var d string
		if json.Unmarshal([]byte(`"`+v+`"`), &d) == nil {
			return d
		}
		// A lone surrogate escape, which Chromium takes: the raw text only
		// names something that does not exist.
	}
	return v
}

func (s *scanner) endString() {
	field := s.field
	if s.strKey {
		s.state = stColon
		s.field = fNone
		if field == fKey {
			s.key = fNone
			switch {
			case s.long:
			case s.escaped:
				s.key = keyOf([]byte(s.text()), s.depth)
			default:
				s.key = keyOf(s.capture, s.depth)
			}
		}
		return
	}
	switch field {
	case fMethod:
		s.h.methodDone = true
		if s.long {
			s.h.methodLong = true
		} else {
			s.h.method, s.h.hasMethod = s.name(), true
		}
	case fSession:
		if s.long {
			s.h.sessLng = true
		} else {
			s.h.session, s.h.hasSess = s.name(), true
		}
	case fUniqueContextID:
		if !s.long {
			s.h.eval.uniqueContextID = s.text()
		}
	case fObjectID:
		if !s.long {
			s.h.eval.objectID = s.text()
		}
	case fType:
		if !s.long {
			s.h.inputType = s.name()
		}
	}
	s.afterValue()
}

func (s *scanner) endLiteral() {
	if s.field == fThrow {
		s.h.eval.throwOnSideEffect = s.litTrue
	}
	if s.field == fID {
		s.h.idDone = true
	}
	s.afterValue()
}

// finish ends the message and returns its header.
func (s *scanner) finish() *header {
	if s.state == stNumber {
		s.endNumber(s.base)
	}
	s.h.valid = s.state == stDone
	if !s.h.valid {
		s.h.idOK = false
	}
	return &s.h
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
