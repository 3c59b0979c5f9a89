/* test_kind_pstree.c: the pstree record (lib/kind/pstree.c): encoded and
 * decoded back, and every tree that cannot be made again refused by
 * name: out of order, a PID twice, a zombie parent, a session neither
 * the process's own nor its parent's, a group led outside the tree, a
 * shared fd table where there is no parent's to share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "err.h"
#include "pstree.h"

/* The record's payload for entries e[0..n). */
static size_t payload(unsigned char *buf, const struct rec_pstree_proc *e, uint32_t n)
{
	struct rec_pstree h = { .nprocs = n };

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), e, n * sizeof(*e));
	return sizeof(h) + n * sizeof(*e);
}

static int take(const struct rec_pstree_proc *e, uint32_t n)
{
	unsigned char buf[1024];
	struct pstree t = { 0 };
	int rc;

	err_clear();
	rc = pstree_take(&t, buf, payload(buf, e, n));
	pstree_free(&t);
	return rc;
}

static void refused(const struct rec_pstree_proc *e, uint32_t n, int rc, const char *want)
{
	assert_int_equal(take(e, n), rc);
	if (!strstr(err_last(), want))
		fail_msg("\"%s\" does not say \"%s\"", err_last(), want);
}

/* A shell (100, its own session) with a job (101 leading group 101, its
 * child 102 in it), a daemon-like child (103, own session) and a zombie
 * (104, exit 3). */
static const struct rec_pstree_proc good[] = {
	{ .pid = 100, .ppid = 1, .pgid = 100, .sid = 100 },
	{ .pid = 101, .ppid = 100, .pgid = 101, .sid = 100 },
	{ .pid = 102, .ppid = 101, .pgid = 101, .sid = 100, .state = PSTREE_STOPPED },
	{ .pid = 103, .ppid = 100, .pgid = 103, .sid = 103 },
	{ .pid = 104, .ppid = 100, .pgid = 100, .sid = 100, .state = PSTREE_ZOMBIE, .status = 3 << 8,
	  .comm = "job" },
};

static void test_round_trip(void **state)
{
	unsigned char buf[1024];
	struct pstree t = { 0 };

	(void)state;
	assert_int_equal(pstree_take(&t, buf, payload(buf, good, 5)), 0);
	assert_int_equal(t.n, 5);
	assert_int_equal(pstree_live(&t), 4);
	assert_int_equal(pstree_find(&t, 103), 3);
	assert_int_equal(t.procs[4].status, 3 << 8);
	assert_string_equal(t.procs[4].comm, "job");
	assert_int_equal(pstree_place(&t, 1), PSTREE_LEAD);
	assert_int_equal(pstree_place(&t, 2), PSTREE_JOIN);
	assert_int_equal(pstree_place(&t, 3), PSTREE_SETSID);
	assert_int_equal(pstree_place(&t, 4), PSTREE_JOIN);
	/* A second pstree record is refused. */
	assert_int_equal(pstree_take(&t, buf, payload(buf, good, 5)), -EBADMSG);
	pstree_free(&t);
}

static void test_refused(void **state)
{
	struct rec_pstree_proc e[5];

	(void)state;
	refused(good, 1, -EBADMSG, "malformed");	/* one process: no tree */
	memcpy(e, good, sizeof(good));
	e[1].ppid = 102;				/* after its child */
	refused(e, 5, -EBADMSG, "comes before its parent");
	memcpy(e, good, sizeof(good));
	e[3].pid = 101;
	refused(e, 5, -EBADMSG, "process 101 twice");
	memcpy(e, good, sizeof(good));
	e[3] = good[4], e[4] = (struct rec_pstree_proc){ .pid = 105, .ppid = 104, .pgid = 105, .sid = 105 };
	refused(e, 5, -EBADMSG, "zombie parent");
	memcpy(e, good, sizeof(good));
	e[2].sid = 103;					/* its parent's is 100 */
	refused(e, 5, -ENOTSUP, "neither its own nor its parent's");
	memcpy(e, good, sizeof(good));
	e[2].pgid = 555;				/* led by no one here */
	refused(e, 5, -ENOTSUP, "whose leader is not in the tree");
	memcpy(e, good, sizeof(good));
	e[1].status = 1;				/* a live one with a status */
	refused(e, 5, -EBADMSG, "malformed");
	memcpy(e, good, sizeof(good));
	memset(e[4].comm, 'a', sizeof(e[4].comm));	/* a name without its NUL */
	refused(e, 5, -EBADMSG, "process 104: malformed");
	memcpy(e, good, sizeof(good));
	e[0].state = PSTREE_ZOMBIE;
	refused(e, 5, -EBADMSG, "the root");
	/* Sharing its parent's fd table or working directory: a live child
	 * may, the root (whose parent is not made) and a zombie (no table)
	 * may not; no other flag is known. */
	memcpy(e, good, sizeof(good));
	e[2].flags = PSTREE_FILES_SHARED;
	assert_int_equal(take(e, 5), 0);
	e[0].flags = PSTREE_FILES_SHARED;
	refused(e, 5, -EBADMSG, "process 100 shares its parent's fd table as the root");
	memcpy(e, good, sizeof(good));
	e[4].flags = PSTREE_FILES_SHARED;
	refused(e, 5, -EBADMSG, "process 104 shares its parent's fd table as a zombie");
	memcpy(e, good, sizeof(good));
	e[1].flags = PSTREE_FS_SHARED;
	e[2].flags = PSTREE_FILES_SHARED | PSTREE_FS_SHARED;
	assert_int_equal(take(e, 5), 0);
	e[0].flags = PSTREE_FS_SHARED;
	refused(e, 5, -EBADMSG, "process 100 shares its parent's working directory as the root");
	memcpy(e, good, sizeof(good));
	e[1].flags = 4;
	refused(e, 5, -EBADMSG, "process 101: malformed");
	memcpy(e, good, sizeof(good));
	e[1].pad[1] = 1;
	refused(e, 5, -EBADMSG, "process 101: malformed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
