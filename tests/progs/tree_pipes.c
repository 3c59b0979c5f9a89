/* tree_pipes: a parent and two children talking over pipes, both ways,
 * with bytes always queued in each: the parent keeps REQ_AHEAD requests
 * ahead and each child takes one only while another waits behind it, and
 * each child keeps REP_AHEAD replies ahead of those the parent read.  Every message carries a sequence number and
 * a value derived from it, so a message lost, repeated (queued bytes
 * restored once per end) or sent into another pipe is seen.  The ends of
 * every pipe are in two processes of the tree (each closes the ends it
 * does not use).  A child that sees something wrong prints FAIL and
 * exits: the parent then reads EOF and fails too. */
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>

#define KIND "tree_pipes"
#include "zdtm.h"

#define NCHILD 2
#define REQ_AHEAD 3
#define REP_AHEAD 2

struct msg {
	uint64_t seq;
	uint64_t val;
};

static int req_w[NCHILD], rep_r[NCHILD];
static uint64_t next_req[NCHILD], next_rep[NCHILD];
static pid_t kids[NCHILD];

static uint64_t req_val(int c, uint64_t seq)
{
	return seq * 0x9e3779b97f4a7c15ull ^ (uint64_t)(c + 1);
}

static uint64_t rep_val(int c, uint64_t seq)
{
	return ~req_val(c, seq) + 7;
}

static int put(int fd, uint64_t seq, uint64_t val)
{
	struct msg m = { seq, val };

	return write(fd, &m, sizeof(m)) == sizeof(m) ? 0 : -1;
}

static int get(int fd, struct msg *m)
{
	ssize_t n;

	do
		n = read(fd, m, sizeof(*m));
	while (n < 0 && errno == EINTR);
	return n == sizeof(*m) ? 0 : -1;
}

/* Reply seq answers request seq - REP_AHEAD: the first REP_AHEAD replies
 * go out before any request is read. */
static void child(int c, int in, int out)
{
	struct msg m;
	uint64_t want = 0;

	for (uint64_t s = 0; s < REP_AHEAD; s++)
		if (put(out, s, rep_val(c, s)))
			_exit(3);
	for (;;) {
		int queued = 0;

		/* A request is taken only while another waits behind it:
		 * the request pipe is never empty between two rounds. */
		while (ioctl(in, FIONREAD, &queued) == 0 && queued < 2 * (int)sizeof(m)) {
			if (getppid() == 1)
				_exit(0);
			msleep(2);
		}
		if (get(in, &m)) {
			if (getppid() == 1)
				_exit(0);
			say("FAIL " KIND " child %d: read of request %llu\n", c,
			    (unsigned long long)want);
			_exit(1);
		}
		if (m.seq != want || m.val != req_val(c, want)) {
			say("FAIL " KIND " child %d: request %llu (value %llx), expected %llu\n", c,
			    (unsigned long long)m.seq, (unsigned long long)m.val,
			    (unsigned long long)want);
			_exit(1);
		}
		want++;
		if (put(out, want + REP_AHEAD - 1, rep_val(c, want + REP_AHEAD - 1)))
			_exit(0);
	}
}

static const char *setup(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	closefrom(3);
	for (int c = 0; c < NCHILD; c++) {
		int req[2], rep[2];

		if (pipe(req) || pipe(rep))
			return "pipe";
		kids[c] = fork();
		if (kids[c] < 0)
			return "fork";
		if (kids[c] == 0) {
			/* Ends when the parent does. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (int o = 0; o < c; o++) {
				close(req_w[o]);
				close(rep_r[o]);
			}
			close(req[1]);
			close(rep[0]);
			child(c, req[0], rep[1]);
		}
		close(req[0]);
		close(rep[1]);
		req_w[c] = req[1];
		rep_r[c] = rep[0];
		for (int k = 0; k < REQ_AHEAD; k++, next_req[c]++)
			if (put(req_w[c], next_req[c], req_val(c, next_req[c])))
				return "first requests";
	}
	return NULL;
}

static const char *check(void)
{
	struct msg m;

	for (int c = 0; c < NCHILD; c++) {
		if (put(req_w[c], next_req[c], req_val(c, next_req[c])))
			return zdtm_why("child %d: write of request %llu: %s", c,
					(unsigned long long)next_req[c], strerror(errno));
		next_req[c]++;
		if (get(rep_r[c], &m))
			return zdtm_why("child %d: read of reply %llu: %s", c,
					(unsigned long long)next_rep[c],
					errno ? strerror(errno) : "end of file (the child ended)");
		if (m.seq != next_rep[c] || m.val != rep_val(c, next_rep[c]))
			return zdtm_why("child %d: reply %llu (value %llx), expected %llu", c,
					(unsigned long long)m.seq, (unsigned long long)m.val,
					(unsigned long long)next_rep[c]);
		next_rep[c]++;
	}
	return NULL;
}
