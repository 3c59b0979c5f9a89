/* memlayer.c: the in-memory layer the unit tests read and write through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "memlayer.h"

int mem_write(struct layer *l, const void *buf, size_t n)
{
	struct mem *m = (struct mem *)l;

	if (m->fail_write)
		return err_msg(m->fail_write, "%s",
			       m->fail_msg ? m->fail_msg : "mem: write failed");
	if (m->len + n > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;

		while (cap < m->len + n)
			cap *= 2;
		m->buf = realloc(m->buf, cap);
		assert_non_null(m->buf);
		m->cap = cap;
	}
	if (n > 0)
		memcpy(m->buf + m->len, buf, n);
	m->len += n;
	return 0;
}

static ssize_t mem_read(struct layer *l, void *buf, size_t n)
{
	struct mem *m = (struct mem *)l;
	size_t k = m->len - m->pos;

	assert_true(n > 0);
	if (k > n)
		k = n;
	if (m->max_read && k > m->max_read)
		k = m->max_read;
	if (k > 0)
		memcpy(buf, m->buf + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

static int mem_close(struct layer *l)
{
	((struct mem *)l)->closed++;
	return 0;
}

static void mem_destroy(struct layer *l)
{
	((struct mem *)l)->destroyed++;
}

static const struct layer_ops mem_ops = {
	.name = "mem",
	.write = mem_write,
	.read = mem_read,
	.close = mem_close,
	.destroy = mem_destroy,
};

void mem_init(struct mem *m)
{
	memset(m, 0, sizeof(*m));
	m->l.ops = &mem_ops;
}

void mem_over(struct mem *m, const void *data, size_t len, size_t max_read)
{
	mem_init(m);
	m->buf = malloc(len ? len : 1);
	assert_non_null(m->buf);
	if (len > 0)
		memcpy(m->buf, data, len);
	m->len = m->cap = len;
	m->max_read = max_read;
}
