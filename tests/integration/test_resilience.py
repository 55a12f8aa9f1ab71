#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The agent against a workload that tries to stall, trick or blind it
(issue 15): token paths that block or are not files, peers on the
control socket that may not do what they ask, and tampering with the
agent's kernel side.

Hung files are real FUSE mounts whose server never answers: the test
opens /dev/fuse, mounts it (mount(2) through util-linux's `mount -i`, no
FUSE library needed) and never reads the device, so every request the
kernel sends (even INIT) waits forever, exactly as with a FUSE server
that hangs or a hard NFS mount that lost its server. The mount lives in
the pod's own mount namespace and goes with the pod's processes."""

import ctypes
import json
import os
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nhtest  # noqa: E402
from nhtest import CLI, Agent, SaPod, Pod, Tail, running, wait_until  # noqa: E402

suite = nhtest.Suite("resilience")

TOKEN_DIR = "/run/secrets/kubernetes.io/serviceaccount"

# How each hostile pod makes its token path (sh, inside the pod's mounts,
# with TOKEN_DIR created and empty). A FUSE server: fd 3 on /dev/fuse,
# held by the pod's processes and never read.
HOSTILE = {
    "fifo": 'mkfifo "$D/token"',
    "device": 'mknod "$D/token" c 1 3',
    # The token file itself is a FUSE mount: looking it up needs nothing
    # of the server, opening or statfs would wait forever.
    "fuse-file": 'exec 3<>/dev/fuse && : > "$D/token" && '
                 'mount -i -t fuse -o fd=3,rootmode=100644,user_id=0,group_id=0 nhhang "$D/token"',
    # The token's directory is a FUSE mount: even the lookup of "token" waits.
    "fuse-dir": 'exec 3<>/dev/fuse && '
                'mount -i -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 nhhang "$D"',
}

# A credential file whose parent directory becomes a hung FUSE mount
# after the pod's shell changed into it: the pod still opens the file
# (relative to its working directory, the directory under the mount), and
# the agent, looking the file up by its absolute path for its inode,
# walks into the mount. Set up before the pod joins its cgroup; the open
# (AFTER) after.
CRED_DIR = "/run/creds"
HOSTILE_CRED = ('mkdir -p %s && echo not-a-secret > %s/.pgpass && cd %s && exec 3<>/dev/fuse && '
                'mount -i -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 nhhang %s'
                % (CRED_DIR, CRED_DIR, CRED_DIR, CRED_DIR))
AFTER = {"fuse-cred": "cat .pgpass > /dev/null"}

# The reason the agent gives (its log) once it has looked at the pod.
REASON = {
    "fifo": "path is a FIFO, not a regular file",
    "device": "path is a device, not a regular file",
    "fuse-file": "not on a memory-backed volume",
    "fuse-dir": "did not finish in time",
}


class HostilePod(Pod):
    """A pod whose token path is a FIFO, a device node or a hung FUSE
    mount; one long-lived shell keeps its mounts (and the FUSE fd)."""

    def __init__(self, how):
        super().__init__()
        self.how = how
        self.stop_file = os.path.join(nhtest.tempfile.gettempdir(), "nh-hostile-" + self.uid)
        script = ('mount -t tmpfs -o mode=0755 tmpfs /run && D=%s && mkdir -p "$D" && %s && '
                  'echo $$ > "$NH_PROCS" && %s && echo ready && '
                  'while [ ! -e "$NH_STOP" ]; do /bin/true nh-hostile; sleep 0.05; done'
                  % (TOKEN_DIR, HOSTILE_CRED if how == "fuse-cred" else HOSTILE[how],
                     AFTER.get(how, ":")))
        env = dict(os.environ, NH_PROCS=os.path.join(self.dir, "cgroup.procs"),
                   NH_STOP=self.stop_file)
        self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private",
                                      "sh", "-c", script], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        line = self.proc.stdout.readline()
        assert line == "ready\n", "hostile pod %s did not start: %s" % (
            how, self.proc.stderr.read() if self.proc.poll() is not None else line)

    def token_path(self):
        return "/proc/%d/root%s/token" % (self.proc.pid, TOKEN_DIR)

    def remove(self):
        open(self.stop_file, "w").close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.unlink(self.stop_file)
        super().remove()


def kill_pidfile(path):
    try:
        with open(path) as f:
            os.kill(int(f.read().strip()), 9)
    except (OSError, ValueError):
        pass


class OpenWatch:
    """inotify on a file: did anyone open it? (An O_PATH handle is not an
    open: the kernel reports only real opens, FIFOs and devices too.)"""

    IN_OPEN = 0x20

    def __init__(self, path):
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0, "inotify_init1: %s" % os.strerror(ctypes.get_errno())
        wd = libc.inotify_add_watch(self.fd, path.encode(), self.IN_OPEN)
        assert wd >= 0, "inotify_add_watch %s: %s" % (path, os.strerror(ctypes.get_errno()))

    def opened(self):
        n = 0
        while True:
            try:
                buf = os.read(self.fd, 4096)
            except BlockingIOError:
                return n
            off = 0
            while off < len(buf):
                _wd, mask, _cookie, ln = struct.unpack_from("iIII", buf, off)
                n += bool(mask & self.IN_OPEN)
                off += 16 + ln

    def close(self):
        os.close(self.fd)


class StatusProbe:
    """Asks `nhiscope status` again and again, each with a one-second
    deadline, until stopped; counts answers and misses."""

    def __init__(self, agent):
        self.agent = agent
        self.answers = 0
        self.misses = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.done.is_set():
            t0 = time.monotonic()
            try:
                r = subprocess.run([CLI, "-s", self.agent.sock, "status", "-o", "json"],
                                   capture_output=True, text=True, timeout=1.0)
                if r.returncode == 0 and json.loads(r.stdout).get("pid"):
                    self.answers += 1
                else:
                    self.misses.append("exit %d: %s" % (r.returncode, r.stderr.strip()))
            except subprocess.TimeoutExpired:
                self.misses.append("no answer within 1s (after %.1fs of the test)" % t0)
            time.sleep(0.05)

    def close(self):
        self.done.set()
        self.thread.join(timeout=5)


@suite.test
def test_hostile_token_paths_never_stall_the_agent(s):
    """FIFO, device and hung-FUSE token paths: the agent says why it did
    not read each, never opens the FIFO or the device, and keeps
    answering status and delivering another pod's events meanwhile. The
    same for a credential file under a hung FUSE mount: its inode lookup
    hangs on a worker, the loop goes on. And for the agent's own scan of
    credential files: it runs in a mount namespace of its own where
    /root/.aws (a catalogue rule's directory) is a hung FUSE mount, so
    its first walk of the host's files hangs; the agent starts all the
    same and says so."""
    sleeper = os.path.join(s.tmp, "fuse-holder.pid")
    # A private /root (tmpfs) with a hung FUSE mount on .aws; a sleeper
    # keeps the FUSE fd (and the namespace) whatever the agent does with
    # the fds it inherits; the test kills it.
    wrap = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount -t tmpfs -o mode=0700 tmpfs /root && mkdir /root/.aws && '
            'exec 3<>/dev/fuse && '
            'mount -i -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 nhhang /root/.aws && '
            '{ sleep 3600 & echo $! > "$0"; } && exec 3>&- && exec "$@"', sleeper]
    try:
        agent = Agent(s.tmp, wrap=wrap)
        assert "the first scan is not back" in agent.read_log(), agent.read_log()
        good = SaPod("prod", "good-sa", "good-pod-1")
        # The good pod's container keeps a live shell: the agent reads a pod's
        # token through a live process of it.
        with running(agent, good), nhtest.Alive(good, ["/bin/true"]):
            # the walk of /root/.aws is stuck on a worker
            wait_until(lambda: agent.status()["io"]["stuck_total"] >= 1,
                       what="the credential scan to be stuck on a worker")
            probe = StatusProbe(agent)
            tail = Tail(agent, "--identity", good.key)
            creds = Tail(agent, "--kind", "credential_use")
            hostile, watches = [], {}
            try:
                tail.sync(good)
                for how in HOSTILE:
                    pod = HostilePod(how)
                    hostile.append(pod)
                    if how in ("fifo", "device"):
                        watches[how] = OpenWatch(pod.token_path())
                for pod in hostile:
                    wait_until(lambda: ("pod %s" % pod.uid) in agent.read_log() and
                               REASON[pod.how] in [ln for ln in agent.read_log().splitlines()
                                                   if pod.uid in ln][-1],
                               timeout=20, what="the agent's reason for the %s pod" % pod.how)
                # Events of the good pod still arrive after all of it.
                tail.sync(good)
                # The credential under a hung mount: its use is reported (the
                # lookup comes right after, on the same turn of the loop), a
                # later event of the good pod still arrives, and the lookup
                # is what got stuck (on a worker).
                stuck = agent.status()["io"]["stuck_total"]
                pod = HostilePod("fuse-cred")
                hostile.append(pod)
                creds.wait_for(lambda e: pod.uid in json.dumps(e) and ".pgpass" in json.dumps(e),
                               what="the credential_use of the file under the hung mount")
                tail.sync(good)
                wait_until(lambda: agent.status()["io"]["stuck_total"] > stuck,
                           what="the inode lookup under the hung mount to be stuck on a worker")
                # The FIFO and the device were judged by their O_PATH handle:
                # the refusal is logged after the look, so an open would show.
                for how, w in watches.items():
                    assert w.opened() == 0, "the agent opened the %s token path" % how
                st = agent.status()
                assert st["pid"] == agent.proc.pid
            finally:
                probe.close()
                for w in watches.values():
                    w.close()
                tail.close()
                creds.close()
                for pod in hostile:
                    pod.remove()
            assert probe.answers >= 5, "too few status answers to tell (%d)" % probe.answers
            assert not probe.misses, "status did not answer within 1s: %s" % probe.misses[:3]
            assert agent.status()["io"]["stuck_total"] >= 1, "the hung FUSE read was not noticed"
    finally:
        kill_pidfile(sleeper)


def peer(uid, gid, groups=None):
    """setpriv argv prefix: run as uid/gid with exactly these groups."""
    g = ["--groups=" + ",".join(str(x) for x in groups)] if groups else ["--clear-groups"]
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, *g, "--"]


def cli_as(prefix, agent, *args, timeout=10):
    return subprocess.run([*prefix, CLI, "-s", agent.sock, *args], capture_output=True,
                          text=True, timeout=timeout)


def tail_as(prefix, agent):
    """A tail started as another user: its first answer decides."""
    return subprocess.Popen([*prefix, CLI, "-s", agent.sock, "tail", "-o", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


NOBODY = 65534
WATCH_GID = 4242  # a group only this test uses, by number: nothing to create


def open_dir(s):
    """A socket directory another user can reach (the suite's is 0700)."""
    os.chmod(s.tmp, 0o711)
    d = os.path.join(s.tmp, "pub")
    os.makedirs(d, mode=0o755, exist_ok=True)
    return d


@suite.test
def test_socket_refuses_peers_by_credentials(s):
    """With the socket open to everyone at the file level, the agent
    itself checks the peer: nobody may not tail nor reset; root may."""
    agent = Agent(open_dir(s), "--socket-mode", "0666")
    with running(agent):
        nobody = peer(NOBODY, NOBODY)
        r = cli_as(nobody, agent, "status")
        assert r.returncode != 0 and "permission denied" in r.stderr, r
        r = cli_as(nobody, agent, "profiles", "reset", "k8s:sa/x/y")
        assert r.returncode != 0 and "needs root" in r.stderr, r
        t = tail_as(nobody, agent)
        out, err = t.communicate(timeout=10)
        assert t.returncode != 0 and "permission denied" in err, (t.returncode, err)
        # Root is served: the same requests work.
        assert cli_as([], agent, "status").returncode == 0
        r = cli_as([], agent, "profiles", "reset", "k8s:sa/x/y")
        assert "permission denied" not in r.stderr and "no profile" in r.stderr, r
        log = agent.read_log()
        assert 'refused "tail" from uid %d' % NOBODY in log, log
        assert 'refused "profile_reset" from uid %d' % NOBODY in log, log
        assert agent.status()["socket"]["refused"] >= 3


@suite.test
def test_socket_group_may_watch_not_change(s):
    """socket.group: its members (primary or supplementary group) may
    tail and ask for status; a reset is still root's."""
    agent = Agent(open_dir(s), "--socket-group", str(WATCH_GID))
    with running(agent):
        mode = os.stat(agent.sock)
        assert mode.st_gid == WATCH_GID and mode.st_mode & 0o060 == 0o060, oct(mode.st_mode)
        for prefix in (peer(NOBODY, WATCH_GID), peer(NOBODY, NOBODY, [WATCH_GID])):
            r = cli_as(prefix, agent, "status", "-o", "json")
            assert r.returncode == 0 and json.loads(r.stdout)["pid"] == agent.proc.pid, r
            before = agent.status()["subscribers"]
            t = tail_as(prefix, agent)
            try:
                wait_until(lambda: agent.status()["subscribers"] > before or t.poll() is not None,
                           what="the group's tail to subscribe")
                assert t.poll() is None, t.communicate()
            finally:
                t.terminate()
                t.wait()
            r = cli_as(prefix, agent, "profiles", "reset", "k8s:sa/x/y")
            assert r.returncode != 0 and "needs root" in r.stderr, r
        # Outside the group: nothing, even with the file mode letting it in.
        r = cli_as(peer(NOBODY, NOBODY), agent, "status")
        assert r.returncode != 0, r


def agent_bpf_objects(agent):
    """The agent's BPF links and maps, from its own file descriptors
    (fdinfo names the kernel object each fd holds)."""
    links, maps = set(), set()
    fddir = "/proc/%d/fdinfo" % agent.proc.pid
    for fd in os.listdir(fddir):
        try:
            with open(os.path.join(fddir, fd)) as f:
                info = f.read()
        except OSError:
            continue
        for line in info.splitlines():
            k, _, v = line.partition(":")
            if k == "link_id":
                links.add(int(v))
            elif k == "map_id":
                maps.add(int(v))
    return links, maps


def bpftool(*args):
    return subprocess.run(["bpftool", *args], capture_output=True, text=True, timeout=30)


def scrape(port):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    body = c.getresponse().read().decode()
    c.close()
    return body


def metric(body, name):
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def disable_perf_events(pid):
    """PERF_EVENT_IOC_DISABLE on every perf event the process holds,
    through copies of its fds (pidfd_getfd, as root may). Returns how many."""
    libc = ctypes.CDLL(None, use_errno=True)
    SYS_pidfd_getfd, PERF_EVENT_IOC_DISABLE = 438, 0x2401
    pidfd = os.pidfd_open(pid)
    n = 0
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != "anon_inode:[perf_event]":
                    continue
            except OSError:
                continue
            mine = libc.syscall(SYS_pidfd_getfd, pidfd, int(fd), 0)
            assert mine >= 0, "pidfd_getfd: %s" % os.strerror(ctypes.get_errno())
            try:
                assert libc.ioctl(mine, PERF_EVENT_IOC_DISABLE, 0) == 0, os.strerror(
                    ctypes.get_errno())
                n += 1
            finally:
                os.close(mine)
    finally:
        os.close(pidfd)
    return n


def bpf_map_named(maps, name):
    """The map of the agent called name (the agent's own fds: a stale or
    another agent's map of the same name is never picked)."""
    found = [m for m in maps
             if json.loads(bpftool("-j", "map", "show", "id", str(m)).stdout or "{}").get("name")
             == name]
    assert len(found) == 1, "the agent holds %d maps named %s" % (len(found), name)
    return found[0]


def map_entries(map_id):
    """{key bytes: [value bytes per CPU]} of a map, as bpftool -j shows it."""
    def raw(v):  # bpftool -j: bytes as "0x.." strings
        return bytes(int(b, 16) for b in v)
    out = {}
    for e in json.loads(bpftool("-j", "map", "dump", "id", str(map_id)).stdout or "[]"):
        vals = [v["value"] for v in e["values"]] if "values" in e else [e["value"]]
        out[raw(e["key"])] = [raw(v) for v in vals]
    return out


def byte_args(b):
    return [str(x) for x in b]


@suite.test
def test_tampering_with_the_kernel_side_is_reported(s):
    """Another privileged process goes after the agent's BPF side with
    bpftool. Detaching its links: the kernel refuses for tracepoint and
    raw-tracepoint links (EOPNOTSUPP), and any it did not refuse must be
    reported and attached again. Rewriting the counters map to zero
    (hiding events and losses), adding and removing entries of the
    identities map (which cgroup's budget an event counts against): a
    monitoring_tampered finding on the tail, in status and in /metrics,
    and the identities the agent wrote are back in the map.

    The counters check must not depend on timing: a busy kind grows back
    past its old value within a second, so the agent compares the
    kernel's count with the records it received itself (a count can
    never be below that). The pod makes a dozen execs first; the agent
    traces only that pod (--scope-cgroup), so nothing else moves."""
    port = nhtest.free_port()
    pod = Pod()
    agent = Agent(s.tmp, "--metrics-listen", "127.0.0.1:%d" % port,
                  "--scope-cgroup", pod.cgroup_path)
    with running(agent, pod):
        tail = Tail(agent, "--kind", "monitoring_tampered,exec")
        try:
            pod.run(["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do /bin/true; done"])
            tail.sync(pod)  # every exec before this is received by the agent
            links, maps = agent_bpf_objects(agent)
            assert links and maps, "no BPF links or maps found in the agent's fds"
            detached = []
            for link in sorted(links):
                r = bpftool("link", "detach", "id", str(link))
                if r.returncode == 0:
                    detached.append(link)
                else:
                    assert "not supported" in r.stderr, r.stderr
            if detached:
                tail.wait_for(lambda e: e["kind"] == "monitoring_tampered" and
                              "detached" in e.get("reason", ""),
                              what="a finding for the detached links")
            # The other handle on a tracepoint link: its perf event. Root
            # can take the agent's perf fds (pidfd_getfd) and disable
            # them; the kernel still runs a tracepoint's BPF programs
            # (they hang off the tracepoint, not the event's enable
            # state), so the agent keeps seeing the pod.
            disabled = disable_perf_events(agent.proc.pid)
            assert disabled, "the agent holds no perf event fds"
            tail.sync(pod)
            # Zero the exec counters (key 1, enum nh_kind) while the pod
            # keeps exec'ing, as a busy node does: the count is back past
            # its old value well before the agent's next look, a second
            # later (the old "went backwards" check missed exactly this).
            busy = pod.popen(["sh", "-c", 'while [ ! -e "$0" ]; do /bin/true; sleep 0.005; done',
                              os.path.join(s.tmp, "busy-stop")])
            counters = bpf_map_named(maps, "counters")
            key = struct.pack("<I", 1)
            size = len(map_entries(counters)[key][0])
            r = bpftool("map", "update", "id", str(counters), "key", *byte_args(key),
                        "value", *(["0"] * size))
            assert r.returncode == 0, r.stderr
            ev = tail.wait_for(lambda e: e["kind"] == "monitoring_tampered" and
                               "counter" in e.get("reason", ""),
                               what="a monitoring_tampered finding for the counters")[0]
            assert "lowered by another process" in ev["reason"], ev
            open(os.path.join(s.tmp, "busy-stop"), "w").close()
            busy.wait(timeout=10)
            # The identities map: one entry the agent wrote removed, one
            # it never wrote added (a cgroup id no cgroup has).
            ids = bpf_map_named(maps, "identities")
            mine = map_entries(ids)
            assert mine, "the agent wrote no identity for the pod"
            victim = sorted(mine)[0]
            forged = struct.pack("<Q", 0x7ffffffffffff00d)
            r = bpftool("map", "delete", "id", str(ids), "key", *byte_args(victim))
            assert r.returncode == 0, r.stderr
            r = bpftool("map", "update", "id", str(ids), "key", *byte_args(forged),
                        "value", *byte_args(forged))
            assert r.returncode == 0, r.stderr
            ev = tail.wait_for(lambda e: e["kind"] == "monitoring_tampered" and
                               "identities" in e.get("reason", ""),
                               what="a monitoring_tampered finding for the identities")[0]
            assert "1 added" in ev["reason"] and "1 removed" in ev["reason"], ev
            # Written back: the agent's entry is there again, the forged one gone.
            wait_until(lambda: set(map_entries(ids)) == set(mine),
                       what="the identities map to hold the agent's entries again")
            st = agent.status()["selfwatch"]
            assert st["tampered"] >= 2 and "identities" in st["last_tamper"], st
            assert metric(scrape(port), "nhiscope_monitoring_tampered_total") >= 2
            # Still watching: events keep coming after the tampering.
            tail.sync(pod)
        except AssertionError:
            print("\n".join(ln for ln in agent.read_log().splitlines() if "debug" not in ln)[-2000:])
            print("status selfwatch:", agent.status().get("selfwatch"))
            raise
        finally:
            if "busy" in locals() and busy.poll() is None:
                busy.kill()
                busy.wait()
            tail.close()


if __name__ == "__main__":
    sys.exit(suite.run(sys.argv))
