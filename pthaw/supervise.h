/* supervise.h: pthaw as the restored process's parent: signals, exit
 * status, and (when its PID could not be given back) the PID remapping. */
#ifndef PTHAW_SUPERVISE_H
#define PTHAW_SUPERVISE_H

#include <stddef.h>
#include <sys/types.h>

/* pthaw's own exit statuses, above what programs commonly use, as
 * timeout(1) does (man/pthaw.1, EXIT STATUS).  Otherwise pthaw exits with
 * the status of the process it restored. */
#define PTHAW_EXIT_FAILED	125	/* bad flags, or no process ran: refused or failed */
#define PTHAW_EXIT_LOST		126	/* the process ran, then pthaw lost track of it */
#define PTHAW_EXIT_LOADER	127	/* the loader (pload) cannot be run */

/* The seccomp filter that sends the PID-related system calls to the
 * tracer: writes at most max instructions to prog; returns the count. */
size_t remap_filter(void *prog, size_t max);

/* Waits for pid, forwarding SIGINT/SIGTERM/SIGHUP/SIGQUIT, and, when
 * remapped (pid is traced with the filter in place), answers its
 * PID-related system calls as if it still were old_pid.  Returns the
 * exit status for pthaw: the process's, or 128 + the signal that
 * ended it, or PTHAW_EXIT_LOST when waiting for it failed. */
int supervise(pid_t pid, pid_t old_pid, int remapped);

/* While a lazy restore still fills the memory of process pid (traced,
 * running): the stops that came meanwhile, handled as supervise() does,
 * without waiting; its end, if it came, is kept for supervise(). */
void supervise_poll(pid_t pid, pid_t old_pid);
/* Before supervise(): a tree whose root leads its process group: the
 * signals pthaw forwards go to the group. */
void supervise_group(int on);

/* Before supervise(): thread now of the restored process had tid old in
 * the snapshot (its tid was taken here); remapped, it is answered and
 * named by old as the process is by old_pid.  0, or -ENOMEM. */
int supervise_map_tid(pid_t now, pid_t old);

#endif
