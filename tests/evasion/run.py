# SPDX-License-Identifier: Apache-2.0
"""The evasion suite: every way around the obvious syscalls that issue 17
names, each done by a workload in a fabricated pod (act.py), each asserting
the event that must appear, with the real agent and real probes. A
technique that is not seen fails its test; docs/coverage.md says which
hook sees it."""

import os
import shutil
import socket
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from nhtest import Agent, Pod, Suite, Tail, cgroup2_mount, running  # noqa: E402

ACT = os.path.join(HERE, "act.py")
TRACEFS = "/sys/kernel/tracing"
suite = Suite("evasion")
# Every pod of the suite lives below this cgroup and every agent traces
# only it: the machine runs other agents' tests, whose workloads must
# neither show up here nor stall these agents.
UNDER = "nhiscope-evasion-%d" % os.getpid()


def new_pod():
    return Pod(under=UNDER)


def new_agent(s, *args):
    os.makedirs(os.path.join(cgroup2_mount(), UNDER), exist_ok=True)
    return Agent(s.tmp, "--scope-cgroup", "/" + UNDER, *args)


def attack(s, argv, want, what, agent_args=(), check=None):
    """Run act.py argv in a new pod under a new agent; wait for the event
    want() accepts (and every event check() accepts, if given); returns
    (events that matched want, the whole tail)."""
    pod = new_pod()
    agent = new_agent(s, *agent_args)
    with running(pod, agent):
        tail = Tail(agent, "--identity", "k8s:pod/" + pod.uid)
        with running(tail):
            pod.run(["python3", ACT, *argv])
            found = tail.wait_for(want, what=what)
            if check:
                check(tail)
            return found, tail


def udp_sink():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
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
def udp_connected_send_reads_the_socket_peer(s):
    sink, port = udp_sink()
    with sink:
        # the destination is the socket's peer, not user memory
        attack(s, ["udp-connected-send", "127.0.0.1", str(port)],
               lambda e: is_send(e, "sendto", port, user_address=False), "send to the peer")


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
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
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
    root = os.path.join(s.tmp, "kubelet")
    os.makedirs(os.path.join(root, "pod-resources"), exist_ok=True)
    bound = os.path.join(s.tmp, "api.sock")
    canonical = os.path.join(root, "pod-resources", "kubelet.sock")
    with unix_server(bound):
        # bound under a name no rule knows, then renamed into place: only
        # the socket file's inode says which socket it is
        os.rename(bound, canonical)
        found, tail = attack(s, ["unix-connect", canonical],
                             lambda e: e["kind"] == "unix_connect" and e.get("path") == bound,
                             "unix_connect", agent_args=("--kubelet-root", root))
        assert found[0]["inode"] == os.stat(canonical).st_ino, found
        use = tail.wait_for(lambda e: e["kind"] == "credential_use" and
                            e.get("credential_kind") == "kubelet_socket",
                            what="credential_use by inode")[0]
        assert use["credential"] == canonical, use
        os.unlink(canonical)


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
    agent = new_agent(s)
    with running(pod, agent):
        tail = Tail(agent, "--identity", "k8s:pod/" + pod.uid)
        with running(tail):
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
    agent = new_agent(s)
    with running(pod, agent):
        tail = Tail(agent, "--identity", "k8s:pod/" + pod.uid)
        with running(tail):
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
        agent = new_agent(s)
        with running(agent):
            st = agent.status()
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
    agent = new_agent(s)
    with running(pod, agent):
        if agent.status()["posture"]["ia32_emulation"] == "off":
            assert subprocess.run([path]).returncode != 0, "a 32-bit binary ran with ia32 off"
            return
        tail = Tail(agent, "--identity", "k8s:pod/" + pod.uid)
        with running(tail):
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
    agent = new_agent(s)
    with running(agent):
        p = agent.status()["posture"]
        try:
            with open("/proc/sys/kernel/io_uring_disabled") as f:
                want = int(f.read())
        except FileNotFoundError:
            want = -1
        assert p["io_uring_disabled"] == want, p
        with open("/proc/kallsyms") as f:
            built = any(line.endswith((" ia32_sys_call\n", " __ia32_sys_read\n")) for line in f)
        assert p["ia32_emulation"] in (("on", "off") if built else ("off",)), p


if __name__ == "__main__":
    rc = suite.run(sys.argv)
    try:
        os.rmdir(os.path.join(cgroup2_mount(), UNDER))
    except OSError:
        pass
    sys.exit(rc)
