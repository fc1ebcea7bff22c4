package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a server gets to exit after SIGTERM: the daemon's
// own shutdown grace for in-flight requests is 30 s.
const stopGrace = 35 * time.Second

// child is a server process this program started and must stop.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been waited for
	err  error         // Wait's result; read only after done is closed
}

// serverCommand runs bin with args and env, under taskset -c cpus when cpus
// is set; taskset execs bin, so the pid is the server's own.
func serverCommand(bin string, args, env []string, cpus string) (*exec.Cmd, error) {
	var cmd *exec.Cmd
	if cpus == "" {
		cmd = exec.Command(bin, args...)
	} else {
		taskset, err := exec.LookPath("taskset")
		if err != nil {
			return nil, fmt.Errorf("--server-cpu needs taskset: %w", err)
		}
		cmd = exec.Command(taskset, append([]string{"-c", cpus, bin}, args...)...)
	}
	cmd.Env = env
	cmd.SysProcAttr = childAttr()
	return cmd, nil
}

// serverEnv is this process's environment without forgelink settings (so
// that no root credentials or config file leak into the daemon), plus
// GOMAXPROCS when set and extra.
func serverEnv(gomaxprocs int, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "FORGELINK_") || (gomaxprocs > 0 && strings.HasPrefix(kv, "GOMAXPROCS=")) {
			continue
		}
		env = append(env, kv)
	}
	if gomaxprocs > 0 {
		env = append(env, fmt.Sprintf("GOMAXPROCS=%d", gomaxprocs))
	}
	return append(env, extra...)
}

// startChild starts cmd; consume reads out (one of cmd's pipes) until EOF,
// after which the process is waited for, as os/exec requires.
func startChild(name string, cmd *exec.Cmd, out io.Reader, consume func(io.Reader)) (*child, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		consume(out)
		io.Copy(io.Discard, out) // in case consume stopped early
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits, killing the process after stopGrace. An
// exit status other than 0 is an error.
func (c *child) stop() error {
	if c.exited() {
		return fmt.Errorf("%s exited before it was stopped: %w", c.name, exitErr(c.err))
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop %s: %w", c.name, err)
	}
	timer := time.NewTimer(stopGrace)
	defer timer.Stop()
	select {
	case <-c.done:
		if c.err != nil {
			return fmt.Errorf("%s: %w", c.name, c.err)
		}
		return nil
	case <-timer.C:
		c.kill()
		return fmt.Errorf("%s did not exit within %v of SIGTERM: killed", c.name, stopGrace)
	}
}

// kill is for this program's failure paths: no grace.
func (c *child) kill() {
	if c.exited() {
		return
	}
	c.cmd.Process.Kill()
	<-c.done
}

func exitErr(err error) error {
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}
