//go:build cgo

package main

/*
static int crossmatrix_add(int a, int b) { return a + b; }
*/
import "C"

const cgoEnabled = 1

func cAdd(a, b int) int { return int(C.crossmatrix_add(C.int(a), C.int(b))) }
