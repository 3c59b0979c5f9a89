/* vmread: the reference for how fast memory can leave a process.
 *	vmread PID ADDR LEN
 * Reads LEN bytes at ADDR (hex) of process PID with process_vm_readv in
 * 4 MiB steps into one reused buffer, as pfrez would, and prints
 * "vmread BYTES bytes SECONDS s". */
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <time.h>

#define STEP (4u << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static char buf[STEP];
	unsigned long addr, len, done = 0;
	pid_t pid;
	double t0;

	if (argc != 4) {
		fprintf(stderr, "usage: vmread PID ADDR LEN\n");
		return 2;
	}
	pid = atoi(argv[1]);
	addr = strtoul(argv[2], NULL, 16);
	len = strtoul(argv[3], NULL, 0);
	t0 = now();
	while (done < len) {
		unsigned long n = len - done < STEP ? len - done : STEP;
		struct iovec local = { buf, n }, remote = { (void *)(addr + done), n };
		ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);

		if (r <= 0) {
			perror("vmread: process_vm_readv");
			return 1;
		}
		done += r;
	}
	printf("vmread %lu bytes %.6f s\n", done, now() - t0);
	return 0;
}
