// crossmatrix trap probe: time zones. time.LoadLocation reads the zone database from the
// root (/usr/share/zoneinfo), unless the binary embeds it (import _ "time/tzdata").
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).In(loc)
	fmt.Printf("crossmatrix-trap tzdata ok %s\n", at.Format(time.RFC3339))
}
