/* seccomp: a filter that makes getppid(2) fail with EPERM and allows the
 * rest.  Each round checks getppid still fails that way, uname still
 * works, and /proc/self/status still counts one filter (two when pthaw
 * gave it a new PID: its remapping filter, pthaw(1) -remap). */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#define KIND "seccomp"
#include "zdtm.h"

static const char *setup(int argc, char **argv)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(code) / sizeof(code[0]), code };

	(void)argc, (void)argv;
	/* Without CAP_SYS_ADMIN a filter needs no_new_privs first. */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		if (errno != EACCES || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			return "PR_SET_SECCOMP";
	}
	return NULL;
}

static const char *check(void)
{
	struct utsname u;
	char buf[64], self[32] = "";
	const char *want;
	long r;

	errno = 0;
	r = syscall(SYS_getppid);
	if (r != -1 || errno != EPERM)
		return zdtm_why("getppid returned %ld (%s), the filter no longer blocks it", r,
				strerror(errno));
	if (uname(&u))
		return "uname failed: the filter blocks more than getppid";
	if (!zdtm_status("Seccomp", buf, sizeof(buf)) || strcmp(buf, "2"))
		return zdtm_why("Seccomp is %s, not 2 (filter)", buf);
	/* /proc/self is the PID the kernel knows; getpid() under pthaw's
	 * remapping is the old one. */
	want = readlink("/proc/self", self, sizeof(self) - 1) > 0 && atoi(self) != getpid() ? "2" : "1";
	if (zdtm_status("Seccomp_filters", buf, sizeof(buf)) && strcmp(buf, want))
		return zdtm_why("Seccomp_filters is %s, not %s", buf, want);
	return NULL;
}
