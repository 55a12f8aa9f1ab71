# SPDX-License-Identifier: Apache-2.0
"""Objects are what the kernel says they are (issue 16): the keyed dedup
object hash cannot be collided by a workload, removed cgroups leave nothing
in the dedup map, and one workload cannot flush another's tables."""

import json
import os
import random
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nhtest import (WORKLOAD, Agent, Alive, KubeletRoot, Pod, SaPod, Suite,  # noqa: E402
                    Tail, run_alive, sa_token, wait_until)

suite = Suite("objects")

M64 = (1 << 64) - 1
K = 0x9e3779b97f4a7c15


def old_mix(h, w):
    """nh_mix of main at 0b41cac: unkeyed and invertible."""
    h ^= w
    h = (h * K) & M64
    return h ^ (h >> 29)


def old_hash_bytes(b):
    """nh_hash_bytes of 0b41cac over a path."""
    h = 0xcbf29ce484222325 ^ len(b)
    for off in range(0, len(b), 8):
        h = old_mix(h, int.from_bytes(b[off:off + 8].ljust(8, b"\0"), "little"))
    return h


def collide(target):
    """A 16-byte printable file name whose old path hash equals target's,
    found by inverting the last mixing step, as an attacker would."""
    want = old_hash_bytes(target)
    x = want ^ (want >> 29) ^ (want >> 58)  # undo h ^= h >> 29
    x = (x * pow(K, -1, 1 << 64)) & M64     # undo h *= K
    alphabet = [c for c in range(0x21, 0x7f) if c != ord("/")]
    rnd = random.Random(16)
    for _ in range(2_000_000):
        w0 = bytes(rnd.choice(alphabet) for _ in range(8))
        h1 = old_mix(0xcbf29ce484222325 ^ 16, int.from_bytes(w0, "little"))
        w1 = (x ^ h1).to_bytes(8, "little")
        if all(c in alphabet for c in w1):
            name = w0 + w1
            assert old_hash_bytes(name) == want  # a real collision on main
            return name.decode()
    raise AssertionError("no printable collision found")


