/* fd_tty.h: pthaw's terminal, given to the restored process as a shell
 * gives it to a job (fd_tty.c restores it; supervise.c hands it back and
 * forth when the job stops, goes on or ends). */
#ifndef PFREZ_FD_TTY_H
#define PFREZ_FD_TTY_H

#include <sys/types.h>

struct kind_restore;

/* Whether the restore makes the process a job of pthaw's terminal: it
 * was in the foreground of its own, pthaw is in the foreground of one,
 * and stays (no -detach).  Then it does not lead a session of its own
 * (task.c), which would have no terminal. */
int tty_job_planned(const struct kind_restore *r);

/* The process group pthaw gave its terminal to (the restored process's),
 * or 0 when it gave none. */
pid_t tty_job_pgrp(void);

/* Once the job runs: it learns the size of pthaw's terminal and
 * repaints (a full-screen program, readline's prompt). */
void tty_job_repaint(void);

/* The job stopped: its modes are kept, pthaw takes the terminal back
 * with its own modes (a shell does so before it reports "Stopped"). */
void tty_job_stop(void);

/* The job goes on: the terminal is its again, with its modes. */
void tty_job_cont(void);

/* The job is over: the terminal is pthaw's again, with pthaw's modes. */
void tty_job_end(void);

#endif
