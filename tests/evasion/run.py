# SPDX-License-Identifier: Apache-2.0
"""The evasion suite: every way around the obvious syscalls that issue 17
names, each done by a workload in a fabricated pod (act.py, and
uring_act for io_uring), each asserting the event that must appear, with
the real agent and real probes. A technique that is not seen fails its
test; docs/coverage.md says which hook sees it.

One agent serves the whole suite (an agent start costs seconds): it
traces only this suite's cgroup (--scope-cgroup), one tail takes every
event, and each technique runs in a pod of its own and looks only at that
pod's events (PodView), so each is still its own PASS or FAIL."""

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from nhtest import (BUILD, Agent, KubeletRoot, Pod, Suite, Tail, cgroup2_mount,  # noqa: E402
                    free_port, running, sa_token, wait_until)

ACT = os.path.join(HERE, "act.py")
URING = os.path.join(BUILD, "tests", "uring_act")
TRACEFS = "/sys/kernel/tracing"
suite = Suite("evasion")
# Every pod of the suite lives below this cgroup and the agent traces
# only it: the machine runs other agents' tests, whose workloads must
# neither show up here nor stall this agent.
UNDER = "nhiscope-evasion-%d" % os.getpid()
SHARED = {}


def shared(s):
    """The suite's agent, its tail and its kubelet root, started by the
    first technique that needs them and stopped when the suite ends."""
    if not SHARED:
        # A pod removes its parents when it is the last one in them: this
        # child keeps the scope cgroup (the agent's, by identity) alive.
        os.makedirs(os.path.join(cgroup2_mount(), UNDER, "keep"), exist_ok=True)
        # its own directory: the suite removes s.tmp before the agent stops
        tmp = tempfile.mkdtemp(prefix="nhiscope-evasion-")
        kubelet = KubeletRoot(tmp)
        os.makedirs(os.path.join(kubelet.path, "pod-resources"))
        SHARED["tmp"] = tmp
        # The kubelet's socket, bound under a name no rule knows, then
        # renamed into place: only the socket file's inode says which
        # socket it is. Made before the agent starts: it looks the host's
        # runtime and kubelet sockets up at most every 5 s.
        bound = os.path.join(kubelet.path, "api.sock")
        canonical = os.path.join(kubelet.path, "pod-resources", "kubelet.sock")
        SHARED["kubelet_server"] = unix_server(bound)
        os.rename(bound, canonical)
        SHARED["kubelet_sock"] = (bound, canonical)
        agent = Agent(tmp, "--scope-cgroup", "/" + UNDER, "--kubelet-root", kubelet.path)
        # the suite's, not one technique's: Suite.run stops what a test
        # left running, and this one must outlive each test
        Agent.started.remove(agent)
        SHARED.update(agent=agent, kubelet=kubelet, tail=Tail(agent))
    agent = SHARED["agent"]
    assert agent.proc.poll() is None, "the suite's agent died: " + agent.read_log()[-2000:]
    return SHARED


def stop_shared():
    if SHARED:
        SHARED["tail"].close()
        SHARED["agent"].stop()
        SHARED["kubelet_server"].close()
        SHARED["kubelet"].remove()
        shutil.rmtree(SHARED["tmp"], ignore_errors=True)
        SHARED.clear()
        os.rmdir(os.path.join(cgroup2_mount(), UNDER, "keep"))


class PodView:
    """The shared tail, seen through one pod: only events attributed to
    it, so a technique cannot pass on another technique's event."""

    def __init__(self, tail, pod):
        self.tail, self.pod = tail, pod

    def mine(self, e):
        return e.get("context", {}).get("pod_uid") == self.pod.uid

    def wait_for(self, pred, timeout=10.0, what="event"):
        try:
            return self.tail.wait_for(lambda e: self.mine(e) and pred(e), timeout=timeout,
                                      what="%s from pod %s" % (what, self.pod.uid))
        except AssertionError as e:
            # what the pod did show, to tell "not seen" from "not attributed"
            seen = [(x["kind"], x.get("syscall"), x.get("path")) for x in self.matching(
                lambda x: x["kind"] not in ("fork", "exit"))]
            raise AssertionError("%s; the pod's events: %s; events in all: %d" % (
                e, seen[-12:], len(self.tail.events))) from None

    def matching(self, pred):
        return self.tail.matching(lambda e: self.mine(e) and pred(e))


