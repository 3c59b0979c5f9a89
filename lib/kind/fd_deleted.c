/* fd_deleted.c: an fd of a regular file unlinked while open (a temporary
 * file, an O_TMPFILE never linked).  Its contents are a memory object
 * (shmem.c: they travel, up to pfrez -max-deleted) restored as an
 * unlinked file in the same directory, which its mappings map too; each
 * open file description of it is opened anew on that file, with its
 * flags and position. */
#include "fdkind.h"
#include "shmem.h"

#include <string.h>
#include <sys/stat.h>

static int deleted_claim(const struct fd_info *d, struct rec_file *r)
{
	size_t n = strlen(d->link);

	(void)r;
	if (!S_ISREG(d->sb->st_mode) || d->link[0] != '/' || strncmp(d->link, "/memfd:", 7) == 0)
		return 0;
	return d->sb->st_nlink == 0 || (n > 10 && strcmp(d->link + n - 10, " (deleted)") == 0);
}

const struct fd_kind_ops fd_kind_deleted = {
	.kind = FD_DELETED,
	.name = "deleted file",
	.claim = deleted_claim,
	.open = shmem_open_file,
};
