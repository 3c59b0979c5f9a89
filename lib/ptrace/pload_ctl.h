/* pload_ctl.h: starting pload and asking it to run system calls. */
#ifndef PTHAW_PLOAD_CTL_H
#define PTHAW_PLOAD_CTL_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/user.h>

#include "pload_proto.h"
#include "pidns.h"

struct pload {
	pid_t pid;		/* its PID in pthaw's PID namespace */
	pid_t self;		/* its PID as it sees itself (in its namespace) */
	int req_fd, rep_fd;	/* pthaw's ends of the pipes */
	struct pload_hello hello;
	int got_pid;		/* the process got the PID it asked for */
	/* Parked and held under ptrace by pthaw (hand_over): pload_call
	 * then runs the call at hello.gadget, by injection, with these
	 * registers around it. */
	int parked;
	struct user_regs_struct parked_regs;
};

struct pload_spawn_opts {
	const char *path;	/* the pload executable */
	pid_t want_pid;		/* try to give this PID back (0: any) */
	int first_free_fd;	/* control pipes go at this number and the next */
	int stdin_is_stream;	/* pthaw's stdin carries the snapshot */
	enum pload_ns ns;	/* where it starts (pidns.h) */
};

/* Starts pload as a child (with want_pid if it is free) and reads its
 * hello.  On failure nothing is left running. */
int pload_spawn(struct pload *p, const struct pload_spawn_opts *o);

/* Runs nr(a0..a5) inside pload.  data (len bytes) is first copied to
 * pload's scratch area: arguments refer to it as p->hello.scratch.
 * Returns the system call's result (-errno on its failure); a broken
 * link returns -EPIPE with the message set.  Parked, the same by
 * injection (data written to the scratch area directly). */
long pload_call(struct pload *p, long nr, long a0, long a1, long a2, long a3, long a4,
		long a5, const void *data, size_t len);

/* Sends PLOAD_OP_PARK and waits until pload closed its pipes. */
int pload_park(struct pload *p);

/* Kills and reaps pload (failure path). */
void pload_kill(struct pload *p);

#endif
