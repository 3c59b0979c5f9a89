/* record.c: writes and reads stream records with their CRC32C. */
#include "record.h"
#include "crc32c.h"
#include "err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct rec_wire {
	uint32_t type;
	uint32_t len;
} __attribute__((packed));

/* give: body is whole pages the caller gives away (layer_give). */
static int write_rec(struct rec_writer *w, uint32_t type, const void *head, size_t hlen,
		     const void *body, size_t blen, int give)
{
	struct rec_wire h = { type, (uint32_t)(hlen + blen) };
	uint32_t crc;
	int rc, given = 0;

	if (hlen + blen > REC_MAX_PAYLOAD)
		return err_msg(EMSGSIZE, "record %s: %zu bytes is too large",
			       rec_type_name(type), hlen + blen);
	crc = crc32c(0, &h, sizeof(h));
	crc = crc32c(crc, head, hlen);
	crc = crc32c(crc, body, blen);
	/* The header and the fixed part go out together: one small write
	 * instead of two through every layer. */
	if (hlen <= 256) {
		unsigned char small[sizeof(h) + 256];

		memcpy(small, &h, sizeof(h));
		if (hlen)
			memcpy(small + sizeof(h), head, hlen);
		rc = layer_write(w->out, small, sizeof(h) + hlen);
	} else {
		rc = layer_write(w->out, &h, sizeof(h));
		if (!rc)
			rc = layer_write(w->out, head, hlen);
	}
	if (!rc && blen && give) {
		rc = layer_give(w->out, (void *)body, blen);
		given = rc == 1;
		rc = rc < 0 ? rc : 0;
	} else if (!rc && blen) {
		rc = layer_write(w->out, body, blen);
	}
	if (!rc)
		rc = layer_write(w->out, &crc, sizeof(crc));
	if (rc)
		return rc;
	w->count++;
	w->bytes += sizeof(h) + hlen + blen + sizeof(crc);
	return given;
}

int rec_write(struct rec_writer *w, uint32_t type, const void *head, size_t hlen,
	      const void *body, size_t blen)
{
	return write_rec(w, type, head, hlen, body, blen, 0);
}

int rec_write_give(struct rec_writer *w, uint32_t type, const void *head, size_t hlen,
		   void *body, size_t blen)
{
	return write_rec(w, type, head, hlen, body, blen, 1);
}

int rec_write_end(struct rec_writer *w)
{
	struct rec_end e = { w->count, w->bytes };

	return rec_write(w, REC_END, &e, sizeof(e), NULL, 0);
}

int rec_reader_init(struct rec_reader *r, struct layer *in)
{
	memset(r, 0, sizeof(*r));
	r->in = in;
	r->buf = malloc(REC_MAX_PAYLOAD);
	if (!r->buf)
		return err_sys(ENOMEM, "record buffer");
	return 0;
}

void rec_reader_free(struct rec_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

int rec_unknown(uint32_t type)
{
	if (type & REC_OPTIONAL)
		return 0;
	return err_msg(EBADMSG, "record type %u is unknown to this pthaw and the process cannot be restored without it (a newer pfrez wrote it?)",
		       type);
}

/* The kinds check their own records (lib/kind/); these are the stream's. */
size_t rec_min_len(uint32_t type)
{
	switch (type) {
	case REC_PAGES: return sizeof(struct rec_pages);
	case REC_LAZY: return sizeof(struct rec_lazy);
	case REC_END: return sizeof(struct rec_end);
	}
	return 0;
}

const char *rec_type_name(uint32_t type)
{
	switch (type) {
	case REC_PROC: return "proc";
	case REC_MM: return "mm";
	case REC_RLIMITS: return "rlimits";
	case REC_SIGNALS: return "signals";
	case REC_FD: return "fd";
	case REC_VMA: return "vma";
	case REC_RSEQ: return "rseq";
	case REC_SIGINFO: return "siginfo";
	case REC_CREDS: return "creds";
	case REC_PRCTL: return "prctl";
	case REC_CAPS: return "caps";
	case REC_SECCOMP: return "seccomp";
	case REC_SCHED: return "sched";
	case REC_MEMBARRIER: return "membarrier";
	case REC_MADVISE: return "madvise";
	case REC_TIMERS: return "timers";
	case REC_LOCKS: return "locks";
	case REC_FILE: return "file";
	case REC_THREAD: return "thread";
	case REC_PIPE: return "pipe";
	case REC_EVENTFD: return "eventfd";
	case REC_TIMERFD: return "timerfd";
	case REC_SIGNALFD: return "signalfd";
	case REC_EPOLL: return "epoll";
	case REC_TTY: return "tty";
	case REC_INET: return "inet";
	case REC_SHMEM: return "shmem";
	case REC_FILEDATA: return "filedata";
	case REC_UNIX: return "unix";
	case REC_INOTIFY: return "inotify";
	case REC_TREEFILE: return "treefile";
	case REC_PAGES: return "pages";
	case REC_LAZY: return "lazy";
	case REC_END: return "end";
	}
	return "unknown";
}

int rec_read(struct rec_reader *r, uint32_t *type, const unsigned char **payload,
	     size_t *len)
{
	struct rec_wire h;
	uint32_t crc, want;
	unsigned char extra;
	ssize_t got;
	int rc;

	if (r->ended)
		return 0;
	got = layer_read(r->in, &h, 1);
	if (got == 0)
		return err_msg(EPIPE, "stream truncated after record %llu (no end record)",
			       (unsigned long long)r->count);
	if (got < 0)
		return (int)got;
	rc = layer_read_full(r->in, (char *)&h + 1, sizeof(h) - 1);
	if (!rc && h.len > REC_MAX_PAYLOAD)
		return err_msg(EBADMSG, "record %llu: length %u is too large (corrupt stream)",
			       (unsigned long long)r->count, h.len);
	if (!rc)
		rc = layer_read_full(r->in, r->buf, h.len);
	if (!rc)
		rc = layer_read_full(r->in, &want, sizeof(want));
	if (rc)
		return err_wrap(rc, "record %llu", (unsigned long long)r->count);
	crc = crc32c(0, &h, sizeof(h));
	crc = crc32c(crc, r->buf, h.len);
	if (crc != want)
		return err_msg(EBADMSG, "record %llu (%s): checksum mismatch (corrupt stream)",
			       (unsigned long long)r->count, rec_type_name(h.type));
	if (h.len < rec_min_len(h.type))
		return err_msg(EBADMSG, "record %llu (%s): %u bytes is too short",
			       (unsigned long long)r->count, rec_type_name(h.type), h.len);
	if (h.type == REC_END) {
		const struct rec_end *e = (const void *)r->buf;

		if (e->count != r->count || e->bytes != r->bytes)
			return err_msg(EBADMSG, "end record: %llu records / %llu bytes announced, %llu / %llu read",
				       (unsigned long long)e->count, (unsigned long long)e->bytes,
				       (unsigned long long)r->count, (unsigned long long)r->bytes);
		/* Nothing may follow the end record: the layers below must
		 * report their own verified end now. */
		got = layer_read(r->in, &extra, 1);
		if (got < 0)
			return (int)got;
		if (got > 0)
			return err_msg(EBADMSG, "data after the end record");
		r->ended = 1;
	}
	r->count++;
	r->bytes += sizeof(h) + h.len + sizeof(want);
	*type = h.type;
	*payload = r->buf;
	*len = h.len;
	return 1;
}
