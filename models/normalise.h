/* SPDX-License-Identifier: Apache-2.0 */
/*
 * normalise: raw observation values into the canonical strings profiles
 * keep. Pure functions of their input; what depends on a profile (wide
 * directories folded into "dir/\*") is in profile.c.
 *
 * Every output is NUL-terminated and at most NH_MODEL_VALUE_MAX - 1 bytes;
 * a longer one keeps its first NH_MODEL_VALUE_MAX - 2 bytes and ends in
 * '*', so two long values that share that prefix are one item. All
 * normalisations are idempotent: a stored item normalises to itself, which
 * is what lets the hot path look up a raw value before normalising it.
 */
#ifndef NH_MODELS_NORMALISE_H
#define NH_MODELS_NORMALISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models.h"

/*
 * A path: empty and "." segments go, ".." removes the segment before it
 * (lexically; never above "/", kept at the start of a relative path),
 * and a segment that is all digits, at least 8 hex digits, or a UUID
 * (8-4-4-4-12 hex) becomes "*": the pid in /proc/1234/status, the pod UID
 * in /var/lib/kubelet/pods/UID/volumes.
 * Returns the length, or -EINVAL for NULL or "".
 */
int nh_norm_path(const char *in, char out[NH_MODEL_VALUE_MAX]);

/* Whether one path segment is volatile (digits, long hex, UUID). */
bool nh_norm_volatile(const char *seg, size_t n);

/* Any other value as given, only cut when too long. -EINVAL for "". */
int nh_norm_text(const char *in, char out[NH_MODEL_VALUE_MAX]);

/* An ingress port: "8080". Returns the length. */
int nh_norm_port(uint16_t port, char out[NH_MODEL_VALUE_MAX]);

/* Egress items: one address, a /24 (IPv4) or /64 (IPv6), or any address. */
enum nh_ep_kind { NH_EP_EXACT = 0, NH_EP_PREFIX, NH_EP_PORT };

#define NH_EP_PREFIX4 24
#define NH_EP_PREFIX6 64

struct nh_endpoint {
	uint8_t kind; /* enum nh_ep_kind */
	int family;   /* AF_INET or AF_INET6; 0 for NH_EP_PORT */
	uint16_t port;
	uint8_t addr[16]; /* IPv4 in the first 4 bytes, the rest zero */
};

/*
 * An exact endpoint from an observation. IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d, what a dual-stack socket reports) become IPv4, so one
 * destination is one item whichever socket reached it. -EINVAL unless
 * family is AF_INET or AF_INET6.
 */
int nh_endpoint_from(int family, const uint8_t addr[16], uint16_t port, struct nh_endpoint *e);

/* e widened to kind (NH_EP_PREFIX masks the address, NH_EP_PORT drops it). */
void nh_endpoint_widen(const struct nh_endpoint *e, enum nh_ep_kind kind, struct nh_endpoint *out);

/* "10.0.0.5:443", "[2001:db8::1]:443", "10.0.0.0/24:443",
 * "[2001:db8::]/64:443", "*:443" (RFC 5952 text for IPv6). Returns the length. */
int nh_endpoint_format(const struct nh_endpoint *e, char out[NH_MODEL_VALUE_MAX]);

/* The inverse of nh_endpoint_format, accepting only its exact output. */
int nh_endpoint_parse(const char *s, struct nh_endpoint *e);

#endif
