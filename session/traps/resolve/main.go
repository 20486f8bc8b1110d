// crossmatrix trap probe: name resolution. Resolves its argument (`localhost`, or `hostname`
// for os.Hostname()) with whichever resolver GODEBUG=netdns picks: Go's own reads /etc/hosts
// and /etc/resolv.conf; libc's (cgo) also /etc/nsswitch.conf on glibc.
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	name := "localhost"
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	if name == "hostname" {
		h, err := os.Hostname()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		name = h
	}
	addrs, err := net.LookupHost(name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("crossmatrix-trap resolve ok %s %v\n", name, addrs)
}
