// crossmatrix trap probe: user lookup. os/user reads /etc/passwd (pure Go with cgo=0 or
// -tags osusergo; libc's getpwuid_r with cgo=1); without cgo it falls back to $USER and $HOME.
package main

import (
	"fmt"
	"os"
	"os/user"
)

func main() {
	u, err := user.Current()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("crossmatrix-trap user ok uid=%s name=%s home=%s\n", u.Uid, u.Username, u.HomeDir)
}
