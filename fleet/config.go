package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// Room is one codrive to watch: a name for people and the base URL of its
// operator listener (`codrive attach --http ADDR`), with the token that
// listener wants, if any.
type Room struct {
	// Name is how the room is shown and how --json's "room" names it.
	Name string
	// URL is the listener's base URL, e.g. http://10.0.0.5:8081; a path
	// prefix (a reverse proxy's /rooms/a) is kept. It never carries the
	// token.
	URL string
	// TokenFile is where the token was read from, for messages.
	TokenFile string

	token string
}

// HasToken reports whether the room sends a token.
func (r Room) HasToken() bool { return r.token != "" }

// WithToken returns r sending token (a program that holds the secret in
// memory already); the codrive command reads token files instead.
func (r Room) WithToken(token string) Room {
	r.token = strings.TrimSpace(token)
	return r
}

// maxName bounds a room name: it is a table column.
const maxName = 40

// ParseRoom reads `NAME=URL`, the form of --room and of the environment
// variable's entries.
func ParseRoom(s string) (Room, error) {
	name, raw, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok {
		return Room{}, fmt.Errorf("room %q: want NAME=URL, e.g. checkout=http://10.0.0.5:8081", s)
	}
	r := Room{Name: strings.TrimSpace(name), URL: strings.TrimSpace(raw)}
	if err := r.check(); err != nil {
		return Room{}, err
	}
	return r, nil
}

// ParseRooms reads a list of `NAME=URL` entries separated by commas,
// spaces or newlines: the environment variable's form.
func ParseRooms(s string) ([]Room, error) {
	var rooms []Room
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		r, err := ParseRoom(f)
		if err != nil {
			return nil, err
		}
		rooms = append(rooms, r)
	}
	return rooms, nil
}

// check validates the name and the URL. A URL with user info or a query
// is refused: a token there would end up in process lists, shell
// histories and error messages, so it belongs in a token file.
func (r *Room) check() error {
	if r.Name == "" {
		return fmt.Errorf("room %q: the name is empty", r.URL)
	}
	if len([]rune(r.Name)) > maxName {
		return fmt.Errorf("room %q: the name is longer than %d characters", r.Name, maxName)
	}
	if strings.IndexFunc(r.Name, func(c rune) bool { return unicode.IsControl(c) || unicode.IsSpace(c) || c == '=' || c == ',' }) >= 0 {
		return fmt.Errorf("room %q: a name has no spaces, commas, '=' or control characters", r.Name)
	}
	u, err := url.Parse(r.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("room %s: %q is not an http(s) URL of a codrive --http listener (e.g. http://10.0.0.5:8081)", r.Name, redact(r.URL))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("room %s: the URL carries user info, a query or a fragment: give the token in a file (tokenFile, --token-file), never in the URL", r.Name)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	r.URL = u.String()
	return nil
}

// redact keeps only a URL's scheme and host for an error message.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}

// File is the rooms file (--rooms rooms.yaml):
//
//	tokenFile: /run/secrets/codrive   # optional: every room's token file
//	rooms:
//	  - name: checkout
//	    url: http://10.0.0.5:8081
//	    tokenFile: checkout.token     # optional: this room's; relative to the file
//	  - name: search
//	    url: http://10.0.0.6:8081
//
// token_file is read as tokenFile too: both spellings are common in YAML,
// and a file that gives both for one room is refused.
type File struct {
	// TokenFile is the token file of the rooms that name none.
	TokenFile      string `yaml:"tokenFile"`
	TokenFileSnake string `yaml:"token_file"`
	Rooms          []struct {
		Name           string `yaml:"name"`
		URL            string `yaml:"url"`
		TokenFile      string `yaml:"tokenFile"`
		TokenFileSnake string `yaml:"token_file"`
	} `yaml:"rooms"`
}

// oneTokenFile is the token file given as tokenFile or token_file.
func oneTokenFile(camel, snake string) (string, error) {
	if camel != "" && snake != "" {
		return "", errors.New("tokenFile and token_file both given: keep one")
	}
	return camel + snake, nil
}

// LoadFile reads a rooms file. Unknown keys are refused (a misspelt
// tokenFile would silently send no token). Relative token files are
// relative to the rooms file. The tokens are read by LoadTokens.
func LoadFile(path string) ([]Room, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rooms file: %w", err)
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("rooms file %s: empty (want `rooms:` with name and url per room)", path)
		}
		return nil, fmt.Errorf("rooms file %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	all, err := oneTokenFile(f.TokenFile, f.TokenFileSnake)
	if err != nil {
		return nil, fmt.Errorf("rooms file %s: %w", path, err)
	}
	rooms := make([]Room, 0, len(f.Rooms))
	for i, e := range f.Rooms {
		own, err := oneTokenFile(e.TokenFile, e.TokenFileSnake)
		if err != nil {
			return nil, fmt.Errorf("rooms file %s, entry %d: %w", path, i+1, err)
		}
		r := Room{Name: strings.TrimSpace(e.Name), URL: strings.TrimSpace(e.URL), TokenFile: rel(own)}
		if r.TokenFile == "" {
			r.TokenFile = rel(all)
		}
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("rooms file %s, entry %d: %w", path, i+1, err)
		}
		rooms = append(rooms, r)
	}
	if len(rooms) == 0 {
		return nil, fmt.Errorf("rooms file %s: no rooms (want `rooms:` with name and url per room)", path)
	}
	return rooms, nil
}

// maxToken bounds a token file: a token is a line, not a document.
const maxToken = 4096

// LoadTokens reads each room's token file, or defaultFile for a room that
// names none ("" for no token). The error names the file, never its
// content.
func LoadTokens(rooms []Room, defaultFile string) error {
	for i := range rooms {
		r := &rooms[i]
		if r.TokenFile == "" {
			r.TokenFile = defaultFile
		}
		if r.TokenFile == "" {
			continue
		}
		b, err := os.ReadFile(r.TokenFile)
		if err != nil {
			return fmt.Errorf("room %s: token file: %w", r.Name, err)
		}
		if len(b) > maxToken {
			return fmt.Errorf("room %s: token file %s is larger than %d bytes", r.Name, r.TokenFile, maxToken)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" || strings.ContainsFunc(tok, unicode.IsControl) {
			return fmt.Errorf("room %s: token file %s is empty or holds more than one line", r.Name, r.TokenFile)
		}
		r.token = tok
	}
	return nil
}

// CheckRooms refuses an empty list and names used twice.
func CheckRooms(rooms []Room) error {
	if len(rooms) == 0 {
		return errors.New("no rooms: give --room NAME=URL, --rooms FILE or $" + EnvRooms)
	}
	seen := map[string]bool{}
	for _, r := range rooms {
		if seen[r.Name] {
			return fmt.Errorf("room %s is named twice", r.Name)
		}
		seen[r.Name] = true
	}
	return nil
}

// EnvRooms is the environment variable the codrive command reads rooms
// from: NAME=URL entries separated by commas or spaces.
const EnvRooms = "CODRIVE_FLEET_ROOMS"
