// crossmatrix trap probe: shelling out. exec.Command("sh", …) looks sh up in $PATH, which a
// root without a shell (scratch, distroless) does not have.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

func main() {
	out, err := exec.Command("sh", "-c", "echo crossmatrix").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("crossmatrix-trap exec-sh ok %s\n", strings.TrimSpace(string(out)))
}
