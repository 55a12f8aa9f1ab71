/* SPDX-License-Identifier: Apache-2.0 */
/*
 * workload: a pod's owning workload guessed from the pod's name alone, the
 * way Kubernetes controllers generate names. Used only when neither the
 * kubelet nor the API server is configured; their answer always wins.
 * Pure string code, no I/O.
 *
 * Shapes recognised (S = 5 characters of the alphabet
 * "bcdfghjklmnpqrstvwxz2456789", the random suffix of generateName):
 *   <deploy>-<hash>-S  Deployment. The ReplicaSet's pod-template-hash is
 *                      the decimal uint32 hash with each digit mapped into
 *                      that alphabet, so it only uses "456789bcdf": it is
 *                      decoded and must be a uint32 without a leading zero,
 *                      at least 7 characters long (shorter ones, < 10^6,
 *                      are too rare to be worth a false claim).
 *   <cronjob>-<minutes>-S
 *                      CronJob: the Job is named after the scheduled time
 *                      in minutes since the epoch, 8 or 9 decimal digits
 *                      (1989 to 3871). A hash reading wins over this one,
 *                      which cannot be confused before the year 2065.
 *   <name>-S           "DaemonSet/Job": both generate the same shape, the
 *                      name cannot tell them apart (nor a bare ReplicaSet).
 *                      An Indexed Job's pod, <job>-<index>-S, comes out
 *                      as "<job>-<index>".
 *   <sts>-<ordinal>    StatefulSet: a decimal ordinal without a leading zero
 *                      (and not 5 digits that could be a random suffix).
 * Static (mirror) pods are "<name>-<node name>": nh_workload_from_pod
 * reports them as kind "Node" when given the node's name; without it they
 * are -ENOENT, unless the node name itself has one of the shapes above
 * (a node "worker-2" makes "etcd-worker-2" look like StatefulSet
 * "etcd-worker"): pass the node name when it is known.
 *
 * Conservative by design: anything else, a bare pod included, is -ENOENT,
 * and so is a 63-byte name whose prefix Kubernetes cut before appending
 * the suffix (the owner's name is then only partly there). A bare pod
 * whose last word happens to be five alphabet characters ("web-https")
 * still looks generated. Argo Rollouts use the Deployment shape.
 */
#ifndef NH_WORKLOAD_H
#define NH_WORKLOAD_H

#define NH_WORKLOAD_KIND_MAX 15
#define NH_WORKLOAD_NAME_MAX 253 /* DNS subdomain, the longest object name */

struct nh_workload {
	char kind[NH_WORKLOAD_KIND_MAX + 1]; /* "Deployment", "StatefulSet", "CronJob",
					      * "DaemonSet/Job" (ambiguous) or "Node" */
	char name[NH_WORKLOAD_NAME_MAX + 1];
};

/*
 * 0 with *out filled, -ENOENT when no shape fits (*out zeroed), -EINVAL
 * when pod is NULL or not a valid pod name (a lowercase RFC 1123
 * subdomain of at most 253 bytes) or out is NULL.
 */
int nh_workload_from_pod_name(const char *pod, struct nh_workload *out);

/* The same, and a pod named "<x>-<node>" is the static pod of that node
 * (kind "Node", name node). node may be NULL or "" (unknown). */
int nh_workload_from_pod(const char *pod, const char *node, struct nh_workload *out);

#endif
