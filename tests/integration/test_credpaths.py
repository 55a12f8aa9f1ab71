# SPDX-License-Identifier: Apache-2.0
"""Credentials are what the kernel says they are (issue 16, part 2): every
way of naming a credential file that is not its catalogued path — '..',
/proc/self/root, a relative path after cd, openat(dirfd), a symlink, a hard
link, a path longer than the BPF buffer, a rotated token's new inode — run
by a workload in a fabricated pod whose token is the kubelet's projected
volume (bind-mounted as the runtime does), must still be a credential_use
naming the credential canonically, with the path as the process wrote it."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nhtest import (WORKLOAD, Agent, KubeletRoot, Pod, SaPod, Suite, Tail,  # noqa: E402
                    running, sa_token, wait_until)

suite = Suite("credpaths")
PY = "/usr/bin/python3"  # not a pyenv shim: one exec, the pod's own
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN = SA_DIR + "/token"
# The agents trace only this suite's pods (--scope-cgroup): the machine is
# shared, and another suite's pod may hold files the agent cannot read.
UNDER = "nh-credpaths-%d" % os.getpid()


class VolumePod(SaPod):
    """A pod whose token directory is the kubelet's projected volume,
    bind-mounted at /run/secrets/kubernetes.io/serviceaccount as the
    container runtime does (so the pod and the kubelet see one inode)."""

    def __init__(self, kubelet, namespace="shop", name="cart", pod_name="cart-0"):
        Pod.__init__(self, under=UNDER)
        self.namespace, self.sa, self.pod_name = namespace, name, pod_name
        self.token = sa_token(namespace, name, pod_name, self.uid)
        self.key = "k8s:sa/%s/%s" % (namespace, name)
        self.kubelet = kubelet
        kubelet.put_token(self.uid, self.token)
        self.vol = kubelet.volume(self.uid)

    def popen(self, argv, **kw):
        script = ('mount -t tmpfs -o mode=0755 tmpfs /run && '
                  'mkdir -p /run/secrets/kubernetes.io/serviceaccount && '
                  'mount --bind "$NH_VOL" /run/secrets/kubernetes.io/serviceaccount && '
                  'echo $$ > "$NH_PROCS" && exec "$@"')
        env = dict(os.environ, NH_VOL=self.vol, NH_PROCS=os.path.join(self.dir, "cgroup.procs"))
        kw.setdefault("start_new_session", True)
        return subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                 script, "sh", *argv], env=env, **kw)

    def py(self, code):
        """Run python code in the pod; returns its pid."""
        pid, _ = self.run([PY, "-c", code])
        return pid


def uses(tail, pod, pred=lambda e: True):
    return tail.matching(lambda e: e["kind"] == "credential_use" and
                         e.get("context", {}).get("pod_uid") == pod.uid and pred(e))


def expect_use(tail, pod, written, credential=TOKEN, kind="sa_token",
               matched=("inode", "volume"), truncated=False, pid=None):
    """The credential_use of the open that wrote `written` (a prefix when
    truncated): canonical name, kind, success, how it was recognised."""
    if truncated:
        def same(e):
            return e.get("path_truncated") and written.startswith(e.get("path", "\0"))
    else:
        def same(e):
            return e.get("path") == written
    ev = wait_until(lambda: uses(tail, pod, lambda e: same(e) and pid in (None, e["pid"])),
                    timeout=15,
                    what="credential_use of %r" % written[:80])[0]
    assert ev["credential"] == credential, ev
    assert ev["credential_kind"] == kind, ev
    assert ev["result"] >= 0, ev
    assert ev["matched_by"] in matched, ev
    return ev


def agent_for(s, kubelet, *extra):
    return Agent(s.tmp, "--kubelet-root", kubelet.path, "--token-recheck", "0",
                 "--scope-cgroup", "/" + UNDER, *extra)


@suite.test
def token_path_tricks_are_credential_uses(s):
    """'..', /proc/self/root, a relative path after cd, openat(dirfd), a
    symlink and a hard link to the pod's own token: on main none of them was
    a credential_use (the path string did not match the catalogue)."""
    kubelet = KubeletRoot(s.tmp)
    pod = VolumePod(kubelet)
    agent = agent_for(s, kubelet)
    with running(pod, agent, kubelet):
        tail = Tail(agent, "--kind", "credential_use,open")
        with running(tail):
            tricks = {
                "dotdot": SA_DIR + "/../serviceaccount/token",
                "procroot": "/proc/self/root" + TOKEN,
                "relative": "token",
                "dirfd": "./token",  # another object than "relative": no dedup repeat
                "symlink": "/run/nh-link",
                "hardlink": "/run/secrets/kubernetes.io/serviceaccount/nh-hardlink",
            }
            code = {
                "dotdot": "open(%r).read()" % tricks["dotdot"],
                "procroot": "open(%r).read()" % tricks["procroot"],
                "relative": "import os; os.chdir(%r); open('token').read()" % SA_DIR,
                "dirfd": ("import os; d = os.open(%r, os.O_RDONLY | os.O_DIRECTORY); "
                          "os.close(os.open('./token', os.O_RDONLY, dir_fd=d))" % SA_DIR),
                "symlink": "import os; os.symlink(%r, '/run/nh-link'); open('/run/nh-link').read()"
                           % TOKEN,
                # the token file itself, wherever ..data points
                "hardlink": ("import os; os.link(os.path.realpath(%r), %r); open(%r).read()"
                             % (TOKEN, tricks["hardlink"], tricks["hardlink"])),
            }
            pids = {}
            for name in tricks:
                pids[name] = pod.py(code[name])
            for name, written in tricks.items():
                expect_use(tail, pod, written, pid=pids[name])
            # The open itself carries the credential it is, for the SIEM.
            op = tail.wait_for(lambda e: e["kind"] == "open" and e["pid"] == pids["procroot"]
                               and e.get("path") == tricks["procroot"], what="the open")[0]
            assert op.get("credential") == TOKEN and op.get("credential_kind") == "sa_token", op
            # Neither the token nor its signature leaves the agent.
            out = str(tail.poll()) + str(agent.status()) + agent.read_log()
            assert pod.token not in out and pod.token.split(".")[2] not in out


@suite.test
def other_files_of_the_volume_are_not_the_token(s):
    """The volume matches its token by name: the pod reading its ca.crt
    (client libraries do, all the time) is no credential_use."""
    kubelet = KubeletRoot(s.tmp)
    pod = VolumePod(kubelet)
    data = os.path.realpath(os.path.join(pod.vol, "..data"))
    with open(os.path.join(data, "ca.crt"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\n")
    os.symlink("..data/ca.crt", os.path.join(pod.vol, "ca.crt"))
    agent = agent_for(s, kubelet)
    with running(pod, agent, kubelet):
        tail = Tail(agent, "--kind", "credential_use")
        with running(tail):
            pod.py("open('/proc/self/root%s/ca.crt').read(); open('/proc/self/root%s').read()"
                   % (SA_DIR, TOKEN))
            expect_use(tail, pod, "/proc/self/root" + TOKEN)
            tail.sync(pod)
            bad = uses(tail, pod, lambda e: "ca.crt" in e.get("path", ""))
            assert not bad, bad


@suite.test
def path_longer_than_the_bpf_buffer_is_flagged_and_matched(s):
    """A path of more than NH_PATH_MAX (256) bytes that opens the token:
    the kernel's copy is cut, the event says so, and the inode still names
    the credential."""
    kubelet = KubeletRoot(s.tmp)
    pod = VolumePod(kubelet)
    agent = agent_for(s, kubelet)
    long_path = SA_DIR + "/" + "./" * 150 + "token"
    assert len(long_path) > 256
    with running(pod, agent, kubelet):
        tail = Tail(agent, "--kind", "credential_use")
        with running(tail):
            pod.py("open(%r).read()" % long_path)
            ev = expect_use(tail, pod, long_path, truncated=True, matched=("inode", "volume"))
            assert len(ev["path"]) == 255, ev


@suite.test
def rotated_token_is_matched_through_its_volume(s):
    """The kubelet's atomic writer puts the next token in a new timestamped
    directory (a new inode) before it swaps ..data: opened there, or through
    ..data right after the swap, the new token is a credential_use at once,
    before any rescan could have learned its inode. The token rotated out,
    still valid until it expires, stays a credential through a hard link
    after the kubelet removed its directory."""
    kubelet = KubeletRoot(s.tmp)
    pod = VolumePod(kubelet)
    agent = agent_for(s, kubelet)
    with running(pod, agent, kubelet):
        tail = Tail(agent, "--kind", "credential_use")
        with running(tail):
            pod.py("open('/proc/self/root%s').read()" % TOKEN)
            old = expect_use(tail, pod, "/proc/self/root" + TOKEN)
            # A hard link keeps the current token's inode past its rotation.
            old_file = os.path.realpath(os.path.join(pod.vol, "token"))
            stash = os.path.join(kubelet.path, "stash")
            os.link(old_file, stash)
            # The next token, written but not yet swapped in: only the
            # volume can say what it is (the agent's scan follows ..data).
            stamp = "..%d" % time.monotonic_ns()
            os.mkdir(os.path.join(pod.vol, stamp))
            new_token = sa_token("shop", "cart", "cart-0", pod.uid)
            with open(os.path.join(pod.vol, stamp, "token"), "w") as f:
                f.write(new_token)
            early = "/proc/self/root%s/%s/token" % (SA_DIR, stamp)
            pod.py("open(%r).read()" % early)
            expect_use(tail, pod, early, matched=("volume",))
            # The swap, then a read through '..' at once.
            tmp_link = os.path.join(pod.vol, "..data_tmp")
            os.symlink(stamp, tmp_link)
            os.rename(tmp_link, os.path.join(pod.vol, "..data"))
            after = SA_DIR + "/../serviceaccount/token"
            pod.py("open(%r).read()" % after)
            expect_use(tail, pod, after)
            assert old["matched_by"] in ("inode", "volume"), old
            # The kubelet removes the old directory; the rotated-out token
            # is still valid until its exp, so its inode still matches
            # after the scans that no longer find it in the volume.
            shutil.rmtree(os.path.dirname(old_file))
            # Scans run on the loop that answers status: the next one
            # starts after this answer, hence after the removal.
            scans = agent.status()["credentials"]["by_inode"]["scans"]
            wait_until(lambda: agent.status()["credentials"]["by_inode"]["scans"] >= scans + 1,
                       timeout=15, what="a credential scan after the removal")
            pod.py("open(%r).read()" % stash)
            expect_use(tail, pod, stash, matched=("inode",))
            assert agent.status()["credentials"]["by_inode"]["rotated_kept"] == 1


@suite.test
def host_key_through_a_hard_link_and_a_key_added_later(s):
    """A catalogued host key (an ssh key rule) opened by a pod through a
    hard link elsewhere on the file system; then a key created after the
    agent started, once a scan has found it, the same way."""
    keys = tempfile.mkdtemp(dir=s.tmp, prefix="keys-")
    other = tempfile.mkdtemp(dir=s.tmp, prefix="elsewhere-")
    key = os.path.join(keys, "id_nhtest")
    with open(key, "w") as f:
        f.write("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    link = os.path.join(other, "innocent.txt")
    os.link(key, link)
    kubelet = KubeletRoot(s.tmp)
    pod = VolumePod(kubelet)
    agent = agent_for(s, kubelet, "--credential", "ssh_private_key=%s/id_*" % keys)
    with running(pod, agent, kubelet):
        tail = Tail(agent, "--kind", "credential_use")
        with running(tail):
            pod.run([WORKLOAD, "open", link])
            expect_use(tail, pod, link, credential=key, kind="ssh_private_key",
                       matched=("inode",))
            # Refreshed on change: a key made now is matched by inode once
            # a scan that started after it has run.
            late = os.path.join(keys, "id_late")
            with open(late, "w") as f:
                f.write("-----BEGIN OPENSSH PRIVATE KEY-----\n")
            late_link = os.path.join(other, "also-innocent.txt")
            os.link(late, late_link)
            scans = agent.status()["credentials"]["by_inode"]["scans"]
            wait_until(lambda: agent.status()["credentials"]["by_inode"]["scans"] >= scans + 2,
                       timeout=15, what="two more credential scans")
            pod.run([WORKLOAD, "open", late_link])
            expect_use(tail, pod, late_link, credential=late, kind="ssh_private_key",
                       matched=("inode",))
    shutil.rmtree(keys, ignore_errors=True)
    shutil.rmtree(other, ignore_errors=True)


@suite.test
def another_pods_token_through_proc_root_is_that_token(s):
    """A pod reading a second pod's token through /proc/<pid>/root (what a
    node-level attacker does) is a credential_use of the token it read."""
    kubelet = KubeletRoot(s.tmp)
    victim = VolumePod(kubelet, "bank", "vault", "vault-0")
    thief = VolumePod(kubelet, "shop", "cart", "cart-0")
    agent = agent_for(s, kubelet)
    holder = victim.popen(["sleep", "60"])
    # /run, not /var/run: an absolute symlink under /proc/<pid>/root
    # resolves in the reader's root
    victim_token = "/proc/%d/root/run/secrets/kubernetes.io/serviceaccount/token" % holder.pid
    with running(victim, thief, agent, kubelet):
        try:
            wait_until(lambda: os.path.exists(victim_token), what="the victim's token")
            tail = Tail(agent, "--kind", "credential_use")
            with running(tail):
                path = victim_token
                thief.run([WORKLOAD, "open", path])
                # named by the kubelet's path, which says whose token it is
                ev = expect_use(tail, thief, path, credential=os.path.join(victim.vol, "token"))
                assert ev["identity"] == thief.key, ev
        finally:
            holder.kill()
            holder.wait()


if __name__ == "__main__":
    sys.exit(suite.run(sys.argv))
