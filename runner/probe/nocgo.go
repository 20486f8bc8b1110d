//go:build !cgo

package main

const cgoEnabled = 0

func cAdd(a, b int) int { return a + b }
