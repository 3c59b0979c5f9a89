/* fd_refused.c: descriptors no restore can make again, refused by name at
 * the capture: their state is in the kernel and out of reach of user
 * space (io_uring rings and requests in flight, perf counters, BPF
 * objects, userfaultfd ranges, fanotify marks, ...).  A claim only: it
 * never takes an fd. */
#include "fdkind.h"
#include "err.h"

#include <errno.h>
#include <string.h>

static const struct {
	const char *link;	/* what /proc/PID/fd/N says, up to its end or a '-' */
	const char *what;
} refused[] = {
	{ "anon_inode:[perf_event]", "a perf_event counter (perf_event_open)" },
	{ "anon_inode:bpf-", "a BPF object (map, program, link)" },
	{ "anon_inode:bpf_", "a BPF object (map, program, link)" },
	{ "anon_inode:[userfaultfd]", "a userfaultfd (its registered ranges and pending faults)" },
	{ "anon_inode:[fanotify]", "a fanotify group (its marks)" },
	{ "anon_inode:[pidfd]", "a pidfd (it names a process of the original's system)" },
	{ "anon_inode:[io_uring", "an io_uring instance (its rings and requests in flight live in the kernel)" },
	{ "anon_inode:[kvm", "a KVM object" },
	{ "anon_inode:[vfio", "a VFIO device" },
	{ "anon_inode:[landlock-ruleset]", "a landlock ruleset" },
};

static int refused_claim(const struct fd_info *d, struct rec_file *r)
{
	(void)r;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (strncmp(d->link, refused[i].link, strlen(refused[i].link)) == 0)
			return err_msg(ENOTSUP, "process %d: fd %d (%s): %s: cannot be restored",
				       d->pid, d->fd, d->link, refused[i].what);
	return 0;
}

/* No kind and no open: fd_kind_of() never returns it for a record. */
const struct fd_kind_ops fd_kind_refused = {
	.kind = 0,
	.name = "refused",
	.claim = refused_claim,
};
