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
// Warm-up runs are executed but not printed, unless they fail (`warmup <wall ns> <cpu ns> exit
// <code>` or `... signal <n>`). It stops at the first run that does not exit with the expected
// code (the caller already verified the program once). The command's stdout and stderr are
// /dev/null, as in `hyperfine -N --output=null`; its stdin too, or the file named by
// CROSSMATRIX_TIMER_STDIN, opened afresh for every run. CROSSMATRIX_TIMER_EXIT is the expected
// exit code (default 0). Neither variable reaches the command.
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
	expected := 0
	if s := os.Getenv("CROSSMATRIX_TIMER_EXIT"); s != "" {
		if expected, err = strconv.Atoi(s); err != nil {
			fail("CROSSMATRIX_TIMER_EXIT=%q is not a number", s)
		}
	}
	stdinFile := os.Getenv("CROSSMATRIX_TIMER_STDIN")
	var env []string
	for _, kv := range os.Environ() {
		if len(kv) < 18 || kv[:18] != "CROSSMATRIX_TIMER_" {
			env = append(env, kv)
		}
	}
	fd := null.Fd()
	timeout := time.Duration(timeoutMs) * time.Millisecond
	for i := 0; i < warmups+runs; i++ {
		in := fd
		var input *os.File
		if stdinFile != "" {
			if input, err = os.Open(stdinFile); err != nil {
				fail("open %s: %v", stdinFile, err)
			}
			in = input.Fd()
		}
		attr := &syscall.ProcAttr{
			Env:   env,
			Files: []uintptr{in, fd, fd},
		}
		start := time.Now()
		pid, err := syscall.ForkExec(argv[0], argv, attr)
		if input != nil {
			input.Close()
		}
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
		kind := "run"
		if i < warmups {
			kind = "warmup"
		}
		switch {
		case ws.Exited():
			if kind == "run" || ws.ExitStatus() != expected {
				fmt.Printf("%s %d %d exit %d\n", kind, wall.Nanoseconds(), cpu, ws.ExitStatus())
			}
			if ws.ExitStatus() != expected {
				return
			}
		case ws.Signaled():
			fmt.Printf("%s %d %d signal %d\n", kind, wall.Nanoseconds(), cpu, int(ws.Signal()))
			return
		}
	}
}