def new_pod():
    return Pod(under=UNDER)


def in_pod(s, argv, want, what, check=None, pod=None):
    """Run argv in a new pod (or pod) under the suite's agent; wait for
    the event want() accepts from that pod (and run check(view), if
    given); returns (events that matched want, the pod's view)."""
    sh = shared(s)
    pod = pod or new_pod()
    with running(pod):
        view = PodView(sh["tail"], pod)
        pod.run(argv)
        found = view.wait_for(want, what=what)
        if check:
            check(view)
        return found, view


def attack(s, argv, want, what, check=None):
    return in_pod(s, ["python3", ACT, *argv], want, what, check=check)


def udp_sink():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def tcp_listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s, s.getsockname()[1]


def is_send(e, syscall, port, user_address=None):
    return (e["kind"] == "send" and e.get("syscall") == syscall and e.get("port") == port and
            e.get("address") == "127.0.0.1" and
            (user_address is None or bool(e.get("user_address")) == user_address))


@suite.test
def udp_sendto(s):
    sink, port = udp_sink()
    with sink:
        attack(s, ["udp-sendto", "127.0.0.1", str(port)],
               lambda e: is_send(e, "sendto", port, user_address=False), "sendto event")


@suite.test
def udp_connected_socket_peer_and_a_named_address(s):
    peer_sink, peer = udp_sink()
    other_sink, other = udp_sink()
    with peer_sink, other_sink:
        def both(tail):
            # the peer is the connect's (from the socket: the kernel's);
            # its sends use the cached route and add nothing
            ev = tail.wait_for(lambda e: e["kind"] == "connect" and e.get("port") == peer,
                               what="connect to the peer")[0]
            assert ev["address"] == "127.0.0.1" and not ev.get("user_address"), ev
            assert peer_sink.recv(4) == b"x" and other_sink.recv(4) == b"y"
        # a sendto naming another address on the connected socket is a
        # send there, whatever the socket's peer is
        attack(s, ["udp-connected-send", "127.0.0.1", str(peer), str(other)],
               lambda e: is_send(e, "sendto", other, user_address=False),
               "sendto another address", check=both)


@suite.test
def raw_socket_sendto(s):
    # a raw socket's destination is its route lookup's too (before: read
    # from the caller's memory after the call)
    attack(s, ["raw-icmp-sendto", "127.0.0.9"],
           lambda e: (e["kind"] == "send" and e.get("syscall") == "sendto" and
                      e.get("address") == "127.0.0.9" and not e.get("user_address")),
           "raw sendto")


@suite.test
def udp_sendmsg(s):
    sink, port = udp_sink()
    with sink:
        attack(s, ["udp-sendmsg", "127.0.0.1", str(port)],
               lambda e: is_send(e, "sendmsg", port), "sendmsg event")


@suite.test
def sendmmsg_every_message_not_a_prefix(s):
    sinks = [udp_sink() for _ in range(6)]
    ports = [p for _, p in sinks]
    try:
        def every(tail):
            for i, p in enumerate(ports):
                ev = tail.wait_for(lambda e: is_send(e, "sendmmsg", p), what="message %d" % i)
                assert ev[0].get("msg_index", 0) == i, ev
        attack(s, ["udp-sendmmsg", "127.0.0.1", *map(str, ports)],
               lambda e: is_send(e, "sendmmsg", ports[-1]), "the last message", check=every)
    finally:
        for sk, _ in sinks:
            sk.close()


@suite.test
def tcp_fast_open_connect(s):
    srv, port = tcp_listener()
    with srv:
        # no connect(2): the SYN leaves with the data of a sendto
        attack(s, ["tcp-fastopen", "127.0.0.1", str(port)],
               lambda e: is_send(e, "sendto", port, user_address=False), "fast open")


