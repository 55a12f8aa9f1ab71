// SPDX-License-Identifier: Apache-2.0
/* The credential registry: uses, identities, reuse once per new identity,
 * bounds. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "credentials.h"

static void test_reuse(void)
{
	struct nh_credentials r;
	const struct nh_credential *c = NULL;

	CHECK(nh_credentials_init(&r, 16) == 0);
	CHECK(nh_credentials_use(&r, "file:1:2", "pgpass", "/root/.pgpass", "unit:a.service", 10, 1,
				 &c) == NH_CRED_FIRST);
	CHECK(c && c->uses == 1 && c->nusers == 1 && !nh_credential_reused(c));
	CHECK(nh_credentials_use(&r, "file:1:2", "pgpass", "/root/.pgpass", "unit:a.service", 20, 5,
				 &c) == NH_CRED_KNOWN);
	CHECK(c->uses == 6 && c->first_ns == 10 && c->last_ns == 20);
	/* a second identity: reuse, reported once */
	CHECK(nh_credentials_use(&r, "file:1:2", "pgpass", "/x", "user:root", 30, 1, &c) ==
	      NH_CRED_REUSE);
	CHECK(nh_credential_reused(c) && c->nusers == 2);
	CHECK_STR(c->name, "/root/.pgpass"); /* the name it was first used by */
	CHECK(nh_credentials_use(&r, "file:1:2", "pgpass", "/x", "user:root", 40, 1, &c) ==
	      NH_CRED_KNOWN);
	/* another credential is independent */
	CHECK(nh_credentials_use(&r, "endpoint:1.2.3.4:80", "cloud_metadata", "1.2.3.4:80",
				 "user:root", 50, 1, &c) == NH_CRED_FIRST);
	nh_credentials_free(&r);
}

static void test_bounds(void)
{
	struct nh_credentials r;
	const struct nh_credential *c = NULL;
	char id[32], who[32];
	size_t n = 0, it = 0;

	CHECK(nh_credentials_init(&r, 16) == 0);
	/* more identities than listed: counted, still reuse */
	for (int i = 0; i < NH_CRED_USERS_MAX + 4; i++) {
		snprintf(who, sizeof(who), "user:u%d", i);
		CHECK(nh_credentials_use(&r, "argv:fp", "jwt", "fp", who, i, 1, &c) ==
		      (i ? NH_CRED_REUSE : NH_CRED_FIRST));
	}
	CHECK(c->nusers == NH_CRED_USERS_MAX && c->users_unlisted == 4);
	/* more credentials than the bound: old ones make room, never an error */
	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "file:0:%d", i);
		CHECK(nh_credentials_use(&r, id, "k", id, "user:root", i, 1, NULL) ==
		      NH_CRED_FIRST);
	}
	while (nh_credentials_next(&r, &it))
		n++;
	CHECK(n <= 16 && n > 0);
	CHECK(r.evicted >= 100 - 16);
	nh_credentials_free(&r);
}

int main(void)
{
	test_reuse();
	test_bounds();
	return nh_check_report("credentials");
}
