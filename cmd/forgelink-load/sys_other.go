//go:build !linux

package main

import (
	"errors"
	"syscall"
)

var errNotLinux = errors.New("forgelink-load needs Linux: it reads /proc and pins with taskset")

func childAttr() *syscall.SysProcAttr { return nil }

func execPinned(string, []string, []string) error { return errNotLinux }

func checkPlatform() error { return errNotLinux }
