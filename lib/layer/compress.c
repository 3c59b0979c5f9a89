/* compress.c: the table of compressors, -compress=ALGO[:LEVEL] parsing,
 * and opening the layer an algorithm names. */
#include "compress.h"
#include "err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct compressor {
	const char *name;
	int min_level, max_level, default_level;	/* max < min: no levels */
	int (*writer)(struct layer *below, int level, struct layer **out);
	int (*reader)(struct layer *below, struct layer **out);
};

/* zstd stops at 19: the "ultra" levels need windows up to 128 MiB in the
 * reader, and layer_zstd.c keeps the reader's window at 8 MiB. */
static const struct compressor compressors[COMPRESS_NALGO] = {
	[COMPRESS_NONE]   = { "none",   0, -1, 0, NULL, NULL },
	[COMPRESS_GZIP]   = { "gzip",   0,  9, 6, layer_gzip_writer, layer_gzip_reader },
	[COMPRESS_FLATE]  = { "flate",  0,  9, 6, layer_flate_writer, layer_flate_reader },
	[COMPRESS_SNAPPY] = { "snappy", 0, -1, 0, layer_snappy_writer, layer_snappy_reader },
	[COMPRESS_ZSTD]   = { "zstd",   1, 19, 3, layer_zstd_writer, layer_zstd_reader },
};

static int compress_check_level(int algo, int level)
{
	const struct compressor *c = &compressors[algo];

	if (level == COMPRESS_LEVEL_DEFAULT)
		return 0;
	if (c->max_level < c->min_level)
		return err_msg(EINVAL, "compression %s takes no level", c->name);
	if (level < c->min_level || level > c->max_level)
		return err_msg(EINVAL, "compression %s: level %d out of range %d-%d",
			       c->name, level, c->min_level, c->max_level);
	return 0;
}

int compress_parse(const char *spec, int *algo, int *level)
{
	const char *colon = strchr(spec, ':');
	size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
	int a;

	for (a = 0; a < COMPRESS_NALGO; a++)
		if (strlen(compressors[a].name) == len &&
		    strncasecmp(spec, compressors[a].name, len) == 0)
			break;
	if (a == COMPRESS_NALGO)
		return err_msg(EINVAL, "unknown compression \"%.*s\" (want none, gzip, flate, snappy or zstd)",
			       (int)len, spec);
	*algo = a;
	*level = COMPRESS_LEVEL_DEFAULT;
	if (!colon)
		return 0;

	const char *digits = colon + 1;
	char *end;
	long v;

	if (*digits < '0' || *digits > '9')
		return err_msg(EINVAL, "compression %s: bad level \"%s\"",
			       compressors[a].name, digits);
	errno = 0;
	v = strtol(digits, &end, 10);
	if (*end || errno || v > 1000)
		return err_msg(EINVAL, "compression %s: bad level \"%s\"",
			       compressors[a].name, digits);
	*level = (int)v;
	return compress_check_level(a, *level);
}

const char *compress_name(int algo)
{
	if (algo < 0 || algo >= COMPRESS_NALGO)
		return NULL;
	return compressors[algo].name;
}

int compress_by_name(const char *name, int *algo)
{
	for (int a = 0; a < COMPRESS_NALGO; a++) {
		if (strcmp(name, compressors[a].name) == 0) {
			*algo = a;
			return 0;
		}
	}
	return err_msg(EINVAL, "unknown compression \"%s\" in stream header", name);
}

static int compress_check_algo(int algo)
{
	if (algo < 0 || algo >= COMPRESS_NALGO)
		return err_msg(EINVAL, "unknown compression algorithm %d", algo);
	return 0;
}

int layer_compress_open(struct layer *below, int algo, int level,
			struct layer **out)
{
	int rc = compress_check_algo(algo);

	if (rc < 0 || (rc = compress_check_level(algo, level)) < 0)
		return rc;
	if (!compressors[algo].writer) {
		*out = below;
		return 0;
	}
	if (level == COMPRESS_LEVEL_DEFAULT)
		level = compressors[algo].default_level;
	return compressors[algo].writer(below, level, out);
}

int layer_decompress_open(struct layer *below, int algo, struct layer **out)
{
	int rc = compress_check_algo(algo);

	if (rc < 0)
		return rc;
	if (!compressors[algo].reader) {
		*out = below;
		return 0;
	}
	return compressors[algo].reader(below, out);
}
