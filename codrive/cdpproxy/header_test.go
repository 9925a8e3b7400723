package cdpproxy

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// scanAll scans msg fed in pieces of n bytes (0: whole).
func scanAll(msg []byte, n int) header {
	var s scanner
	s.reset()
	if n <= 0 {
		s.feed(msg)
	} else {
		for i := 0; i < len(msg); i += n {
			s.feed(msg[i:min(i+n, len(msg))])
		}
	}
	return *s.finish()
}

func TestScannerHeader(t *testing.T) {
	t.Parallel()
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, tc := range []struct {
		msg  string
		want header // compared: valid, idOK, id, method, session, paramsKind, eval
	}{
		{`{"id":1,"method":"Browser.getVersion"}`, header{valid: true, idOK: true, id: 1, method: "Browser.getVersion"}},
		{` {"id" : 84 , "method" : "A.b"}` + "\n", header{valid: true, idOK: true, id: 84, method: "A.b"}},
		{`{"method":"A.b","id":-2147483648}`, header{valid: true, idOK: true, id: -2147483648, method: "A.b"}},
		{`{"id":2147483647}`, header{valid: true, idOK: true, id: 2147483647}},
		{`{"id":2147483648,"method":"A.b"}`, header{valid: true, method: "A.b"}},
		{`{"id":-2147483649}`, header{valid: true}},
		{`{"id":9007199254740992}`, header{valid: true}},
		{`{"id":2.0}`, header{valid: true, idOK: true, id: 2}},
		{`{"id":1e2}`, header{valid: true, idOK: true, id: 100}},
		{`{"id":-0}`, header{valid: true, idOK: true, id: 0}},
		{`{"id":1.5}`, header{valid: true}},
		{`{"id":"7"}`, header{valid: true}},
		{`{"id":null}`, header{valid: true}},
		{`{"id":[7]}`, header{valid: true}},
		// The first of a key is the one: Chromium refuses the message when
		// it has a key twice, answering with the first id.
		{`{"id":79,"id":80,"method":"A.b"}`, header{valid: true, idOK: true, id: 79, method: "A.b"}},
		{`{"meth\u006fd":"In\u0070ut.x","\u0069d":3}`, header{valid: true, idOK: true, id: 3, method: "Input.x"}},
		{`{"id":1,"method":5}`, header{valid: true, idOK: true, id: 1}},
		{`{"id":1,"method":"A.b","sessionId":"S1"}`, header{valid: true, idOK: true, id: 1, method: "A.b", session: "S1"}},
		{`{"id":1,"method":"A.b","params":null}`, header{valid: true, idOK: true, id: 1, method: "A.b", paramsKind: 'n'}},
		{`{"id":1,"method":"A.b","params":5}`, header{valid: true, idOK: true, id: 1, method: "A.b", paramsKind: 'x'}},
		{`{"id":1,"method":"A.b","params":[]}`, header{valid: true, idOK: true, id: 1, method: "A.b", paramsKind: 'x'}},
		// Params of an evaluation: V8 takes the last of a key.
		{`{"id":1,"method":"Runtime.evaluate","params":{"expression":"x","contextId":3,"throwOnSideEffect":true,"throwOnSideEffect":false}}`,
			header{valid: true, idOK: true, id: 1, method: "Runtime.evaluate", paramsKind: '{', eval: evalParams{contextID: 3}}},
		{`{"params":{"objectId":"1.2.3","uniqueContextId":"u-1","executionContextId":9,"throwOnSideEffect":true,"nested":{"contextId":5}},"id":1,"method":"Runtime.callFunctionOn"}`,
			header{valid: true, idOK: true, id: 1, method: "Runtime.callFunctionOn", paramsKind: '{', eval: evalParams{objectID: "1.2.3", uniqueContextID: "u-1", executionContextID: 9, throwOnSideEffect: true}}},
		// Only the first params object counts.
		{`{"id":1,"params":{"contextId":4},"params":{"contextId":5}}`, header{valid: true, idOK: true, id: 1, paramsKind: '{', eval: evalParams{contextID: 4}}},
		// Chromium's leniencies.
		{"{\"id\":1,\v\"method\":\"A.b\"\f}", header{valid: true, idOK: true, id: 1, method: "A.b"}},
		{"{\"id\":1,\"method\":\"A.b\",\"params\":{\"x\":\"a\x01\x7f\xed\xa0\x80\\ud800\"}}", header{valid: true, idOK: true, id: 1, method: "A.b", paramsKind: '{'}},
		{`{"id":1,"params":{"x":` + deep(299) + `}}`, header{valid: true, idOK: true, id: 1, paramsKind: '{'}},
		{`{"id":1,"params":{"x":1e-400,"y":1.7976931348623157e308,"z":` + strings.Repeat("9", 300) + `}}`, header{valid: true, idOK: true, id: 1, paramsKind: '{'}},
		// What Chromium's parser refuses: answered without an id.
		{`{"id":1,"params":{"x":` + deep(300) + `}}`, header{}},
		{`{"id":1,"params":{"x":1.7976931348623159e308}}`, header{}},
		{`{"id":1,"params":{"x":1e309}}`, header{}},
		{`{"id":1,"params":{"x":` + strings.Repeat("9", 310) + `}}`, header{}},
		{`{"id":1,"method":"A.b"} trailing`, header{}},
		{`{"id":1,"method":"A.b",}`, header{}},
		{`{"id":1,"method":"A.b"`, header{}},
		{`{"id":1,"x":NaN}`, header{}},
		{`{"id":1,"x":'a'}`, header{}},
		{`{"id":1,"x":01}`, header{}},
		{`{"id":1,"x":1.}`, header{}},
		{`{"id":1,"x":.5}`, header{}},
		{`{"id":1,"x":-}`, header{}},
		{`{"id":1,"x":+1}`, header{}},
		{`{"id":1,"x":[1,]}`, header{}},
		{`{"id":1,"x":tru}`, header{}},
		{`{"id":1,"x":"\q"}`, header{}},
		{`{"id":1,"x":"\u12"}`, header{}},
		{"{\"id\":1,\"x\":\"\xff\"}", header{}},
		{"{\"id\":1,\"x\":\"\xc0\x80\"}", header{}},
		{"{\"id\":1,\"x\":\"\xf4\x90\x80\x80\"}", header{}},
		{"{\"id\":1,\u00a0\"method\":\"A.b\"}", header{}},
		{"{\"id\":1,\x00\"method\":\"A.b\"}", header{}},
		{`not json`, header{}},
		{`[]`, header{}},
		{`"x"`, header{}},
		{``, header{}},
		{` `, header{}},
	} {
		for _, piece := range []int{0, 1, 2, 7} {
			got := scanAll([]byte(tc.msg), piece)
			w := tc.want
			bad := got.valid != w.valid || got.idOK != w.idOK
			if w.valid {
				bad = bad || got.id != w.id || got.method != w.method || got.session != w.session || got.paramsKind != w.paramsKind || got.eval != w.eval
			}
			if bad {
				t.Errorf("%.120q in pieces of %d:\n got valid %v idOK %v id %d method %q session %q params %q eval %+v\nwant valid %v idOK %v id %d method %q session %q params %q eval %+v",
					tc.msg, piece, got.valid, got.idOK, got.id, got.method, got.session, got.paramsKind, got.eval,
					w.valid, w.idOK, w.id, w.method, w.session, w.paramsKind, w.eval)
				break
			}
		}
	}
}

