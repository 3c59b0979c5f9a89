/* sigaltstack: an alternate signal stack and a SIGUSR1 handler with
 * SA_ONSTACK.  Each round checks sigaltstack(2) reports the same stack,
 * raises SIGUSR1 and checks the handler ran on it. */
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>

#define KIND "sigaltstack"
#include "zdtm.h"

#define SIZE (64 * 1024)

static char *alt;
static volatile uintptr_t handler_sp;
static volatile int handler_flags;

static void on_usr1(int sig)
{
	stack_t ss;
	char here;

	(void)sig;
	handler_sp = (uintptr_t)&here;
	handler_flags = sigaltstack(NULL, &ss) ? -1 : ss.ss_flags;
}

static const char *setup(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_ONSTACK };
	stack_t ss;

	(void)argc, (void)argv;
	alt = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (alt == MAP_FAILED)
		return "mmap";
	ss = (stack_t){ .ss_sp = alt, .ss_size = SIZE };
	if (sigaltstack(&ss, NULL))
		return "sigaltstack";
	if (sigaction(SIGUSR1, &sa, NULL))
		return "sigaction";
	return NULL;
}

static const char *check(void)
{
	stack_t ss;

	if (sigaltstack(NULL, &ss))
		return "sigaltstack";
	if (ss.ss_sp != alt || ss.ss_size != SIZE || ss.ss_flags != 0)
		return zdtm_why("the alternate stack is %p, %zu bytes, flags %#x; was %p, %d bytes, 0",
				ss.ss_sp, ss.ss_size, ss.ss_flags, (void *)alt, SIZE);
	handler_sp = 0;
	raise(SIGUSR1);
	if (handler_sp < (uintptr_t)alt || handler_sp >= (uintptr_t)alt + SIZE)
		return zdtm_why("the SIGUSR1 handler ran at %#lx, not on the alternate stack",
				(unsigned long)handler_sp);
	if (handler_flags != SS_ONSTACK)
		return zdtm_why("sigaltstack in the handler says flags %#x, not SS_ONSTACK",
				handler_flags);
	return NULL;
}
