/* why.c: says which knob kept pfrez from tracing a process, so that a
 * user knows what would allow it (ptrace(2), "Ptrace access mode
 * checking"; Yama: Documentation/admin-guide/LSM/Yama.rst). */
#include "why.h"
#include "err.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAP_SYS_PTRACE_BIT 19

static int yama_scope(void)
{
	char buf[16];
	size_t n;

	if (proc_read_file("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof(buf) - 1, &n))
		return -1;	/* no Yama */
	buf[n] = '\0';
	return atoi(buf);
}

static int have_cap_sys_ptrace(void)
{
	char v[32];

	return proc_status_field(getpid(), "CapEff", v, sizeof(v)) == 0 &&
	       (strtoull(v, NULL, 16) >> CAP_SYS_PTRACE_BIT & 1);
}

int ptrace_denied(pid_t pid)
{
	char uids[64], gids[64], path[32];
	unsigned u[3] = { 0 }, g[3] = { 0 };
	int scope = yama_scope(), cap = have_cap_sys_ptrace(), same;
	struct stat sb;

	if (scope >= 3)
		return err_msg(EPERM, "cannot trace process %d: Yama ptrace_scope is %d: no process may trace another until the next boot",
			       pid, scope);
	if (scope == 2 && !cap)
		return err_msg(EPERM, "cannot trace process %d: Yama ptrace_scope is 2: only cap_sys_ptrace (root) may trace; run pfrez as root, give it cap_sys_ptrace (setcap cap_sys_ptrace+ep), or set sysctl kernel.yama.ptrace_scope to 1 or 0",
			       pid);
	if (proc_status_field(pid, "Uid", uids, sizeof(uids)) ||
	    proc_status_field(pid, "Gid", gids, sizeof(gids)) ||
	    sscanf(uids, "%u %u %u", &u[0], &u[1], &u[2]) != 3 ||
	    sscanf(gids, "%u %u %u", &g[0], &g[1], &g[2]) != 3) {
		err_clear();
		return err_msg(EPERM, "cannot trace process %d: permission denied (root or cap_sys_ptrace needed)", pid);
	}
	/* The kernel lets a tracer without cap_sys_ptrace trace only a
	 * process whose real, effective and saved ids all are its own. */
	same = u[0] == getuid() && u[1] == getuid() && u[2] == getuid() &&
	       g[0] == getgid() && g[1] == getgid() && g[2] == getgid();
	if (!same && !cap)
		return err_msg(EPERM, "cannot trace process %d: it is another user's (uid %u/%u/%u, gid %u/%u/%u; pfrez runs as uid %u gid %u): tracing it needs root or cap_sys_ptrace",
			       pid, u[0], u[1], u[2], g[0], g[1], g[2], getuid(), getgid());
	/* A process that is not dumpable (it ran a setuid or setgid
	 * program, or set PR_SET_DUMPABLE 0) has its /proc entries owned by
	 * root, whatever its ids (the directory itself may not show it). */
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!cap && stat(path, &sb) == 0 && sb.st_uid != u[1])
		return err_msg(EPERM, "cannot trace process %d: it is not dumpable (it ran a setuid or setgid program, or set PR_SET_DUMPABLE to 0): tracing it needs root or cap_sys_ptrace",
			       pid);
	if (scope == 1 && !cap)
		return err_msg(EPERM, "cannot trace process %d: Yama ptrace_scope is 1: only a process's ancestors may trace it; run it under pfrez's parent, set sysctl kernel.yama.ptrace_scope to 0, give pfrez cap_sys_ptrace (setcap cap_sys_ptrace+ep), or let the process allow it (prctl PR_SET_PTRACER)",
			       pid);
	return err_msg(EPERM, "cannot trace process %d: permission denied (by a security module? root or cap_sys_ptrace may help)", pid);
}
