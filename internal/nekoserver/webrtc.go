package nekoserver

import (
	"errors"
	"fmt"
	"net"
)

// udpPorts is the size of real neko's WebRTC port range.
const udpPorts = 4

// freeUDPRange finds n consecutive free UDP ports on 127.0.0.1 and returns
// the first. As with freePort, another process could take one before neko
// binds it.
func freeUDPRange(n int) (int, error) {
	for attempt := 0; attempt < 50; attempt++ {
		first, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("nekoserver: free udp port: %w", err)
		}
		base := first.LocalAddr().(*net.UDPAddr).Port
		held := []net.PacketConn{first}
		ok := base+n-1 <= 65535
		for p := base + 1; ok && p < base+n; p++ {
			pc, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			held = append(held, pc)
		}
		for _, pc := range held {
			pc.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, errors.New("nekoserver: no free range of udp ports")
}

// iceAddress is the address real neko advertises in its ICE candidates
// (NEKO_WEBRTC_NAT1TO1). Not 127.0.0.1: pion, on neko's side, gathers
// host candidates only on non-loopback interfaces (it binds each
// interface's address, not 0.0.0.0) and NAT1TO1 only rewrites the address
// it advertises, so a peer on this machine sending to 127.0.0.1 reaches no
// socket and ICE fails. The machine's own first IPv4 address is what a LAN
// deployment advertises, and reachable from here. Without any, WebRTC
// cannot work and 127.0.0.1 is kept for REST and WebSocket tests, which
// need no media (neko/viewer then fails to connect, and says so).
func iceAddress() string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "127.0.0.1"
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip4 := ipn.IP.To4(); ip4 != nil && !ip4.IsLinkLocalUnicast() {
					return ip4.String()
				}
			}
		}
	}
	return "127.0.0.1"
}
