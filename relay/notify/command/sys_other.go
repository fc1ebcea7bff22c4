//go:build !unix

package command

import (
	"errors"
	"syscall"
)

func checkPlatform() error {
	return errors.New("exec targets need a Unix host: they run programs in process groups")
}

func groupAttr() *syscall.SysProcAttr { return nil }

func terminateGroup(int) error { return errors.New("no process groups") }

func killGroup(int) error { return nil }

func transient(error) bool { return false }
