/* shm_devzero: shared mappings of /dev/zero (shared anonymous memory the
 * kernel makes for them): one split in two by mprotect (one object, two
 * mappings of it, the second read-only), and another, separate one.
 * /proc/self/maps names them "/dev/zero (deleted)" (a restore by root). */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#define KIND "shm_devzero"
#include "zdtm.h"

#define PG 4096

static unsigned char *a, *c;

static const char *setup(int argc, char **argv)
{
	int fd = open("/dev/zero", O_RDWR | O_CLOEXEC);

	(void)argc;
	(void)argv;
	if (fd < 0)
		return "open /dev/zero";
	a = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	c = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (a == MAP_FAILED || c == MAP_FAILED)
		return "mmap";
	for (int i = 0; i < 8 * PG; i++)
		a[i] = (unsigned char)(i ^ 0x5a);
	memset(c, 0xc3, 2 * PG);
	if (mprotect(a + 4 * PG, 4 * PG, PROT_READ))
		return "mprotect";
	return NULL;
}

/* The name /proc/self/maps gives the mapping at p. */
static const char *maps_name(const void *p)
{
	static char line[512];
	unsigned long lo, hi;
	FILE *f = fopen("/proc/self/maps", "re");
	const char *name = "";

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2 || (unsigned long)p < lo || (unsigned long)p >= hi)
			continue;
		line[strcspn(line, "\n")] = 0;
		name = strchr(line, '/') ? strchr(line, '/') : "";
		break;
	}
	if (f)
		fclose(f);
	return name;
}

static const char *check(void)
{
	static unsigned n;
	const char *name = maps_name(a + 4 * PG);

	if (strcmp(name, "/dev/zero (deleted)"))
		return zdtm_why("maps names it \"%s\"", name);

	for (int i = 0; i < 8 * PG; i++)
		if (i != 8 && a[i] != (unsigned char)(i ^ 0x5a))
			return zdtm_why("byte %d is %u, was %u", i, a[i], (unsigned char)(i ^ 0x5a));
	for (int i = 0; i < 2 * PG; i++)
		if (c[i] != 0xc3)
			return zdtm_why("the other mapping's byte %d is %u, was 0xc3 (one object for two?)", i, c[i]);
	n++;
	a[8] = (unsigned char)n;	/* writable still */
	return NULL;
}