@suite.test
def crafted_collision_with_etc_hosts_is_reported(s):
    """On main a name computed against the unkeyed hash was folded into
    /etc/hosts' count and never appeared; keyed (and with the inode in the
    object) it is an open event of its own."""
    name = collide(b"/etc/hosts")
    d = tempfile.mkdtemp(dir=s.tmp)
    with open(os.path.join(d, name), "w") as f:
        f.write("not /etc/hosts\n")
    pod = Pod()
    agent = tail = None
    try:
        agent = Agent(s.tmp, "--dedup-window", "60000")
        tail = Tail(agent, "--identity", "k8s:pod/" + pod.uid, "--kind", "open,summary")
        p = pod.popen([WORKLOAD, "open", "/etc/hosts", "open", name, "open", name], cwd=d,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        tail.wait_for(lambda e: e["kind"] == "open" and e["pid"] == p.pid and
                      e["path"] == "/etc/hosts", what="the /etc/hosts open")
        tail.wait_for(lambda e: e["kind"] == "open" and e["pid"] == p.pid and
                      e["path"] == name, what="the colliding name's own open event")
        st = agent.status()
        assert st["dedup"]["evicted"] == 0, st["dedup"]
    finally:
        if tail:
            tail.close()
        if agent:
            agent.stop()
        pod.remove()


@suite.test
def full_dedup_map_evicts_counts_and_keeps_deduplicating(s):
    """One pod floods a 256-entry dedup map with 2,000 distinct objects; on
    main the full map stopped deduplicating node-wide, so another pod's
    100 opens of one file were 100 events. Now the flooder stops being
    remembered at its quota (an eighth of the map: issue 16's per-identity
    quota), what a full map pushes out is evicted and counted, and the
    repeat is still folded."""
    # Scoped to the two pods: the map is small and the node is shared.
    under = "nh-objects-%d-%s" % (os.getpid(), uuid.uuid4().hex[:6])
    flood, victim = Pod(under=under), Pod(under=under)
    agent = tail = None
    d = tempfile.mkdtemp(dir=s.tmp)
    path = os.path.join(s.tmp, "victim-file")
    open(path, "w").close()
    try:
        agent = Agent(s.tmp, "--dedup-entries", "256", "--dedup-window", "1000",
                      "--scope-cgroup", "/" + under)
        tail = Tail(agent, "--identity", "k8s:pod/" + victim.uid, "--kind", "open,summary")
        flood.run([WORKLOAD, "open-new", d, "2000"])
        victim.run([WORKLOAD, "open-loop", path, "100"])

        def summed():
            return sum(e["count"] for e in tail.matching(
                lambda e: e["kind"] == "summary" and e.get("object") == path))
        wait_until(lambda: summed() >= 99, timeout=20, what="summaries adding up to 99")
        tail.flush_sync(victim)
        opens = tail.matching(lambda e: e["kind"] == "open" and e.get("path") == path)
        assert len(opens) == 1, "expected one open event, got %d" % len(opens)
        assert summed() == 99, summed()
        st = agent.status()["dedup"]
        assert st["quota"] == 32 and st["refused"] > 0, st
        assert st["evicted"] + st["refused"] >= 2000 - 256, st
    finally:
        if tail:
            tail.close()
        if agent:
            agent.stop()
        victim.remove()
        flood.remove()


@suite.test
def argv_secret_flood_keeps_another_pods_credentials(s):
    """5,000 distinct argv secrets from one pod: on main they evicted the
    credential registry, so a stolen credential's second user
    looked like a first and no credential_reuse came. With per-identity
    quotas the flooder only pushes out its own entries."""
    d = os.path.join(s.tmp, "flood-%s" % uuid.uuid4().hex[:6])
    os.makedirs(d)
    pgpass = os.path.join(d, ".pgpass")
    with open(pgpass, "w") as f:
        f.write("db:5432:*:app:not-a-real-password\n")
    victim = SaPod("billing", "worker", "worker-0")
    flood = SaPod("batch", "flood", "flood-0")
    agent = tail = None
    try:
        # A quarter of the default bound, so that on main the 5,000 surely
        # swept the victim out (its eviction cursor goes round the table).
        agent = Agent(s.tmp, "--max-credentials", "1024")
        tail = Tail(agent, "--kind", "credential_use,credential_reuse")
        with Alive(victim, ["cat", pgpass]):  # its root stays for the agent's stat
            tail.wait_for(lambda e: e["kind"] == "credential_use" and
                          e["credential"] == pgpass and e["identity"] == victim.key,
                          what="the victim's use of the credential")
        secret = "pw-" + uuid.uuid4().hex[:12] + "-"
        flood.run(["bash", "-c", 'for i in $(seq 5000); do /bin/true --password=%s$i; done'
                   % secret], timeout=600)
        tail.sync(flood)  # the agent has handled the whole flood
        seen = len(tail.poll())
        # the credential's next user, after the flood: a reuse, not a first use
        subprocess.run(["cat", pgpass], check=True, capture_output=True)
        wait_until(lambda: [e for e in tail.poll()[seen:] if e["kind"] == "credential_reuse" and
                            e["credential"] == pgpass and victim.key in e["identities"]],
                   timeout=60, what="the reuse after the flood")
        st = agent.status()["credentials"]
        assert st["evicted"] >= 5000 - 1024 // 8, st  # the flooder's own, past its quota
        assert secret not in agent.read_log()
    finally:
        if tail:
            tail.close()
        if agent:
            agent.stop()
        victim.remove()
        flood.remove()


def agent_map_ids(pid, name):
    """Ids of the BPF maps called name held by process pid (other agents
    may run beside this one)."""
    ids = []
    fddir = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(fddir):
        try:
            with open(os.path.join(fddir, fd)) as f:
                info = f.read()
        except OSError:
            continue
        for line in info.splitlines():
            if line.startswith("map_id:"):
                ids.append(int(line.split()[1]))
    out = []
    for i in set(ids):
        r = subprocess.run(["bpftool", "-j", "map", "show", "id", str(i)],
                           capture_output=True, text=True)
        if r.returncode == 0 and json.loads(r.stdout).get("name") == name:
            out.append(i)
    return out


def dedup_cgroups(agent):
    """cgroup ids of every entry in the agent's kernel dedup map."""
    (mid,) = agent_map_ids(agent.proc.pid, "dedup")
    r = subprocess.run(["bpftool", "-j", "map", "dump", "id", str(mid)],
                       capture_output=True, text=True, check=True)
    ids = []
    for ent in json.loads(r.stdout):
        key = bytes(int(b, 16) for b in ent["key"])
        ids.append(int.from_bytes(key[:8], "little"))
    return ids


LEARN = ("--learn-window", "2000", "--quiet-period", "1500", "--dedup-window", "500")


@suite.test
def pinned_entries_of_a_removed_pod_are_purged(s):
    """Known behaviour of a stable identity is pinned in the kernel and
    never idles out; on main it outlived its pod forever. Once the pod's
    cgroup is removed, its pinned entries go too."""
    pod = SaPod("batch", "report", "report-0")
    agent = tail = None
    ids = {os.stat(pod.dir).st_ino, os.stat(pod.pod_dir).st_ino}
    work = ["sh", "-c", "cat /etc/hostname > /dev/null"]
    try:
        agent = Agent(s.tmp, "--scope-cgroup", pod.cgroup_path, *LEARN)
        tail = Tail(agent, "--identity", pod.key)
        run_alive(pod, work)
        run_alive(pod, work)
        wait_until(lambda: agent.status()["baselines"]["stable"] >= 1, timeout=30,
                   interval=0.2, what="the profile to turn stable")

        def pinned():
            run_alive(pod, work)  # learning's entries idle out, come up, get pinned
            return agent.status()["baselines"]["pinned_in_kernel"] >= 1
        wait_until(pinned, timeout=30, interval=1.0, what="a pin in the kernel")
        tail.sync(pod, "/bin/true")
        # pinned entries outlive idle windows: the pod's cgroup is in the map
        wait_until(lambda: set(dedup_cgroups(agent)) & ids, what="the pod's pinned entries")
        tail.close()
        tail = None
        pod.remove()
        assert not os.path.exists(pod.dir)
        wait_until(lambda: not set(dedup_cgroups(agent)) & ids, timeout=30, interval=0.5,
                   what="the removed pod's pinned entries to go")
        assert agent.status()["dedup"]["purged"] >= 1
    finally:
        if tail:
            tail.close()
        if agent:
            agent.stop()
        pod.remove()


CRON = r'''
set -e
base=$1; ids=$2; shift 2
for uid in "$@"; do
  pod="$base/kubepods-burstable-pod$(echo "$uid" | tr - _).slice"
  ctr="$pod/cri-containerd-$(echo "$uid" | tr -d -)$(echo "$uid" | tr -d -).scope"
  mkdir "$pod" "$ctr"
  stat -c %i "$pod" "$ctr" >> "$ids"
  sh -c 'echo $$ > "$1/cgroup.procs"; exec cat /etc/hostname' sh "$ctr" > /dev/null
  rmdir "$ctr" "$pod"
done
'''


@suite.test
def two_thousand_short_pods_leave_no_dead_entries(s):
    """A CronJob-like loop of 2,000 short pods of one service account: with
    a dedup window far longer than the test, entries can only leave the map
    by the purge of their removed cgroup, pinned or not."""
    kubelet = KubeletRoot(s.tmp)
    survivor = Pod()  # a pod outside the loop, for the tail's marker
    agent = tail = None
    base = os.path.dirname(survivor.pod_dir)
    ids_file = os.path.join(s.tmp, "cron-ids")
    uids = [str(uuid.uuid4()) for _ in range(2000)]
    try:
        for i, uid in enumerate(uids):
            kubelet.put_token(uid, sa_token("batch", "cron", "cron-%d" % i, uid))
        agent = Agent(s.tmp, "--kubelet-root", kubelet.path, "--dedup-window", "600000")
        # only the survivor: a tail of 2,000 pods' events would overflow
        tail = Tail(agent, "--identity", "k8s:pod/" + survivor.uid)
        r = subprocess.run(["bash", "-c", CRON, "cron", base, ids_file, *uids],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        with open(ids_file) as f:
            dead = {int(x) for x in f.read().split()}
        assert len(dead) == 4000, len(dead)
        tail.sync(survivor)  # the agent has handled every removal

        def clean():
            left = set(dedup_cgroups(agent)) & dead
            return not left
        wait_until(clean, timeout=60, interval=0.5, what="no dedup entry of a removed cgroup")
        st = agent.status()
        # they were there: each pod's opens (loader, libc, /etc/hostname)
        assert st["dedup"]["purged"] >= 3 * 2000, st["dedup"]
        st = st["dedup"]
        assert st["evicted"] == 0, st
    finally:
        if tail:
            tail.close()
        if agent:
            agent.stop()
        survivor.remove()
        kubelet.remove()


def old_unmix(h, w):
    """The w that old_mix(x, w) == h needs, given x: see ipv6_colliding_iid."""
    x = h ^ (h >> 29) ^ (h >> 58)        # undo h ^= h >> 29
    return (x * pow(K, -1, 1 << 64)) & M64  # undo h *= K; this is x ^ w


def ipv6_colliding_iid(target, prefix, port, extra):
    """An interface identifier (the low 64 bits, which whoever holds a /64
    chooses freely) that puts prefix::iid on target's old connect object
    (sockaddr_hash of 0b41cac: the first then the last eight address bytes,
    little-endian, after family | port << 16; then the errno)."""
    a = 10 | port << 16
    t_first = int.from_bytes(target[:8], "little")
    t_last = int.from_bytes(target[8:], "little")
    m = old_mix(old_mix(a, t_first), t_last)  # same extra and binary after it
    y = old_mix(a, int.from_bytes(prefix[:8], "little"))
    iid = (old_unmix(m, 0) ^ y).to_bytes(8, "little")
    addr = prefix[:8] + iid
    first, last = (int.from_bytes(addr[:8], "little"), int.from_bytes(addr[8:], "little"))
    assert old_mix(old_mix(old_mix(a, first), last), extra) == \
        old_mix(old_mix(old_mix(a, t_first), t_last), extra)  # a real collision on main
    return addr


@suite.test
def ipv6_peers_sharing_or_crafting_low_bits_are_distinct_objects(s):
    """::1, fd00::1 (the same low 64 bits) and fd00::<iid> whose interface
    id was computed so that main's unkeyed hash folded it into ::1's
    count: three peers, three connect events. Run in a network namespace
    the pod makes, where those addresses are its own loopback's."""
    import ipaddress
    port = 9
    loop = ipaddress.IPv6Address("::1")
    same_low = ipaddress.IPv6Address("fd00::1")
    crafted = ipaddress.IPv6Address(ipv6_colliding_iid(loop.packed,
                                                       ipaddress.IPv6Address("fd00::").packed,
                                                       port, 111))  # ECONNREFUSED
    peers = [loop, same_low, crafted]
    # Scoped to the pod: the node is shared
    under = "nh-objects-%d-%s" % (os.getpid(), uuid.uuid4().hex[:6])
    pod = Pod(under=under)
    agent = tail = None
    script = ("import socket\n"
              "for a in %r:\n"
              "    s = socket.socket(socket.AF_INET6)\n"
              "    try:\n"
              "        s.connect((a, %d))\n"
              "    except ConnectionRefusedError:\n"
              "        pass\n"
              "    s.close()\n" % ([str(p) for p in peers], port))
    try:
        agent = Agent(s.tmp, "--dedup-window", "60000", "--scope-cgroup", "/" + under)
        tail = Tail(agent, "--identity", "k8s:pod/" + pod.uid, "--kind", "connect,summary")
        pod.run(["unshare", "--net", "sh", "-c",
                 "ip link set lo up && ip -6 addr add %s/128 dev lo nodad && "
                 "ip -6 addr add %s/128 dev lo nodad && exec /usr/bin/python3 -c \"$0\""
                 % (same_low, crafted), script])
        for peer in peers:
            tail.wait_for(lambda e: e["kind"] == "connect" and e.get("family") == "ipv6" and
                          ipaddress.IPv6Address(e["address"]) == peer and e["port"] == port,
                          what="the connect to [%s]:%d" % (peer, port))
    finally:
        if tail:
            tail.close()
        if agent:
            agent.stop()
        pod.remove()


if __name__ == "__main__":
    sys.exit(suite.run(sys.argv))
