/* stream.c: the header and the layer chain of a stream, both directions. */
#include "stream.h"
#include "compress.h"
#include "err.h"
#include "layer_thread.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

int stream_cfg_parse(struct stream_cfg *cfg, const char *compress, const char *encrypt)
{
	const char *keypath = NULL;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = compress_parse(compress ? compress : "none", &cfg->algo, &cfg->level);
	if (rc)
		return rc;
	rc = crypt_parse(encrypt ? encrypt : "none", &cfg->mode, &keypath);
	if (rc || cfg->mode == CRYPT_NONE)
		return rc;
	cfg->keyname = strrchr(keypath, '/') ? strrchr(keypath, '/') + 1 : keypath;
	return crypt_load_key(keypath, cfg->key, &cfg->keylen);
}

static void hex(char *out, const unsigned char *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

static int hexdigit(char c)
{
	const char *d = strchr("0123456789abcdef", c);

	return c && d ? (int)(d - "0123456789abcdef") : -1;
}

/* Exactly 2n hex digits: sscanf("%2x") would also take " f" or "+f". */
static int unhex(unsigned char *out, size_t n, const char *in)
{
	if (!in || strlen(in) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = hexdigit(in[2 * i]), lo = hexdigit(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* "0x" and 1 to 16 hex digits, as stream_header_basics writes it. */
static int parse_xmask(const char *s, uint64_t *v)
{
	size_t n = 0;

	*v = 0;
	if (strncmp(s, "0x", 2) != 0)
		return -1;
	for (s += 2; *s; s++, n++) {
		int d = hexdigit(*s);

		if (d < 0 || n == 16)
			return -1;
		*v = *v << 4 | (uint64_t)d;
	}
	return n ? 0 : -1;
}

int stream_writer_open(struct layer *bottom, struct stream_cfg *cfg, struct header *h,
		       struct layer **top)
{
	unsigned char salt[CRYPT_SALT_LEN];
	char salthex[2 * CRYPT_SALT_LEN + 1] = "";
	size_t saltlen = crypt_salt_len(cfg->mode);
	struct layer *enc, *comp;
	int rc;

	*top = bottom;
	rc = hdr_set(h, "compress", "%s", compress_name(cfg->algo));
	if (!rc)
		rc = hdr_set(h, "encrypt", "%s", crypt_name(cfg->mode));
	if (!rc && cfg->mode != CRYPT_NONE) {
		rc = crypt_random(salt, saltlen);
		hex(salthex, salt, saltlen);
		if (!rc)
			rc = hdr_set(h, "key", "%s", cfg->keyname);
		if (!rc)
			rc = hdr_set(h, "salt", "%s", salthex);
	}
	if (!rc)
		rc = hdr_format(h);
	if (!rc)
		rc = layer_write(bottom, h->text, h->len);
	if (rc)
		return rc;
	rc = layer_encrypt_open(bottom, cfg->mode, cfg->key, cfg->keylen, salt, saltlen,
				h->text, h->len, &enc);
	if (rc)
		return rc;
	*top = enc;
	rc = layer_compress_open(enc, cfg->algo, cfg->level, &comp);
	if (rc)
		return rc;
	*top = comp;
	/* Compressing and encrypting go to their own thread, beside the
	 * capture; a plain stream is written where it is made. */
	if (comp != bottom) {
		struct layer *th;

		rc = layer_thread_open(comp, &th);
		if (!rc)
			*top = th;
	}
	return rc;
}

static int check_machine(const struct header *h)
{
	const char *arch = hdr_get(h, "arch"), *feat = hdr_get(h, "xsave-features");
	uint64_t want, have = hdr_local_xcr0();

	if (!arch)
		return err_msg(EBADMSG, "header: no arch field");
	if (strcmp(arch, "x86_64") != 0)
		return err_msg(ENOEXEC, "snapshot is for %s; this machine is x86_64", arch);
	/* Missing or garbage must not read as "no features": the check
	 * would pass and the process die of SIGILL. */
	if (!feat)
		return err_msg(EBADMSG, "header: no xsave-features field");
	if (parse_xmask(feat, &want) < 0)
		return err_msg(EBADMSG, "header: bad xsave-features value \"%s\"", feat);
	if (want & ~have) {
		char names[256];

		hdr_xfeature_names(want & ~have, names, sizeof(names));
		return err_msg(ENOEXEC, "this CPU lacks %s, which the snapshot's process uses (it would die with SIGILL)",
			       names);
	}
	return 0;
}

int stream_reader_open(struct layer *bottom, const char *keydir, const char *keypath,
		       struct header *h, struct layer **top, char *warn, size_t warnlen)
{
	unsigned char key[CRYPT_KEY_MAX], salt[CRYPT_SALT_LEN];
	const char *cname, *ename, *keyname;
	enum crypt_mode mode;
	size_t keylen = 0, saltlen;
	struct layer *dec;
	int algo, rc;

	*top = bottom;
	warn[0] = '\0';
	rc = hdr_read(h, bottom);
	if (rc)
		return rc;
	rc = check_machine(h);
	if (rc)
		return rc;
	cname = hdr_get(h, "compress");
	ename = hdr_get(h, "encrypt");
	if (!cname || !ename)
		return err_msg(EBADMSG, "header: compress or encrypt field missing");
	rc = compress_by_name(cname, &algo);
	if (!rc)
		rc = crypt_by_name(ename, &mode);
	if (rc)
		return rc;
	saltlen = crypt_salt_len(mode);
	if (mode != CRYPT_NONE) {
		keyname = hdr_get(h, "key");
		if (unhex(salt, saltlen, hdr_get(h, "salt")))
			return err_msg(EBADMSG, "header: bad or missing salt");
		if (keypath)
			rc = crypt_load_key(keypath, key, &keylen);
		else if (keydir && keyname)
			rc = crypt_find_key(keydir, keyname, key, &keylen);
		else
			return err_msg(ENOKEY, "the snapshot is encrypted (%s, key \"%s\"): give -key=FILE or -keydir=DIR",
				       ename, keyname ? keyname : "?");
		if (rc < 0)
			return rc;
		if (rc == 1)
			snprintf(warn, warnlen, "%s", err_last());
	}
	rc = layer_decrypt_open(bottom, mode, key, keylen, salt, saltlen, h->text, h->len, &dec);
	memset(key, 0, sizeof(key));
	if (rc)
		return rc;
	*top = dec;
	return layer_decompress_open(dec, algo, top);
}

/* This boot of this machine: a random id the kernel makes at each boot,
 * nothing secret.  Device and inode numbers mean the same only where it
 * matches. */
static void boot_id(char *buf, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	buf[0] = '\0';
	if (f) {
		if (!fgets(buf, (int)len, f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
	if (strspn(buf, "0123456789abcdef-") != strlen(buf))
		buf[0] = '\0';
}

int stream_same_host(const struct header *h)
{
	const char *theirs = hdr_get(h, "boot-id");
	char ours[64];

	boot_id(ours, sizeof(ours));
	return theirs && ours[0] && strcmp(theirs, ours) == 0;
}

int stream_header_basics(struct header *h)
{
	struct utsname u;
	char id[64];
	int rc;

	uname(&u);
	boot_id(id, sizeof(id));
	rc = hdr_set(h, "arch", "x86_64");
	if (!rc && id[0])
		rc = hdr_set(h, "boot-id", "%s", id);
	if (!rc)
		rc = hdr_set(h, "kernel", "%s", u.release);
	if (!rc)
		rc = hdr_set(h, "xsave-features", "0x%llx", (unsigned long long)hdr_local_xcr0());
	if (!rc)
		rc = hdr_set(h, "xsave-size", "%u", hdr_local_xsave_size());
	return rc;
}
