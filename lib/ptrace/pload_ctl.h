/* pload_ctl.h: starting pload and asking it to run system calls. */
#ifndef PTHAW_PLOAD_CTL_H
#define PTHAW_PLOAD_CTL_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/user.h>

#include "pload_proto.h"
#include "pidns.h"

/* A thread pload made (PLOAD_OP_THREAD), parked in pause(). */
struct pload_thread {
	pid_t tid;
	pid_t old;				/* its tid in the snapshot */
	int seized;				/* held under ptrace by pthaw */
	struct user_regs_struct parked_regs;
};

/* A call made while p->logging, to be made again in each thread. */
struct pload_logged {
	long nr;
	long a[6];
	void *data;
	size_t len;
	long ret;
};

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
	/* The process's other threads, as pload_thread_new made them. */
	struct pload_thread *threads;
	size_t nthreads;
	/* Set, pload_call records its calls in log: what is each thread's
	 * own in the kernel (credentials, capabilities, some prctl
	 * attributes) and must be made by every thread (glibc broadcasts
	 * setuid() and its kind to all threads for the same reason). */
	int logging;
	struct pload_logged *log;
	size_t nlog;
};

struct pload_spawn_opts {
	const char *path;	/* the pload executable */
	pid_t want_pid;		/* try to give this PID back (0: any) */
	int first_free_fd;	/* control pipes go at this number and the next */
	int stdin_is_stream;	/* pthaw's stdin carries the snapshot */
	enum pload_ns ns;	/* where it starts (pidns.h) */
	int exec_fd;		/* > 2: run pload from this fd (a memfd, selfexec.h), not path */
};

/* Starts pload as a child (with want_pid if it is free) and reads its
 * hello.  On failure nothing is left running. */
int pload_spawn(struct pload *p, const struct pload_spawn_opts *o);

/* A process tree: a child of pload p's, pload as well, with PID pid (0:
 * any) in p's namespace, ready as after pload_spawn (child->got_pid says
 * whether it has pid).  -EEXIST when pid is taken. */
int pload_fork(struct pload *p, struct pload *child, pid_t pid);
/* The same, the child sharing p's fd table (files_base > 0: clone(2)
 * with CLONE_FILES, its pipes at the lowest free fds from files_base
 * up), and with fs its working directory and umask (CLONE_FS). */
int pload_fork_sharing(struct pload *p, struct pload *child, pid_t pid, int files_base, int fs);

/* Ends pload p as a zombie of the tree with the wait status status
 * and the name comm (PLOAD_OP_EXIT), and waits until it is one. */
int pload_exit(struct pload *p, uint32_t status, const char comm[16]);

/* Moves p's pipes to the lowest free fds from base up. */
int pload_move(struct pload *p, int base);

/* Runs nr(a0..a5) inside pload.  data (len bytes) is first copied to
 * pload's scratch area: arguments refer to it as p->hello.scratch.
 * Returns the system call's result (-errno on its failure); a broken
 * link returns -EPIPE with the message set.  Parked, the same by
 * injection (data written to the scratch area directly). */
long pload_call(struct pload *p, long nr, long a0, long a1, long a2, long a3, long a4,
		long a5, const void *data, size_t len);

/* Sends PLOAD_OP_PARK and waits until pload closed its pipes. */
int pload_park(struct pload *p);

/* A new thread of the process, parked in pload, for the snapshot's
 * thread old, with the tid asked for (0: any).  Its tid, or -errno:
 * -EEXIST when that tid is taken, -EPERM when pload may not choose tids. */
long pload_thread_new(struct pload *p, pid_t tid, pid_t old);

/* The tid now of the snapshot's thread old: the main thread's (old_main)
 * is pload's PID, the others' what pload_thread_new gave them. */
pid_t pload_tid(const struct pload *p, uint32_t old_main, uint32_t old);

/* Once pload is parked: holds every thread pload made under ptrace
 * (PTRACE_SEIZE + PTRACE_INTERRUPT), with the options opts. */
int pload_threads_seize(struct pload *p, long opts);

/* pload_call, parked, run in thread tid (the main thread: p->pid). */
long pload_thread_call(struct pload *p, pid_t tid, long nr, long a0, long a1, long a2, long a3,
		       long a4, long a5, const void *data, size_t len);

/* Makes the logged calls again in thread tid; a call that succeeded in
 * the main thread must succeed there too. */
int pload_thread_replay(struct pload *p, pid_t tid);

/* Lets every thread but the main one go: detached, or with cont still
 * traced (PTRACE_CONT). */
int pload_threads_release(struct pload *p, int cont);

/* Frees the thread list and the call log (the process stays). */
void pload_free(struct pload *p);

/* Kills and reaps pload (failure path). */
void pload_kill(struct pload *p);

#endif
