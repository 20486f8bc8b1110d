// crossmatrix trap probe: the CPU level. Built with GOAMD64/GOARM/GOARM64/GORISCV64 above the
// baseline and run on an older CPU model: Go's runtime refuses to start, or the first newer
// instruction raises SIGILL.
package main

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

var counter atomic.Int64

func main() {
	counter.Add(1)
	fmt.Printf("crossmatrix-trap cpu-level ok %s/%s %d\n", runtime.GOOS, runtime.GOARCH, counter.Load())
}
