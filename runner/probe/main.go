// The crossmatrix probe: reports what the runtime sees, so every cell can check that the
// binary runs, that it was built by the toolchain it claims (runtime.Version() against the
// toolchain: the GOROOT-mismatch trap) and, with cgo, that calling into C works.
package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	fmt.Println("crossmatrix-probe 1")
	fmt.Printf("go_version=%s\n", runtime.Version())
	fmt.Printf("goos=%s\n", runtime.GOOS)
	fmt.Printf("goarch=%s\n", runtime.GOARCH)
	fmt.Printf("cgo=%d\n", cgoEnabled)
	if cgoEnabled == 1 {
		fmt.Printf("c_call=%d\n", cAdd(40, 2))
	}
	os.Exit(0)
}
