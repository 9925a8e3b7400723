package sanitize

import "testing"

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"alice":                       "alice",
		"évé 👩‍💻":                     "évé 👩‍💻",
		"a\x1b[2Jb":                   "a [2Jb",
		"t\x1b]0;pwned\x07i":          "t ]0;pwned i",
		"csi\u009b31m":                "csi 31m",
		"line\nbreak\ttab\x7fdel\x00": "line break tab del ",
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                                     "",
		"https://u:pw@shop.test/a/b?tok=1#f":   "https://shop.test/a/b",
		"http://x.test/\x1b[2J":                "http://x.test/%20%5B2J",
		"about:blank":                          "about:blank",
		"chrome://newtab/":                     "chrome://newtab/",
		"data:text/html,<title>secret</title>": "data:text/html,…",
		"::not a url":                          "(unparsable URL hidden)",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLine(t *testing.T) {
	for in, want := range map[string]string{
		"  a\tb\n\nc  ":          "a b c",
		"red\x1b[31m\x1b]0;x\a!": "red [31m ]0;x !",
		"":                       "",
	} {
		if got := Line(in); got != want {
			t.Errorf("Line(%q) = %q, want %q", in, got, want)
		}
	}
}