// TestScannerSpans: the id's and the params' offsets cut the message where
// they are, whatever pieces it came in.
func TestScannerSpans(t *testing.T) {
	t.Parallel()
	msg := []byte(`{ "method":"Runtime.evaluate", "id" : -12 ,"params":{"expression":"'}'","a":[{"b":"]"}]} ,"sessionId":"S"}`)
	for _, piece := range []int{0, 1, 3} {
		h := scanAll(msg, piece)
		if got := string(msg[h.idStart:h.idEnd]); got != "-12" {
			t.Errorf("pieces of %d: id span %q", piece, got)
		}
		if got := string(msg[h.paramsStart:h.paramsEnd]); got != `{"expression":"'}'","a":[{"b":"]"}]}` {
			t.Errorf("pieces of %d: params span %q", piece, got)
		}
		if h.session != "S" || !h.idDone || !h.methodDone {
			t.Errorf("pieces of %d: %+v", piece, h)
		}
	}
	// Routing a large message needs the id and the method before its end.
	var s scanner
	s.reset()
	s.feed([]byte(`{"id":5,"method":"Fetch.fulfillRequest","params":{"body":"AAAA`))
	if !s.h.idDone || !s.h.idOK || !s.h.methodDone || s.h.method != "Fetch.fulfillRequest" {
		t.Errorf("partial header %+v", s.h)
	}
	s.reset()
	s.feed([]byte(`{"id":12`))
	if s.h.idDone {
		t.Error("an id is done before the byte after it")
	}
}

