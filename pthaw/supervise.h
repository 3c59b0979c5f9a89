/* supervise.h: pthaw as the restored process's parent: signals, exit
 * status, and (when its PID could not be given back) the PID remapping. */
#ifndef PTHAW_SUPERVISE_H
#define PTHAW_SUPERVISE_H

#include <stddef.h>
#include <sys/types.h>

/* The seccomp filter that sends the PID-related system calls to the
 * tracer: writes at most max instructions to prog; returns the count. */
size_t remap_filter(void *prog, size_t max);

/* Waits for pid, forwarding SIGINT/SIGTERM/SIGHUP/SIGQUIT, and, when
 * remapped (pid is traced with the filter in place), answers its
 * PID-related system calls as if it still were old_pid.  Returns the
 * exit status for pthaw: the process's, or 128 + the signal that
 * ended it. */
int supervise(pid_t pid, pid_t old_pid, int remapped);

#endif
