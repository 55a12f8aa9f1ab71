/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the catalogue: input is "SPEC\nPATH". Besides memory safety, one
 * configured rule in an otherwise empty catalogue must give the same
 * answer as a slow reference that tries fnmatch at every segment boundary
 * of the normalised path. That checks the shortcuts (segment counting,
 * the literal head/tail filter, the subtree cut) against plain fnmatch.
 * The spec is also fed to the endpoint parser, and the path's bytes used
 * as an address.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "catalogue.h"

static struct nh_catalogue cat;

/* The same lexical normalisation, written the obvious way. */
static size_t ref_normalise(const char *in, char *out)
{
	const char *p = in, *e;
	size_t o = 0, n;
	bool first = true;

	if (*p == '/')
		out[o++] = '/';
	while (*p) {
		while (*p == '/')
			p++;
		e = strchrnul(p, '/');
		n = (size_t)(e - p);
		if (n && !(n == 1 && *p == '.')) {
			if (!first)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
			first = false;
		}
		p = e;
	}
	out[o] = '\0';
	return first ? 0 : 1; /* 0: no segment at all */
}

static bool ref_match(const char *pat, char *path)
{
	static char pre[NH_CAT_PATTERN_MAX + 1];
	size_t n = strlen(pat), i, len = strlen(path);
	bool subtree = n > 0 && pat[0] == '/' && pat[n - 1] == '/';
	char saved;
	bool hit = false;

	if (!subtree && pat[0] == '/')
		return fnmatch(pat, path, FNM_PATHNAME) == 0;
	if (!subtree) {
		for (i = 0; i < len && !hit; i++) {
			if ((i == 0 && path[0] != '/') || (i > 0 && path[i - 1] == '/'))
				hit = fnmatch(pat, path + i, FNM_PATHNAME) == 0;
		}
		return hit;
	}
	if (path[0] != '/')
		return false;
	if (n == 1)
		return true;
	memcpy(pre, pat, n - 1);
	pre[n - 1] = '\0';
	/* some proper prefix of whole segments, followed by more */
	for (i = 1; i < len && !hit; i++) {
		if (path[i] != '/')
			continue;
		saved = path[i];
		path[i] = '\0';
		hit = fnmatch(pre, path, FNM_PATHNAME) == 0;
		path[i] = saved;
	}
	return hit;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[NH_CAT_PATH_MAX + 512], norm[NH_CAT_PATH_MAX + 1];
	const char *spec, *path, *got, *pat, *why = NULL;
	char *nl;
	bool want;
	int rc;

	if (size >= sizeof(buf) || memchr(data, '\0', size))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	nl = strchr(buf, '\n');
	if (!nl)
		return 0;
	*nl = '\0';
	spec = buf;
	path = nl + 1;

	nh_catalogue_free(&cat);
	rc = nh_catalogue_add_endpoint(&cat, spec, &why);
	if ((rc != 0) != (why != NULL) || (rc && rc != -EINVAL))
		abort();
	if (rc == 0 && strlen(path) >= 16) {
		(void)nh_catalogue_match_endpoint(&cat, AF_INET, path, 80);
		(void)nh_catalogue_match_endpoint(&cat, AF_INET6, path, (uint16_t)path[0]);
	}

	nh_catalogue_free(&cat);
	why = NULL;
	rc = nh_catalogue_add_path(&cat, spec, &why);
	if ((rc != 0) != (why != NULL) || (rc && rc != -EINVAL))
		abort();
	got = nh_catalogue_match_path(&cat, path);
	if (rc)
		return got ? abort(), 0 : 0;
	if (strlen(path) > NH_CAT_PATH_MAX || !ref_normalise(path, norm)) {
		if (got)
			abort();
		return 0;
	}
	pat = spec + strcspn(spec, "=:") + 1;
	want = spec[0] != '!' && ref_match(pat, norm);
	if (want != (got != NULL))
		abort();
	return 0;
}
