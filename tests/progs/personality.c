/* personality: UNAME26 (uname reports a 2.6 release) and ADDR_NO_RANDOMIZE,
 * checked with personality(0xffffffff) and uname. */
#include <sys/personality.h>
#include <sys/utsname.h>

#define KIND "personality"
#include "zdtm.h"

#define PERS (PER_LINUX | UNAME26 | ADDR_NO_RANDOMIZE)

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (personality(PERS) < 0)
		return "personality";
	return NULL;
}

static const char *check(void)
{
	struct utsname u;
	int p = personality(0xffffffff);

	if (p != PERS)
		return zdtm_why("personality is %#x, was %#x", p, PERS);
	if (uname(&u) || strncmp(u.release, "2.6.", 4))
		return zdtm_why("uname says release %s, UNAME26 says 2.6.x", u.release);
	return NULL;
}
