// crossmatrix trap probe: /proc. os.Executable and much of the runtime's introspection read
// /proc/self.
package main

import (
	"fmt"
	"os"
)

func main() {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := os.ReadFile("/proc/self/status"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("crossmatrix-trap proc ok %s\n", exe)
}
