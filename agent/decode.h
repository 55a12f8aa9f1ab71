/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decode: validate a raw ring-buffer record before anything reads it.
 * The kernel is trusted to write the layout it was built with, but a
 * mismatched object or a bug must give a counted error, not a bad read.
 */
#ifndef NH_DECODE_H
#define NH_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nhiscope.h"

/* Returns 0 and sets *hdr, or -EINVAL (too short, unknown kind) or
 * -EBADMSG (wrong size for the kind, string length out of bounds). */
int nh_decode(const void *data, size_t size, const struct nh_hdr **hdr);

/* Kinds the agent makes itself, numbered after the kernel's so one
 * name table and one filter bit set cover both. */
enum nh_agent_kind {
	NH_KIND_LOSS = NH_KIND_MAX, /* records the kernel could not deliver */
	NH_KIND_CREDENTIAL_USE,
	NH_KIND_CREDENTIAL_REUSE,
	NH_KIND_SECRET_EXPOSURE,
	NH_KIND_HUMAN_USE,
	NH_KIND_IDENTITY_CONFLICT,   /* two claims about one pod's service account */
	NH_KIND_ANOMALY,	     /* a deviation from the identity's baseline */
	NH_KIND_MONITORING_TAMPERED, /* the agent's kernel side changed by another */
	NH_KIND_ALL,		     /* number of kinds */
};
_Static_assert(NH_KIND_ALL <= 64, "kinds are filter bits");

/* "exec, fork, ...": every kind a subscriber may ask for. */
const char *nh_kind_list(void);

/* "unknown" for a number no kind has (kinds are numbered with gaps). */
const char *nh_kind_name(uint32_t kind);
/* Whether a kernel or agent kind of that number exists (tables iterate
 * over numbers with gaps: reserved ranges). */
bool nh_kind_named(uint32_t kind);
/* Returns the kind, or -EINVAL for an unknown name. */
int nh_kind_parse(const char *name);
const char *nh_syscall_name(uint32_t sys);

#endif