def unix_server(path):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    return srv


@suite.test
def docker_sock_through_a_symlink(s):
    d = os.path.join(s.tmp, "runtime")
    os.makedirs(d, exist_ok=True)
    real = os.path.join(d, "docker.sock")
    link = os.path.join(s.tmp, "innocent")
    with unix_server(real):
        os.symlink(real, link)
        try:
            # the path the kernel keeps is the server's, not the one used
            found, tail = attack(s, ["unix-connect", link],
                                 lambda e: e["kind"] == "unix_connect" and e.get("path") == real,
                                 "unix_connect to the real socket")
            assert found[0]["result"] == 0 and found[0]["inode"] == os.stat(real).st_ino, found
            assert not found[0].get("user_address"), found
            use = tail.wait_for(lambda e: e["kind"] == "credential_use" and
                                e.get("credential_kind") == "container_runtime_socket",
                                what="credential_use")[0]
            assert use["credential"] == real, use
        finally:
            os.unlink(link)


@suite.test
def kubelet_socket_by_inode_under_another_name(s):
    sh = shared(s)
    bound, canonical = sh["kubelet_sock"]
    found, tail = attack(s, ["unix-connect", canonical],
                         lambda e: e["kind"] == "unix_connect" and e.get("path") == bound,
                         "unix_connect")
    assert found[0]["inode"] == os.stat(canonical).st_ino, found
    use = tail.wait_for(lambda e: e["kind"] == "credential_use" and
                        e.get("credential_kind") == "kubelet_socket",
                        what="credential_use by inode")[0]
    assert use["credential"] == canonical, use


@suite.test
def creat(s):
    path = os.path.join(s.tmp, "dropped")
    attack(s, ["creat", path], lambda e: e["kind"] == "open" and e.get("syscall") == "creat" and
           e.get("path") == path, "creat")


@suite.test
def open_by_handle_at_shocker(s):
    d = os.path.join(s.tmp, "handle")
    os.makedirs(d, exist_ok=True)
    target = os.path.join(d, ".pgpass")
    with open(target, "w") as f:
        f.write("db:5432:*:app:not-a-real-password\n")
    found, tail = attack(s, ["open-by-handle", target],
                         lambda e: e["kind"] == "open" and
                         e.get("syscall") == "open_by_handle_at", "open_by_handle_at")
    # no path was given: the name is the kernel's (the opened dentry)
    assert found[0]["path"] == ".pgpass" and found[0]["result"] >= 0, found
    tail.wait_for(lambda e: e["kind"] == "credential_use" and e.get("credential_kind") == "pgpass",
                  what="credential_use by handle")


@suite.test
def setfsuid(s):
    found, _ = attack(s, ["setfsuid", "65534"],
                      lambda e: e["kind"] == "setuid" and e.get("syscall") == "setfsuid",
                      "setfsuid")
    assert found[0]["old"]["fs"] == 0 and found[0]["new"]["fs"] == 65534, found


@suite.test
def setgroups(s):
    found, _ = attack(s, ["setgroups", "4242"],
                      lambda e: e["kind"] == "setgid" and e.get("syscall") == "setgroups",
                      "setgroups")
    assert found[0]["new"]["groups"] == 1 and found[0]["result"] == 0, found


def copy_binary(s, name):
    path = os.path.join(s.tmp, name)
    shutil.copy("/usr/bin/id", path)
    return path


@suite.test
def setuid_binary_exec(s):
    suid = copy_binary(s, "suid-id")
    plain = copy_binary(s, "plain-id")
    os.chmod(suid, 0o4755)
    os.chmod(s.tmp, 0o755)
    pod = new_pod()
    with running(pod):
        tail = PodView(shared(s)["tail"], pod)
        drop = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
        pod.run([*drop, plain])
        pod.run([*drop, suid])
        ev = tail.wait_for(lambda e: e["kind"] == "exec" and e.get("path") == suid,
                           what="exec of the setuid copy")[0]
        assert ev["uid"] == 65534 and ev.get("privileged_exec") and ev["euid"] == 0, ev
        ev = tail.wait_for(lambda e: e["kind"] == "exec" and e.get("path") == plain,
                           what="exec of the plain copy")[0]
        assert ev["uid"] == 65534 and not ev.get("privileged_exec"), ev


