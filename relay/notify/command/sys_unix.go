//go:build unix

package command

import (
	"errors"
	"os"
	"syscall"
)

func checkPlatform() error { return nil }

// groupAttr starts the program as the leader of a process group of its
// own, so that signals reach everything it started.
func groupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// terminateGroup asks the whole group to stop.
func terminateGroup(pgid int) error {
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
	return nil
}

// killGroup kills what is left of the group once its leader is reaped.
// A pid is not reused while a group of that id has members, so this
// reaches the group or, when it is empty, nothing.
func killGroup(pgid int) error {
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// transient reports whether a failure to start may pass: the host was out
// of processes, memory or file descriptors.
func transient(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EAGAIN, syscall.ENOMEM, syscall.EMFILE, syscall.ENFILE} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}
