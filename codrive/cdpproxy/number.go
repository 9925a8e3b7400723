package cdpproxy

import (
	"math"
	"strconv"
)

// numByte advances the number grammar; false when c does not continue it.
func (s *scanner) numByte(c byte) bool {
	digit := c >= '0' && c <= '9'
	switch s.num {
	case nMinus:
		switch {
		case c == '0':
			s.num = nZero
		case digit:
			s.num, s.intDigit = nInt, 1
		default:
			return false
		}
	case nZero, nInt:
		switch {
		case digit && s.num == nInt:
			s.intDigit++
		case c == '.':
			s.num = nDot
		case c == 'e' || c == 'E':
			s.num = nExp
		default:
			return false
		}
	case nDot:
		if !digit {
			return false
		}
		s.num = nFrac
	case nFrac:
		switch {
		case digit:
		case c == 'e' || c == 'E':
			s.num = nExp
		default:
			return false
		}
	case nExp:
		switch {
		case c == '+' || c == '-':
			s.num = nExpSign
		case digit:
			s.num = nExpDigits
		default:
			return false
		}
	case nExpSign:
		if !digit {
			return false
		}
		s.num = nExpDigits
	case nExpDigits:
		if !digit {
			return false
		}
	}
	return true
}

// endNumber ends the number before pos.
func (s *scanner) endNumber(pos int64) {
	switch s.num {
	case nZero, nInt, nFrac, nExpDigits:
	default:
		s.state = stError // "-", "1.", "1e": Chromium's "invalid token"
		return
	}
	field := s.field
	// Chromium refuses a number that is not a finite double. Without an
	// exponent only more than 309 integer digits are sure to be too large;
	// a number too long to keep passes (an answer that does not come costs
	// less than one that comes unexpected).
	f, finite := 0.0, true
	switch {
	case s.num == nInt || s.num == nZero:
		f, finite = plainInt(s.capture, s.long, s.intDigit)
	case !s.long:
		var err error
		f, err = strconv.ParseFloat(string(s.capture), 64)
		finite = err == nil
	case s.num != nExpDigits:
		finite = s.intDigit <= 309
	}
	if !finite {
		s.state = stError
		return
	}
	switch field {
	case fID:
		s.h.idDone = true
		if !s.long && f == math.Trunc(f) && f >= math.MinInt32 && f <= math.MaxInt32 {
			s.h.idOK, s.h.id = true, int32(f)
			s.h.idStart, s.h.idEnd = s.numStart, pos
		}
	case fContextID:
		s.h.eval.contextID = wholeNumber(f, s.long)
	case fExecContextID:
		s.h.eval.executionContextID = wholeNumber(f, s.long)
	}
	s.afterValue()
}

// plainInt reads an integer without a fraction or exponent; past 15
// digits it leaves it to ParseFloat, which rounds as Chromium does.
func plainInt(text []byte, long bool, digits int) (float64, bool) {
	if digits > 15 {
		if long {
			return 0, digits <= 309
		}
		f, err := strconv.ParseFloat(string(text), 64)
		return f, err == nil
	}
	var n int64
	for _, c := range text {
		if c != '-' {
			n = n*10 + int64(c-'0')
		}
	}
	if text[0] == '-' {
		n = -n
	}
	return float64(n), true
}

func wholeNumber(f float64, long bool) int64 {
	if long || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0
	}
	return int64(f)
}
