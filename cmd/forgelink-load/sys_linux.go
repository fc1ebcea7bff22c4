package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// childAttr makes a server die with this program even if it crashes
// before stopping it: SIGTERM lets the daemon close its store.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// execPinned replaces this process with itself under taskset -c cpus, so
// that the whole load generator, and the GOMAXPROCS Go derives from its
// affinity at start, is confined to those CPUs. It returns only on failure.
func execPinned(cpus string, args, env []string) error {
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return fmt.Errorf("--client-cpu needs taskset: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	argv := append([]string{"taskset", "-c", cpus, self}, args...)
	if err := syscall.Exec(taskset, argv, env); err != nil {
		return fmt.Errorf("exec %s: %w", taskset, err)
	}
	return nil
}

func checkPlatform() error { return nil }
