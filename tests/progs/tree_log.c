/* tree_log: `prog > log 2>&1` with a forked child writing to the same log:
 * fd 3 opens FILE (truncated, not O_APPEND: only the shared offset keeps
 * the two writers apart) and a child inherits it.  Both write numbered
 * 16-byte lines through it; each round the parent checks with kcmp that
 * the child's fd 3 is still its own open file description, that the
 * offset is the file's size, and reads the file back: every line whole,
 * each writer's numbers consecutive (two offsets would overwrite lines). */
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define KIND "tree_log"
#include "zdtm.h"

#define LINE 16

static const char *path;
static pid_t kid;
static long pline;

static int put_line(char who, long n)
{
	char buf[LINE + 1];

	snprintf(buf, sizeof(buf), "%c %013ld\n", who, n);
	return write(3, buf, LINE) == LINE ? 0 : -1;
}

static const char *setup(int argc, char **argv)
{
	if (argc != 2) {
		errno = EINVAL;
		return "usage: tree_log FILE";
	}
	path = argv[1];
	closefrom(3);
	if (open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644) != 3)
		return "open FILE as fd 3";
	kid = fork();
	if (kid < 0)
		return "fork";
	if (kid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (long n = 0;; n++) {
			if (put_line('C', n))
				_exit(1);
			msleep(7);
		}
	}
	return NULL;
}

static const char *check(void)
{
	static char buf[1 << 20];
	long want_c = 0, want_p = 0, n, size;
	struct stat sb;
	FILE *f;

	long same = syscall(SYS_kcmp, getpid(), kid, KCMP_FILE, 3, 3);

	if (same != 0)
		return zdtm_why("the child's fd 3 is not the parent's open file description (kcmp: %s)",
				same < 0 ? strerror(errno) : "two files");
	if (put_line('P', pline++))
		return "write";
	/* The child may write between the two calls: the offset is never
	 * behind the size, and both are whole lines. */
	if (fstat(3, &sb))
		return "fstat";
	size = lseek(3, 0, SEEK_CUR);
	if (size < sb.st_size || size % LINE)
		return zdtm_why("offset %ld, file size %lld: two offsets?", size,
				(long long)sb.st_size);
	f = fopen(path, "re");
	if (!f)
		return "reopen the log";
	while (fgets(buf, sizeof(buf), f)) {
		char who;

		if (strlen(buf) != LINE || sscanf(buf, "%c %ld", &who, &n) != 2) {
			fclose(f);
			return zdtm_why("a broken line: \"%.40s\"", buf);
		}
		if (who == 'C' && n == want_c)
			want_c++;
		else if (who == 'P' && n == want_p)
			want_p++;
		else {
			fclose(f);
			return zdtm_why("line \"%.15s\": expected C %ld or P %ld", buf, want_c, want_p);
		}
	}
	fclose(f);
	if (want_p != pline)
		return zdtm_why("the log has %ld of the parent's lines, it wrote %ld", want_p, pline);
	if (want_c < 2 * pline / 3)
		return zdtm_why("the child wrote only %ld lines", want_c);
	return NULL;
}