@suite.test
def file_capability_exec(s):
    capped = copy_binary(s, "cap-id")
    subprocess.run(["setcap", "cap_net_raw+ep", capped], check=True)
    os.chmod(s.tmp, 0o755)
    pod = new_pod()
    with running(pod):
        tail = PodView(shared(s)["tail"], pod)
        pod.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", capped])
        ev = tail.wait_for(lambda e: e["kind"] == "exec" and e.get("path") == capped,
                           what="exec of the capability binary")[0]
        assert ev.get("privileged_exec") and ev["euid"] == 65534, ev
        assert int(ev["cap_permitted"], 16) & (1 << 13), ev  # CAP_NET_RAW


def isolation(s, argv, kind, syscall, what, pred=lambda e: True):
    return attack(s, argv, lambda e: e["kind"] == kind and e.get("syscall") == syscall and
                  pred(e), what)[0][0]


@suite.test
def unshare(s):
    ev = isolation(s, ["unshare"], "namespace", "unshare", "unshare")
    assert ev["op"] == "newuts" and ev["result"] == 0, ev


@suite.test
def setns(s):
    ev = isolation(s, ["setns"], "namespace", "setns", "setns")
    assert ev["op"] == "newuts", ev


@suite.test
def mount(s):
    d = os.path.join(s.tmp, "mnt")
    os.makedirs(d, exist_ok=True)
    ev = isolation(s, ["mount", d], "namespace", "mount", "mount", lambda e: e.get("path") == d)
    assert ev["result"] == 0, ev


@suite.test
def pivot_root(s):
    d = os.path.join(s.tmp, "newroot")
    os.makedirs(d, exist_ok=True)
    # refused or not, the attempt is the event
    isolation(s, ["pivot-root", d], "namespace", "pivot_root", "pivot_root",
              lambda e: e.get("path") == d)


@suite.test
def ptrace_attach(s):
    ev = isolation(s, ["ptrace"], "ptrace", "ptrace", "ptrace")
    assert ev["op"] == "attach" and ev["target_pid"] > 0, ev


@suite.test
def process_vm_writev(s):
    ev = isolation(s, ["process-vm-writev"], "ptrace", "process_vm_writev", "process_vm_writev")
    assert ev["result"] == 3 and ev["target_pid"] == ev["pid"], ev


@suite.test
def bpf_syscall(s):
    ev = isolation(s, ["bpf"], "bpf", "bpf", "bpf()")
    assert ev["op"] == "map_create", ev


@suite.test
def module_loading(s):
    """A kernel built without modules has no such syscall tracepoints:
    then the agent must say the probe is not attached, not pretend."""
    if not os.path.exists(os.path.join(TRACEFS, "events/syscalls/sys_exit_finit_module")):
        st = shared(s)["agent"].status()
        probes = {p["program"]: p for p in st["probes"]}
        # listed as absent (no such syscall here), never as attached
        assert {"nh_exit_finit_module", "nh_exit_init_module"} <= set(st["probes_absent"]), st
        assert "nh_exit_finit_module" not in probes, probes
        assert probes["nh_exit_bpf"]["attached"], probes
        return
    mod = os.path.join(s.tmp, "fake.ko")
    with open(mod, "wb") as f:
        f.write(b"\x7fELF not a module")
    ev = isolation(s, ["finit-module", mod], "module", "finit_module", "finit_module")
    assert ev["path"] == "fake.ko" and ev["result"] < 0, ev


