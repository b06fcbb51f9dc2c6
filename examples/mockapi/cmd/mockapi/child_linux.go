package main

import "syscall"

// childAttr makes the command mockapi runs receive SIGTERM when mockapi
// dies, however it dies: a weft serve started by make run must not be left
// running, holding its port, after a kill -9 of the mock.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
