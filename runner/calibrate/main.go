// Calibration: the same fixed work natively and under an emulator; the ratio of the two
// wall times scales the emulated cells' timeouts.
package main

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"strconv"
)

func main() {
	buf := make([]byte, 1<<16)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	var sum [32]byte
	for i := 0; i < 60; i++ {
		buf[0] = sum[0]
		sum = sha256.Sum256(buf)
	}
	xs := make([]int, 100000)
	for i := range xs {
		xs[i] = (i * 7919) % 100003
	}
	sort.Ints(xs)
	m := make(map[string]int)
	for i := 0; i < 50000; i++ {
		m[strconv.Itoa(i)] += i
	}
	fmt.Println(sum[0], xs[len(xs)/2], len(m))
}
