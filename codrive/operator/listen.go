package operator

import (
	"errors"
	"fmt"
	"net"

	"github.com/codrive/codrive/internal/httpguard"
)

// Listen binds addr for the operator endpoints. An address that is not
// loopback needs a token: whoever reaches /codrive/* can move control and
// read the room. ":PORT" and "0.0.0.0:PORT" listen everywhere, as a pod's
// probes need.
func Listen(addr, token string) (net.Listener, error) {
	if err := CheckAddr(addr, token); err != nil {
		return nil, fmt.Errorf("operator: listen on %s: %w", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("operator: listen on %s: %w", addr, err)
	}
	return ln, nil
}

// CheckAddr says whether Listen would accept addr and token, without
// binding: for a command that checks its flags before any network call.
func CheckAddr(addr, token string) error {
	loopback, err := httpguard.LoopbackAddr(addr)
	if err != nil {
		return fmt.Errorf("operator: %w", err)
	}
	if !loopback && token == "" {
		return errors.New("it is not loopback, so it exposes control of the browser beyond this machine: set a token (/codrive/* then needs it; /healthz, /readyz and /metrics never do), or listen on 127.0.0.1")
	}
	return nil
}