def tiny_i386_elf(path):
    """A 32-bit static binary that only exits (int $0x80): no 32-bit
    userland is needed to make one."""
    code = bytes([0xb8, 1, 0, 0, 0, 0x31, 0xdb, 0xcd, 0x80])  # exit(0)
    base, ehsize, phsize = 0x08048000, 52, 32
    total = ehsize + phsize + len(code)
    eh = b"\x7fELF" + bytes([1, 1, 1, 0]) + b"\0" * 8
    eh += struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, base + ehsize + phsize, ehsize, 0, 0, ehsize,
                      phsize, 1, 0, 0, 0)
    ph = struct.pack("<IIIIIIII", 1, 0, base, base, total, total, 5, 0x1000)
    with open(path, "wb") as f:
        f.write(eh + ph + code)
    os.chmod(path, 0o755)


@suite.test
def exec_32bit_binary(s):
    path = os.path.join(s.tmp, "tiny32")
    tiny_i386_elf(path)
    os.chmod(s.tmp, 0o755)
    pod = new_pod()
    sh = shared(s)
    with running(pod):
        if sh["agent"].status()["posture"]["ia32_emulation"] == "off":
            assert subprocess.run([path]).returncode != 0, "a 32-bit binary ran with ia32 off"
            return
        tail = PodView(sh["tail"], pod)
        pod.run([path])
        ev = tail.wait_for(lambda e: e["kind"] == "exec" and e.get("path") == path,
                           what="exec of the 32-bit binary")[0]
        assert ev.get("compat32"), ev
        # and a 64-bit one is not flagged
        pod.run(["/bin/true"])
        ev = tail.wait_for(lambda e: e["kind"] == "exec" and e.get("path") == "/bin/true",
                           what="a 64-bit exec")[0]
        assert not ev.get("compat32"), ev


@suite.test
def node_posture_reported(s):
    """The paths the tracepoints do not show (32-bit syscalls, io_uring):
    whether they are open on this node is in status, as the kernel says."""
    p = shared(s)["agent"].status()["posture"]
    assert p["io_uring_disabled"] == io_uring_disabled(), p
    with open("/proc/kallsyms") as f:
        built = any(line.endswith((" ia32_sys_call\n", " __ia32_sys_read\n")) for line in f)
    assert p["ia32_emulation"] in (("on", "off") if built else ("off",)), p


# --- io_uring: the same operations as requests on a ring (uring_act) ---

SA_DIR = "/run/secrets/kubernetes.io/serviceaccount"
TOKEN = SA_DIR + "/token"


def io_uring_disabled():
    try:
        with open("/proc/sys/kernel/io_uring_disabled") as f:
            return int(f.read())
    except FileNotFoundError:
        return -1


def uring(s, argv, want, what, check=None, pod=None):
    """A uring_act operation in a pod: the event must come with via
    io_uring. On a node where io_uring is disabled the ring cannot be set
    up at all, and that is what is checked instead."""
    if io_uring_disabled() == 2:
        r = subprocess.run([URING, "ring"], capture_output=True, text=True)
        assert r.returncode != 0, "io_uring_disabled=2 but a ring was set up"
        return None, None
    return in_pod(s, [URING, *argv], lambda e: e.get("via") == "io_uring" and want(e), what,
                  check=check, pod=pod)


class VolumePod(Pod):
    """A pod whose token directory is the kubelet's projected volume (in
    the suite agent's kubelet root), bind-mounted at SA_DIR as the
    container runtime does: the pod and the kubelet see one inode."""

    def __init__(self, kubelet):
        super().__init__(under=UNDER)
        self.token = sa_token("shop", "cart", "cart-0", self.uid)
        kubelet.put_token(self.uid, self.token)
        self.vol = kubelet.volume(self.uid)

    def popen(self, argv, **kw):
        script = ('mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p "$NH_SA" && '
                  'mount --bind "$NH_VOL" "$NH_SA" && echo $$ > "$NH_PROCS" && exec "$@"')
        env = dict(os.environ, NH_VOL=self.vol, NH_SA=SA_DIR,
                   NH_PROCS=os.path.join(self.dir, "cgroup.procs"))
        kw.setdefault("start_new_session", True)
        return subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                 script, "sh", *argv], env=env, **kw)


