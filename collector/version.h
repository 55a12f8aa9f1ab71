/* SPDX-License-Identifier: Apache-2.0 */
#ifndef NH_COLLECTOR_VERSION_H
#define NH_COLLECTOR_VERSION_H

#define NH_COLLECTOR_VERSION "0.1.0"

#endif
