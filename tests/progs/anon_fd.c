/* anon_fd WHAT: holds one descriptor of a kind no restore can make again
 * (io_uring, perf_event, bpf, userfaultfd, fanotify) at fd 3, prints
 * "anon_fd ready", and sleeps; pfrez must refuse it by name. */
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	long fd = -1;

	if (!strcmp(what, "io_uring")) {
		char params[120] = { 0 };	/* struct io_uring_params */

		fd = syscall(SYS_io_uring_setup, 4, params);
	} else if (!strcmp(what, "perf_event")) {
		struct perf_event_attr a = { .type = PERF_TYPE_SOFTWARE, .size = sizeof(a),
					     .config = PERF_COUNT_SW_TASK_CLOCK, .disabled = 1,
					     .exclude_kernel = 1, .exclude_hv = 1 };

		fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
	} else if (!strcmp(what, "bpf")) {
		union bpf_attr a = { .map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4,
				     .max_entries = 1 };

		fd = syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a));
	} else if (!strcmp(what, "userfaultfd")) {
		fd = syscall(SYS_userfaultfd, O_CLOEXEC);
	} else if (!strcmp(what, "fanotify")) {
		fd = fanotify_init(FAN_CLASS_NOTIF, O_RDONLY);
	}
	if (fd < 0) {
		printf("anon_fd %s: cannot make one: %m\n", what);
		return 2;
	}
	printf("anon_fd ready\n");
	fflush(stdout);
	pause();
	return 0;
}
