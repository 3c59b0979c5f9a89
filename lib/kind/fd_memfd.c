/* fd_memfd.c: an fd of a memfd (memfd_create(2)).  The memfd itself,
 * its name, size, seals and contents, is a memory object (shmem.c) that
 * its mappings share; on restore each open file description of it is
 * opened anew on that object, with its flags and position. */
#include "fdkind.h"
#include "shmem.h"

#include <string.h>
#include <sys/stat.h>

static int memfd_claim(const struct fd_info *d, struct rec_file *r)
{
	(void)r;
	/* /proc/PID/fd shows a memfd as "/memfd:NAME (deleted)". */
	return S_ISREG(d->sb->st_mode) && strncmp(d->link, "/memfd:", 7) == 0;
}

const struct fd_kind_ops fd_kind_memfd = {
	.kind = FD_MEMFD,
	.name = "memfd",
	.claim = memfd_claim,
	.open = shmem_open_file,
};
