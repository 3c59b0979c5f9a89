/* pload_proto.h: where pload lives and how pthaw talks to it.
 *
 * Shared by pthaw and the freestanding pload, so it uses nothing but
 * <stdint.h>.  pthaw starts pload as "pload REQ_FD REP_FD"; pload writes a
 * struct pload_hello on REP_FD, then serves requests from REQ_FD: each is
 * a struct pload_req followed by len bytes, which pload reads into its
 * scratch area (pthaw points the arguments at it), then pload runs the
 * system call and answers with a struct pload_rep.  Page contents do not
 * go through the pipe: pthaw writes them with process_vm_writev(). */
#ifndef PFREZ_PLOAD_PROTO_H
#define PFREZ_PLOAD_PROTO_H

#include <stdint.h>

/* The range pload may use; a snapshot with a mapping inside it cannot be
 * restored.  Must match linker/pload.ld.  Far above where the kernel puts
 * programs (0x400000, 0x55..) and below the mmap area (0x7f..). */
#define PLOAD_BASE		0x3e0000000000ull
#define PLOAD_SPAN		0x40000000ull		/* 1 GiB */
#define PLOAD_STACK		(PLOAD_BASE + 0x01000000ull)
#define PLOAD_STACK_SIZE	0x40000ull
#define PLOAD_SCRATCH		(PLOAD_BASE + 0x02000000ull)
#define PLOAD_SCRATCH_SIZE	0x200000ull
#define PLOAD_PARK		(PLOAD_BASE + 0x20000000ull)	/* vdso/vvar wait here */

#define PLOAD_MAGIC		0x64616f6c70ull		/* "pload" */
#define PLOAD_VERSION		2

/* Request numbers above the system-call range are pload's own. */
#define PLOAD_OP_PARK		0x10000	/* close the pipes, wait for ptrace */
/* A new thread of pload's (arg[0]: the tid it must have, 0: any), which
 * waits in pause() with every signal blocked, touching no memory, until
 * pthaw takes it over under ptrace and gives it a snapshot thread's
 * registers.  Answers its tid or -errno (EEXIST: the tid is taken). */
#define PLOAD_OP_THREAD		0x10001
/* A child process of pload's (a process tree), with the PID arg[0] (0:
 * any): a copy of pload with two new pipes of its own at the same fd
 * numbers (its other fds above 2 closed), which says hello on them and
 * serves as pload does.  With arg[1] > 0 the child shares pload's fd
 * table instead (CLONE_FILES), its pipes at the lowest free fds from
 * arg[1] up; with arg[2] != 0 it shares pload's working directory and
 * umask (CLONE_FS).  The parent answers the child's PID (in its namespace) or
 * -errno, and leaves its ends of the child's pipes at the fds it writes
 * to its scratch area (int[2]: request, reply), for pthaw to open
 * through /proc and close. */
#define PLOAD_OP_FORK		0x10002
/* Ends pload with the wait status arg[0] (a zombie of the tree): exit
 * code, or death by that signal (no core file), under the name in
 * arg[1] and arg[2] (16 bytes, NUL-terminated: the zombie's comm; an
 * empty one leaves pload's).  No answer. */
#define PLOAD_OP_EXIT		0x10003
/* Moves pload's pipes to the lowest free fds from arg[0] up (above the
 * fds of the process it becomes, known only once its records came),
 * replacing none.  0 or -errno. */
#define PLOAD_OP_MOVE		0x10004

struct pload_hello {
	uint64_t magic;
	uint64_t version;
	uint64_t image_start, image_end;
	uint64_t scratch, scratch_size;
	uint64_t gadget;	/* address of "syscall; int3" */
};

struct pload_req {
	uint64_t nr;
	uint64_t arg[6];
	uint64_t len;
};

struct pload_rep {
	int64_t ret;
};

#endif