// FuzzScanner: whatever the message and however it is cut, the scanner
// agrees with itself and never calls valid what Go's strict parser
// refuses (Chromium's leniencies aside).
func FuzzScanner(f *testing.F) {
	for _, seed := range []string{
		`{"id":1,"method":"Browser.getVersion"}`,
		`{"id":3,"method":"Runtime.evaluate","sessionId":"S","params":{"expression":"1","contextId":2}}`,
		`{"id":1e2,"meth\u006fd":"x","params":{"a":[1,{"b":null}],"c":"\ud83d\ude00"}}`,
		`{"id":1,"x":[1,]}`, `[]`, `{"id":-0.0e0}`,
	} {
		f.Add([]byte(seed), 3)
	}
	f.Fuzz(func(t *testing.T, msg []byte, piece int) {
		whole := scanAll(msg, 0)
		cut := scanAll(msg, 1+(piece&15))
		if whole.valid != cut.valid || whole.idOK != cut.idOK || whole.id != cut.id || whole.method != cut.method || whole.session != cut.session || whole.eval != cut.eval {
			t.Fatalf("pieces disagree on %q: %+v vs %+v", msg, whole, cut)
		}
		// Chromium takes raw control characters in strings, and \v and \f as
		// whitespace; Go's parser does not.
		plain := utf8.Valid(msg) && !bytes.ContainsFunc(msg, func(r rune) bool { return r < 0x20 })
		if whole.valid && plain && !json.Valid(msg) {
			t.Fatalf("valid for the scanner, not JSON: %q", msg)
		}
		if whole.idOK && !bytes.HasPrefix(bytes.TrimLeft(msg[whole.idStart:whole.idEnd], "-"), []byte{msg[whole.idEnd-1]}) && len(msg[whole.idStart:whole.idEnd]) == 0 {
			t.Fatalf("empty id span in %q", msg)
		}
	})
}

// BenchmarkScanHeader reads the header of a typical Playwright command.
func BenchmarkScanHeader(b *testing.B) {
	msg := []byte(`{"id":1234,"method":"Runtime.callFunctionOn","params":{"functionDeclaration":"(utilityScript, ...args) => utilityScript.evaluate(...args)","objectId":"-4389263874323.3.1","arguments":[{"objectId":"-4389263874323.3.1"},{"value":true},{"value":true},{"value":"() => document.title"},{"value":1},{"value":{"v":"undefined"}}],"returnByValue":true,"awaitPromise":true,"userGesture":true},"sessionId":"A1B2C3D4E5F60718293A4B5C6D7E8F90"}`)
	var s scanner
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		s.reset()
		s.feed(msg)
		if h := s.finish(); !h.idOK || h.method != "Runtime.callFunctionOn" {
			b.Fatal("bad header")
		}
	}
}
