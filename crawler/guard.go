package crawler

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// GuardError reports a connection the address guard refused: the address is
// loopback, private, link-local or otherwise not on the public internet, and
// the target does not allow private addresses.
type GuardError struct {
	// Addr is the refused "ip:port", or the host name for a refused URL.
	Addr   string
	Reason string
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("address guard refused %s: %s", e.Addr, e.Reason)
}

// nonPublic are the prefixes, beyond what netip.Addr's predicates cover,
// that a crawler has no business connecting to.
var nonPublic = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64 address"},
}

// nat64 is the well-known NAT64 prefix; the IPv4 address embedded in its
// last 32 bits is checked as well.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// checkAddr returns why ip must not be connected to, or "" when it may.
func checkAddr(ip netip.Addr) string {
	ip = ip.Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	switch {
	case !ip.IsValid():
		return "invalid address"
	case ip.IsLoopback():
		return "loopback address"
	case ip.IsPrivate():
		return "private address"
	case ip.IsLinkLocalUnicast():
		return "link-local address"
	case ip.IsUnspecified():
		return "unspecified address"
	case ip.IsMulticast():
		return "multicast address"
	case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "broadcast address"
	}
	for _, p := range nonPublic {
		if p.prefix.Contains(ip) {
			return p.reason
		}
	}
	return ""
}

// dialPolicy decides whether a dial to addr may go ahead.
type dialPolicy func(addr netip.AddrPort) error

// publicOnly refuses every address checkAddr refuses.
func publicOnly(addr netip.AddrPort) error {
	if reason := checkAddr(addr.Addr()); reason != "" {
		return &GuardError{Addr: addr.String(), Reason: reason}
	}
	return nil
}

// guardedDialer returns a dialer that runs policy on the address about to
// be connected to, after name resolution, so a host name that resolves to a
// refused address is refused as well. A nil policy allows everything.
func guardedDialer(policy dialPolicy) *net.Dialer {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if policy == nil {
		return d
	}
	d.ControlContext = func(_ context.Context, network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &GuardError{Addr: address, Reason: "not an IP address"}
		}
		return policy(ap)
	}
	return d
}

// GuardedTransport returns an http.Transport for requests wildwatch makes
// beyond crawling, such as webhook deliveries, under the crawler's address
// guard: every address dialled, after name resolution and on every
// redirect, must be public, or the dial fails with a *GuardError.
// allowPrivate lifts the guard, as a target's allow_private_addresses does
// for crawling (test and demo setups). The transport uses no proxy.
func GuardedTransport(allowPrivate bool) *http.Transport {
	if allowPrivate {
		return newTransport(nil)
	}
	return newTransport(publicOnly)
}
