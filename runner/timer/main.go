// crossmatrix-timer runs a command repeatedly inside one sandbox and reports each run's wall
// time, so a cell's startup repetitions pay for one bubblewrap start instead of one per run.
// It is built static (CGO_ENABLED=0) for the host and bound into the run sandbox.
//
// Usage: timer WARMUPS RUNS TIMEOUT_MS -- ARGV...
//
// For each run it prints one line to stdout:
//
//	run <wall ns> <user+sys ns> exit <code>
//	run <wall ns> <user+sys ns> signal <number>
//	timeout <wall ns>
//
// Warm-up runs are executed but not printed. It stops at the first run that does not exit 0
// (the caller already verified the program once). The command's stdin, stdout and stderr are
// /dev/null, as in `hyperfine -N --output=null`.
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "crossmatrix-timer: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 6 || os.Args[4] != "--" {
		fail("usage: timer WARMUPS RUNS TIMEOUT_MS -- ARGV...")
	}
	warmups, err1 := strconv.Atoi(os.Args[1])
	runs, err2 := strconv.Atoi(os.Args[2])
	timeoutMs, err3 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil || err3 != nil || warmups < 0 || runs < 0 || timeoutMs <= 0 {
		fail("bad numbers in %q", os.Args[1:4])
	}
	argv := os.Args[5:]
	null, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		fail("open /dev/null: %v", err)
	}
	fd := null.Fd()
	attr := &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{fd, fd, fd},
	}
	timeout := time.Duration(timeoutMs) * time.Millisecond
	for i := 0; i < warmups+runs; i++ {
		start := time.Now()
		pid, err := syscall.ForkExec(argv[0], argv, attr)
		if err != nil {
			fail("exec %s: %v", argv[0], err)
		}
		done := make(chan struct{})
		timer := time.AfterFunc(timeout, func() {
			syscall.Kill(pid, syscall.SIGKILL)
			close(done)
		})
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		for {
			_, err = syscall.Wait4(pid, &ws, 0, &ru)
			if err != syscall.EINTR {
				break
			}
		}
		wall := time.Since(start)
		if !timer.Stop() {
			<-done
			fmt.Printf("timeout %d\n", wall.Nanoseconds())
			return
		}
		if err != nil {
			fail("wait: %v", err)
		}
		cpu := syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime)
		measured := i >= warmups
		switch {
		case ws.Exited():
			if measured {
				fmt.Printf("run %d %d exit %d\n", wall.Nanoseconds(), cpu, ws.ExitStatus())
			}
			if ws.ExitStatus() != 0 {
				return
			}
		case ws.Signaled():
			fmt.Printf("run %d %d signal %d\n", wall.Nanoseconds(), cpu, int(ws.Signal()))
			return
		}
	}
}
