/* why.h: why the kernel refused to let pfrez trace a process. */
#ifndef PFREZ_WHY_H
#define PFREZ_WHY_H

#include <sys/types.h>

/* PTRACE_SEIZE of pid failed with EPERM: records a message naming the
 * setting that refused it (Yama's ptrace_scope, another user's process and
 * cap_sys_ptrace, a process that is not dumpable) and returns -EPERM. */
int ptrace_denied(pid_t pid);

#endif