def by_inode_volumes(agent):
    def find(o):
        if isinstance(o, dict):
            if "by_inode" in o:
                return o["by_inode"]["volumes"]
            for v in o.values():
                r = find(v)
                if r is not None:
                    return r
        return None
    return find(agent.status()) or 0


@suite.test
def io_uring_openat_of_the_pod_token(s):
    """IORING_OP_OPENAT of the pod's own token through /proc/self/root: no
    openat(2) happens, and the path written matches no rule; the kernel's
    inode of the file the request opened says it is the token."""
    uring_token_open(s, [])


@suite.test
def io_uring_openat_of_the_pod_token_on_a_full_cq(s):
    """The same open after the CQ ring was filled with unreaped NOPs: its
    completion goes to the kernel's overflow list (io_uring_cqe_overflow,
    not io_uring_complete)."""
    uring_token_open(s, ["--cq-full"])


def uring_token_open(s, opts):
    sh = shared(s)
    before = by_inode_volumes(sh["agent"])
    pod = VolumePod(sh["kubelet"])
    # the agent learns a new volume at its next scan (every 2 s); the
    # suite's kubelet root only gains volumes
    wait_until(lambda: by_inode_volumes(sh["agent"]) > before, timeout=15,
               what="the agent to learn the pod's token volume")
    written = "/proc/self/root" + TOKEN

    def use(view):
        u = view.wait_for(lambda e: e["kind"] == "credential_use" and e.get("via") == "io_uring",
                          what="credential_use via io_uring")[0]
        assert u["credential_kind"] == "sa_token" and u["result"] >= 0, u
        assert u["matched_by"] in ("inode", "volume") and u.get("path") == written, u
        out = json.dumps(view.matching(lambda e: True)) + sh["agent"].read_log()
        assert pod.token not in out and pod.token.split(".")[2] not in out
    found, _ = uring(s, [*opts, "open", written],
                     lambda e: e["kind"] == "open" and e.get("path") == written,
                     "the io_uring open", check=use, pod=pod)
    if found:
        ev = found[0]
        assert ev["syscall"] == "openat" and ev["result"] >= 0, ev
        assert ev.get("credential_kind") == "sa_token", ev


def planted_pgpass(s, sub):
    """A .pgpass (a catalogue credential) in its own directory under the run."""
    d = os.path.join(s.tmp, sub)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, ".pgpass")
    with open(path, "w") as f:
        f.write("db:5432:*:app:not-a-real-password\n")
    return path


def pgpass_use_via_io_uring(view):
    view.wait_for(lambda e: e["kind"] == "credential_use" and e.get("via") == "io_uring" and
                  e.get("credential_kind") == "pgpass", what="credential_use via io_uring")


@suite.test
def io_uring_openat2_without_completion(s):
    """IORING_OP_OPENAT2 with IOSQE_CQE_SKIP_SUCCESS posts no completion:
    the request is reported at submission, its result unknown, and the
    credential it names is still a credential_use."""
    path = planted_pgpass(s, "skip")
    found, _ = uring(s, ["--skip-cqe", "open2", path],
                     lambda e: e["kind"] == "open" and e.get("path") == path,
                     "the io_uring openat2", check=pgpass_use_via_io_uring)
    if found:
        assert found[0]["syscall"] == "openat2" and found[0].get("result_unknown"), found


@suite.test
def io_uring_open_held_back_behind_a_flood(s):
    """An open linked behind a timeout, and 20000 accepts that stay in
    flight submitted meanwhile: the open's submission state is pushed out
    of the agent's per-request map before it completes. It is still
    reported, from what the completed request holds: the opened file
    (its name as the kernel holds it, its inode) and the credential."""
    path = planted_pgpass(s, "flood")
    found, _ = uring(s, ["flood-open", path, "20000"],
                     lambda e: e["kind"] == "open" and e.get("result", -1) >= 0 and
                     e.get("path") in (".pgpass", path), "the held-back open",
                     check=pgpass_use_via_io_uring)
    # the name, not the path: the submission's state was gone
    assert not found or found[0]["path"] == ".pgpass", found


