/* SPDX-License-Identifier: Apache-2.0 */
/*
 * profilestore: behaviour profiles on disk, one snapshot file per
 * identity (models' encoding: header, CRC, zlib'd protobuf). Written
 * atomically (temporary file, fsync, rename) so a crash leaves the old
 * snapshot or the new one, never half of one. A snapshot that does not
 * decode is moved aside as <name>.corrupt with a warning and that
 * identity relearns; the others load.
 */
#ifndef NH_PROFILESTORE_H
#define NH_PROFILESTORE_H

#include <limits.h>
#include <stdint.h>

#include "log.h"
#include "models.h"
#include "worker.h"

#define NH_PROFILE_DIR	   "/var/lib/nhiscope/profiles"
#define NH_SNAPSHOT_SUFFIX ".nhp"

struct nh_profilestore {
	char dir[PATH_MAX];
	const struct nh_log *log;
	uint64_t loaded, corrupt, saved, save_errors;
	/* Set by the owner: snapshots are encoded on the loop and written,
	 * fsynced and renamed on a worker (a slow disk never holds the
	 * loop); NULL: written in place (the last save at stop). */
	struct nh_worker *worker;
	uint64_t saves_skipped; /* the previous save was still being written */
};

/* Creates dir (mode 0700) when missing; -errno with a logged reason. */
int nh_profilestore_open(struct nh_profilestore *s, const char *dir, const struct nh_log *log);
/* Load every snapshot in the directory into m; returns how many loaded. */
int nh_profilestore_load(struct nh_profilestore *s, struct nh_models *m);
/* Write every profile of m; returns how many written (handed to the
 * worker, when one is set), or -errno. */
int nh_profilestore_save(struct nh_profilestore *s, const struct nh_models *m);

#endif
