//go:build cgo

package main

// With only the standard library's cgo packages (net, os/user) Go links internally, which
// musl targets do not support; a C function of its own makes it link externally, as
// programs with C dependencies do.

// static int crossmatrix_trap_cgo(void) { return 1; }
import "C"

var _ = int(C.crossmatrix_trap_cgo())