@suite.test
def io_uring_same_user_data_on_a_full_cq(s):
    """Two OPENATs in one submission sharing one user_data, both
    overflowing: the overflow names (ring, user_data) only, so the index
    must not hide the first behind the second. The credential is the
    first."""
    path = planted_pgpass(s, "dup")
    other = os.path.join(s.tmp, "dup", "notes.txt")
    with open(other, "w") as f:
        f.write("x\n")

    def both(view):
        pgpass_use_via_io_uring(view)
        view.wait_for(lambda e: e["kind"] == "open" and e.get("via") == "io_uring" and
                      e.get("path") == path and e.get("result", -1) >= 0,
                      what="the first open")
    uring(s, ["--cq-full", "open-twice", path, other],
          lambda e: e["kind"] == "open" and e.get("path") == other and e.get("result", -1) >= 0,
          "the second open", check=both)


@suite.test
def io_uring_connect(s):
    srv, port = tcp_listener()
    with srv:
        found, _ = uring(s, ["connect", "127.0.0.1", str(port)],
                         lambda e: e["kind"] == "connect" and e.get("port") == port,
                         "the io_uring connect")
    if found:
        assert found[0]["address"] == "127.0.0.1" and found[0]["result"] == 0, found
        # refused: no peer on the socket, so the address can only be the
        # request's kernel copy
        port = free_port()
        found, _ = uring(s, ["connect", "127.0.0.1", str(port)],
                         lambda e: e["kind"] == "connect" and e.get("port") == port,
                         "the refused io_uring connect")
        assert found[0]["address"] == "127.0.0.1" and found[0]["result"] == -111, found


@suite.test
def io_uring_connect_to_docker_sock(s):
    d = os.path.join(s.tmp, "uring-runtime")
    os.makedirs(d, exist_ok=True)
    real = os.path.join(d, "docker.sock")
    with unix_server(real):
        def use(view):
            u = view.wait_for(lambda e: e["kind"] == "credential_use" and
                              e.get("credential_kind") == "container_runtime_socket",
                              what="credential_use")[0]
            assert u["via"] == "io_uring" and u["credential"] == real, u
        found, _ = uring(s, ["unix-connect", real],
                         lambda e: e["kind"] == "unix_connect" and e.get("path") == real,
                         "the io_uring unix connect", check=use)
        if found:
            assert found[0]["result"] == 0 and found[0]["inode"] == os.stat(real).st_ino, found


@suite.test
def io_uring_send(s):
    sink, port = udp_sink()
    with sink:
        found, _ = uring(s, ["send", "127.0.0.1", str(port)],
                         lambda e: is_send(e, "sendto", port), "the io_uring send")
        # the destination is the request's kernel copy, not user memory
        assert not found or not found[0].get("user_address"), found


@suite.test
def io_uring_sendmsg(s):
    sink, port = udp_sink()
    with sink:
        uring(s, ["sendmsg", "127.0.0.1", str(port)], lambda e: is_send(e, "sendmsg", port),
              "the io_uring sendmsg")


@suite.test
def io_uring_accept(s):
    found, _ = uring(s, ["accept"], lambda e: e["kind"] == "accept", "the io_uring accept")
    if found:
        ev = found[0]
        assert ev["syscall"] == "accept4" and ev["result"] >= 0, ev
        assert ev["address"] == "127.0.0.1" and ev["local_port"] > 0, ev


def multishot_accepts(s, argv, clients):
    """One multishot accept takes a connection from each client address:
    after the first, the kernel posts them while the request stays armed
    (completions that name no request). Every one must be an accept."""
    def accepted_from(a):
        return lambda e: (e["kind"] == "accept" and e.get("via") == "io_uring" and
                          e.get("address") == a)

    def every(view):
        for a in clients:
            ev = view.wait_for(accepted_from(a), what="the accept from " + a)[0]
            assert ev["syscall"] == "accept4" and ev["result"] >= 0, ev
            assert ev["local_port"] > 0 and ev["comm"] == "uring_act", ev
    uring(s, argv + clients, accepted_from(clients[-1]), "the last connection's accept",
          check=every)


