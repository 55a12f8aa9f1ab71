/* SPDX-License-Identifier: Apache-2.0 */
/*
 * opname: the name of what a namespace, ptrace, bpf or module operation
 * asked for, from its syscall and the number the kernel event carries:
 * "newns|newpid" for unshare's flags, "attach" for a ptrace request,
 * "prog_load" for a bpf command. Unknown numbers are shown as numbers.
 */
#ifndef NH_OPNAME_H
#define NH_OPNAME_H

#include <stddef.h>
#include <stdint.h>

/* Writes the name into buf (always NUL-terminated, "" when the syscall
 * takes no such number) and returns buf. */
const char *nh_opname(uint32_t syscall, uint64_t op, char *buf, size_t len);

#endif
