/* test_kind_shmem.c: memory objects (lib/kind/shmem.c) as pthaw takes
 * them from a stream: shmem records, the references of mappings and
 * files to them, and filedata records checked against them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "err.h"
#include "kind.h"
#include "shmem.h"
#include "snap.h"

extern const struct kind_ops kind_shmem;

static int take(struct snap *s, uint32_t id, uint32_t kind, uint64_t size, uint32_t seals,
		const char *name, uint64_t ino)
{
	unsigned char buf[sizeof(struct rec_shmem) + 256];
	struct rec_shmem r = { .id = id, .kind = kind, .size = size, .seals = seals,
			       .mode = S_IFREG | 0600, .name_len = (uint32_t)strlen(name) };

	r.ident.dev = 1;
	r.ident.ino = ino;
	memcpy(buf, &r, sizeof(r));
	memcpy(buf + sizeof(r), name, r.name_len);
	err_clear();
	return kind_shmem.take(&s->kind[KIND_SHMEM], buf, sizeof(r) + r.name_len);
}

static int data(struct snap *s, uint32_t id, uint64_t offset, uint32_t len, size_t extra)
{
	static unsigned char buf[sizeof(struct rec_filedata) + 8192];
	struct rec_filedata h = { .id = id, .len = len, .offset = offset };

	memcpy(buf, &h, sizeof(h));
	err_clear();
	return shmem_data_put(NULL, s, buf, sizeof(h) + len + extra);
}

static void shmem_records(void **state)
{
	struct snap s;

	(void)state;
	snap_init(&s);
	assert_int_equal(take(&s, 0, SHMEM_ANON, 8192, 0, "", 10), 0);
	assert_int_equal(take(&s, 1, SHMEM_MEMFD, 5000, 0x3f, "buf", 11), 0);
	assert_int_equal(take(&s, 2, SHMEM_DELETED, 100, 0, "/tmp/x", 12), 0);
	assert_int_equal(take(&s, 3, SHMEM_FILE, 100, 0, "/dev/shm/y", 13), 0);
	assert_int_equal(shmem_find(&s, 1, 11), 1);
	assert_int_equal(shmem_find(&s, 1, 99), -1);
	/* out of order, unknown kinds, seals where none can be, a relative
	 * path, a size beyond any object */
	assert_int_equal(take(&s, 5, SHMEM_ANON, 4096, 0, "", 20), -EBADMSG);
	assert_non_null(strstr(err_last(), "shmem record"));
	assert_int_equal(take(&s, 4, 0, 4096, 0, "", 20), -EBADMSG);
	assert_int_equal(take(&s, 4, SHMEM_KIND_MAX + 1, 4096, 0, "", 20), -EBADMSG);
	assert_int_equal(take(&s, 4, SHMEM_MEMFD, 4096, 0x40, "m", 20), -EBADMSG);
	assert_int_equal(take(&s, 4, SHMEM_ANON, 4096, 1, "", 20), -EBADMSG);
	assert_int_equal(take(&s, 4, SHMEM_DELETED, 4096, 0, "tmp/x", 20), -EBADMSG);
	assert_int_equal(take(&s, 4, SHMEM_ANON, 1ull << 47, 0, "", 20), -EBADMSG);
	{
		char longname[251];

		memset(longname, 'n', 250);
		longname[250] = '\0';
		assert_int_equal(take(&s, 4, SHMEM_MEMFD, 4096, 0, longname, 20), -EBADMSG);
	}

	/* contents: within the object, page-aligned, exactly the length */
	assert_int_equal(data(&s, 0, 4096, 4096, 0), 0);
	assert_int_equal(data(&s, 1, 4096, 904, 0), 0);
	assert_int_equal(data(&s, 1, 4096, 905, 0), -EBADMSG);
	assert_int_equal(data(&s, 0, 100, 4096, 0), -EBADMSG);
	assert_int_equal(data(&s, 0, 0, 4096, 1), -EBADMSG);
	assert_int_equal(data(&s, 0, 0, 0, 0), -EBADMSG);
	assert_int_equal(data(&s, 3, 0, 100, 0), -EBADMSG);	/* a file: no contents */
	assert_int_equal(data(&s, 4, 0, 100, 0), -EBADMSG);
	assert_non_null(strstr(err_last(), "memory object 4"));
	assert_int_equal(data(&s, 0, 1ull << 63, 4096, 0), -EBADMSG);

	/* a mapping of an object that is not there */
	s.vmas = calloc(1, sizeof(*s.vmas));
	s.nvmas = 1;
	s.vmas[0].r = (struct rec_vma){ .start = 4096, .end = 8192, .flags = VMA_SHARED | VMA_SHMEM, .shmem = 3 };
	assert_int_equal(shmem_refs_check(&s), 0);
	s.vmas[0].r.shmem = 4;
	assert_int_equal(shmem_refs_check(&s), -EBADMSG);
	free(s.vmas);
	s.vmas = NULL;
	s.nvmas = 0;
	snap_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shmem_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