@suite.test
def io_uring_multishot_accept_every_connection(s):
    multishot_accepts(s, ["accept-multi"], ["127.0.0.2", "127.0.0.3", "127.0.0.4"])


@suite.test
def io_uring_multishot_accept_into_fixed_files(s):
    # the new sockets are in the ring's fixed-file table, not descriptors
    multishot_accepts(s, ["--fixed", "accept-multi"], ["127.0.0.5", "127.0.0.6", "127.0.0.7"])


@suite.test
def io_uring_multishot_accept_on_an_sqpoll_ring(s):
    # the kernel's iou-sqp thread arms it and takes the connections
    multishot_accepts(s, ["--sqpoll", "accept-multi"], ["127.0.0.8", "127.0.0.9", "127.0.0.10"])


@suite.test
def io_uring_connect_on_a_full_cq(s):
    """A connect whose completion overflows the CQ ring (filled with
    unreaped NOPs first)."""
    srv, port = tcp_listener()
    with srv:
        found, _ = uring(s, ["--cq-full", "connect", "127.0.0.1", str(port)],
                         lambda e: e["kind"] == "connect" and e.get("port") == port,
                         "the overflowing io_uring connect")
    if found:
        assert found[0]["address"] == "127.0.0.1" and found[0]["result"] == 0, found


@suite.test
def io_uring_sqpoll_connect_on_a_full_cq(s):
    # the kernel's iou-sqp thread submits and completes: the overflow
    # fires in it
    srv, port = tcp_listener()
    with srv:
        uring(s, ["--sqpoll", "--cq-full", "connect", "127.0.0.1", str(port)],
              lambda e: e["kind"] == "connect" and e.get("port") == port and
              e.get("result") == 0 and e.get("comm") == "uring_act",
              "the overflowing SQPOLL connect")


@suite.test
def io_uring_multishot_accept_on_a_full_cq(s):
    # armed, then the CQ ring filled: the connection cannot be posted as
    # an auxiliary completion, so it ends the accept as the request's own
    # completion, which overflows
    multishot_accepts(s, ["--cq-full", "accept-multi"], ["127.0.0.11"])


@suite.test
def io_uring_first_ring(s):
    found, _ = uring(s, ["ring"], lambda e: e["kind"] == "io_uring_create", "the first ring")
    if found:
        ev = found[0]
        assert ev["syscall"] == "io_uring_setup" and ev["fd"] >= 0 and not ev.get("op"), ev


@suite.test
def io_uring_sqpoll_is_the_owners(s):
    """With SQPOLL the kernel's iou-sqp thread submits the requests: the
    events are the ring owner's (its pod, process and name)."""
    srv, port = tcp_listener()
    with srv:
        pod = new_pod()
        found, view = uring(s, ["--sqpoll", "connect", "127.0.0.1", str(port)],
                            lambda e: e["kind"] == "connect" and e.get("port") == port,
                            "the SQPOLL connect", pod=pod)
    if found:
        ev = found[0]
        ring = view.wait_for(lambda e: e["kind"] == "io_uring_create", what="the ring")[0]
        assert ring["op"] == "sqpoll", ring
        # the submitter is the kernel's thread (another tid) of the
        # owner's process, named after it
        assert ev["pid"] == ring["pid"] and ev["tid"] != ev["pid"], (ev, ring)
        assert ev["comm"] == "uring_act" and ev["identity"] == ring["identity"], ev


if __name__ == "__main__":
    try:
        rc = suite.run(sys.argv)
    finally:
        stop_shared()
    try:
        os.rmdir(os.path.join(cgroup2_mount(), UNDER))
    except OSError:
        pass
    sys.exit(rc)
