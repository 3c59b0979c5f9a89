/* fd_log: started as `fd_log > LOG 2>&1`, so fds 1 and 2 are one open
 * file description with one offset.  Each round writes a line through
 * each and checks they still share it (kcmp) and the offset: a copy with
 * two separate opens overwrites each line with the next. */
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define KIND "fd_log"
#include "zdtm.h"

static struct stat log_st;

static int same_file(int a, int b)
{
	pid_t me = getpid();

	return syscall(SYS_kcmp, me, me, KCMP_FILE, a, b) == 0;
}

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (fstat(1, &log_st))
		return "fstat 1";
	if (!S_ISREG(log_st.st_mode)) {
		errno = EINVAL;
		return "stdout is not a regular file (run it as fd_log > LOG 2>&1)";
	}
	if (!same_file(1, 2)) {
		errno = EINVAL;
		return "fds 1 and 2 are not one open file (run it as fd_log > LOG 2>&1)";
	}
	return NULL;
}

static const char *check(void)
{
	static long n;
	struct stat st;
	off_t end;

	if (!same_file(1, 2))
		return "fds 1 and 2 are no longer one open file description (kcmp)";
	if (fstat(2, &st) || st.st_ino != log_st.st_ino || st.st_dev != log_st.st_dev)
		return "fd 2 is not the log file";
	dprintf(2, "stderr line %ld\n", ++n);
	end = lseek(2, 0, SEEK_CUR);
	if (lseek(1, 0, SEEK_CUR) != end)
		return zdtm_why("offset of fd 1 is %lld, of fd 2 %lld", (long long)lseek(1, 0, SEEK_CUR),
				(long long)end);
	if (fstat(1, &st) || st.st_size != end)
		return zdtm_why("the log is %lld bytes, but the shared offset is %lld",
				(long long)st.st_size, (long long)end);
	return NULL;
}
