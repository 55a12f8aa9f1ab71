# SPDX-License-Identifier: Apache-2.0
"""Kernel integration: the real agent with real probes, real workloads in
a fabricated pod, checked through `nhiscope tail -o json` and status."""

import os
import signal
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nhtest import (AGENT, CLI, WORKLOAD, Agent, Pod, Suite, Tail, facts,  # noqa: E402
                    wait_until)

suite = Suite("integration")


def check_pod_context(e, pod):
    ctx = e["context"]
    assert e["identity"] == "k8s:pod/" + pod.uid, e
    assert ctx["pod_uid"] == pod.uid, ctx
    assert ctx["container_id"] == pod.container_id, ctx
    assert ctx["runtime"] == "containerd", ctx
    assert ctx["qos"] == "burstable", ctx
    assert ctx["cgroup"] == pod.cgroup_path, ctx


def pod_agent(agent_args=(), tail_args=None):
    """Run the test as fn(s, agent, tail, pod) with a fresh pod, an agent
    started with agent_args and a tail with tail_args (default: the pod's
    identity), all torn down afterwards whatever the test does. Either
    argument list may be a function of the pod."""
    def deco(fn):
        def wrapper(s):
            pod = Pod()
            agent = tail = None
            try:
                aargs = agent_args(pod) if callable(agent_args) else agent_args
                agent = Agent(s.tmp, *aargs)
                targs = (tail_args(pod) if callable(tail_args) else
                         tail_args if tail_args is not None else
                         ("--identity", "k8s:pod/" + pod.uid))
                tail = Tail(agent, *targs)
                fn(s, agent, tail, pod)
            finally:
                if tail:
                    tail.close()
                if agent:
                    agent.stop()
                pod.remove()
        wrapper.__name__ = fn.__name__
        return wrapper
    return deco


with_pod_agent = pod_agent()


@suite.test
def probes_attached_and_socket_root_only(s):
    agent = Agent(s.tmp)
    try:
        st = agent.status()
        names = {p["tracepoint"] for p in st["probes"] if p["attached"]}
        assert st["probes_attached"] == len(st["probes"]), st["probes"]
        for tp in ["sched:sched_process_exec", "sched_process_fork", "sched:sched_process_exit",
                   "syscalls:sys_exit_open", "syscalls:sys_exit_openat",
                   "syscalls:sys_exit_openat2", "syscalls:sys_exit_connect",
                   "syscalls:sys_exit_accept4", "syscalls:sys_enter_setresuid",
                   "syscalls:sys_exit_capset"]:
            assert tp in names, tp
        mode = stat.S_IMODE(os.stat(agent.sock).st_mode)
        assert mode == 0o600, oct(mode)
        assert st["processes"] > 10, st["processes"]  # seeded from /proc
        # A second agent on the same socket refuses, and leaves the first alone.
        r = subprocess.run([AGENT, "-s", agent.sock], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and "another agent is already serving it" in r.stderr, r.stderr
        assert agent.status()["pid"] == agent.proc.pid
    finally:
        assert agent.stop() == 0


@suite.test
@with_pod_agent
def exec_in_pod_is_attributed(s, agent, tail, pod):
    pid, _ = pod.run(["/bin/true", "first-arg", "second arg"])
    ev = tail.wait_for(lambda e: e["kind"] == "exec" and e["pid"] == pid, what="exec")[0]
    assert ev["path"] == "/bin/true", ev
    assert ev["exe"] == "/bin/true", ev
    assert ev["args"] == ["/bin/true", "first-arg", "second arg"], ev["args"]
    assert ev["comm"] == "true", ev
    assert ev["ppid"] == os.getpid(), (ev["ppid"], os.getpid())
    assert ev["uid"] == 0 and ev["user"] == "root", ev
    check_pod_context(ev, pod)
    ex = tail.wait_for(lambda e: e["kind"] == "exit" and e["pid"] == pid, what="exit")[0]
    assert ex["exit_code"] == 0, ex


@suite.test
@with_pod_agent
def connect_and_accept_ipv4_ipv6(s, agent, tail, pod):
    with socket.socket() as probe:  # a port that is certainly closed
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    unix_path = os.path.join(s.tmp, "unix.sock")
    pid, out = pod.run([WORKLOAD, "unix", unix_path, "loopback4", "loopback6", "nonblock4",
                        "refused4", str(closed)])
    lines = out.splitlines()
    p4 = int(facts([l for l in lines if l.startswith("loopback4")][0])["port"])
    p6 = int(facts([l for l in lines if l.startswith("loopback6")][0])["port"])
    nb = [l for l in lines if l.startswith("loopback4")][1]
    nb_port = int(facts(nb)["port"])
    nb_result = int(facts(out)["connect-result"])

    def conn(addr, port):
        return lambda e: (e["kind"] == "connect" and e["pid"] == pid and
                          e["address"] == addr and e["port"] == port)

    c4 = tail.wait_for(conn("127.0.0.1", p4), what="ipv4 connect")[0]
    assert c4["family"] == "ipv4" and c4["result"] == 0, c4
    assert c4["exe"] == WORKLOAD, c4
    check_pod_context(c4, pod)
    c6 = tail.wait_for(conn("::1", p6), what="ipv6 connect")[0]
    assert c6["family"] == "ipv6" and c6["result"] == 0, c6
    cnb = tail.wait_for(conn("127.0.0.1", nb_port), what="non-blocking connect")[0]
    assert cnb["result"] == nb_result, (cnb, nb_result)
    if nb_result == -115:
        assert cnb["error"] == "EINPROGRESS", cnb
    cr = tail.wait_for(conn("127.0.0.1", closed), what="refused connect")[0]
    assert cr["result"] == -111 and cr["error"] == "ECONNREFUSED", cr

    def acc(port):
        return lambda e: e["kind"] == "accept" and e["pid"] == pid and e.get("local_port") == port

    a4 = tail.wait_for(acc(p4), what="ipv4 accept")[0]
    assert a4["address"] == "127.0.0.1" and a4["family"] == "ipv4", a4
    assert a4["result"] >= 0 and a4["syscall"] in ("accept", "accept4"), a4
    assert a4["port"] > 0, a4  # the peer's ephemeral port
    check_pod_context(a4, pod)
    a6 = tail.wait_for(acc(p6), what="ipv6 accept")[0]
    assert a6["address"] == "::1" and a6["family"] == "ipv6", a6
    # Unix-domain IPC is not network activity: 3 inet accepts, nothing else.
    accepts = tail.matching(lambda e: e["kind"] == "accept" and e["pid"] == pid)
    assert len(accepts) == 3, accepts
    assert all(e["family"] in ("ipv4", "ipv6") for e in accepts), accepts


@suite.test
@with_pod_agent
def file_opens_every_syscall(s, agent, tail, pod):
    path = os.path.join(s.tmp, "opened-by-pod")
    with open(path, "w") as f:
        f.write("x")
    missing = os.path.join(s.tmp, "does-not-exist")
    legacy = os.path.join(s.tmp, "opened-with-open2")
    with open(legacy, "w") as f:
        f.write("y")
    via2 = os.path.join(s.tmp, "opened-with-openat2")
    with open(via2, "w") as f:
        f.write("z")
    pid, out = pod.run([WORKLOAD, "open", path, "open", missing, "open-legacy", legacy,
                        "openat2", via2])

    def opened(p):
        return lambda e: e["kind"] == "open" and e["pid"] == pid and e["path"] == p

    ok = tail.wait_for(opened(path), what="open")[0]
    assert ok["result"] >= 0 and "error" not in ok, ok
    assert ok["syscall"] == "openat", ok
    assert ok["flags_str"] == "O_RDONLY|O_CLOEXEC", ok
    assert ok["exe"] == WORKLOAD, ok
    check_pod_context(ok, pod)
    bad = tail.wait_for(opened(missing), what="failed open")[0]
    assert bad["result"] == -2 and bad["error"] == "ENOENT", bad
    if "open-legacy" in out:
        lg = tail.wait_for(opened(legacy), what="open(2)")[0]
        assert lg["syscall"] == "open" and lg["result"] >= 0, lg
    o2 = tail.wait_for(opened(via2), what="openat2")[0]
    assert o2["syscall"] == "openat2" and o2["result"] >= 0, o2


@suite.test
@with_pod_agent
def exit_is_reported_when_the_last_thread_ends(s, agent, tail, pod):
    """The leader thread exits first: the process ends only when the
    second thread does, and that is when its one exit event comes."""
    path = os.path.join(s.tmp, "late-open")
    open(path, "w").close()
    pid, _ = pod.run([WORKLOAD, "leader-exits", path])
    op = tail.wait_for(lambda e: e["kind"] == "open" and e["pid"] == pid and
                       e["path"] == path, what="the second thread's open")[0]
    assert op["tid"] != pid and op["exe"] == WORKLOAD, op
    ex = tail.wait_for(lambda e: e["kind"] == "exit" and e["pid"] == pid, what="exit")[0]
    assert ex["time"] >= op["time"], (ex["time"], op["time"])
    tail.sync(pod)
    assert len(tail.matching(lambda e: e["kind"] == "exit" and e["pid"] == pid)) == 1


@suite.test
@with_pod_agent
def uid_gid_and_capability_changes(s, agent, tail, pod):
    pid, _ = pod.run([WORKLOAD, "capset-drop", "13", "setresgid", "65534", "setresuid", "65534"])
    cap = tail.wait_for(lambda e: e["kind"] == "capset" and e["pid"] == pid, what="capset")[0]
    old, new = int(cap["old"]["effective"], 16), int(cap["new"]["effective"], 16)
    assert old & (1 << 13) and not new & (1 << 13), cap
    assert old & ~(1 << 13) == new, cap  # only CAP_NET_RAW went
    assert cap["result"] == 0, cap
    gid = tail.wait_for(lambda e: e["kind"] == "setgid" and e["pid"] == pid, what="setgid")[0]
    assert gid["syscall"] == "setresgid" and gid["result"] == 0, gid
    assert gid["old"] == {"real": 0, "effective": 0, "saved": 0}, gid
    assert gid["new"] == {"real": 65534, "effective": 65534, "saved": 65534}, gid
    uid = tail.wait_for(lambda e: e["kind"] == "setuid" and e["pid"] == pid, what="setuid")[0]
    assert uid["syscall"] == "setresuid" and uid["result"] == 0, uid
    assert uid["old"]["effective"] == 0 and uid["new"]["effective"] == 65534, uid
    check_pod_context(uid, pod)


@suite.test
def secrets_in_argv_never_leave_the_agent(s):
    planted = {
        "aws": "AKIAQWERTYUIOPASDFGH",
        "github": "ghp_Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVb",
        "jwt": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl",
        "url": "Sup3rS3cretUrlPass",
        "named": "n4m3dP4ssw0rdValue",
        "next": "n3xtArgT0kenValue",
        "basic": "b4sicAuthPassw0rd",
        "query": "qu3ryStr1ngT0ken",
    }
    argv = ["/bin/true", "--aws", planted["aws"], planted["github"],
            "Authorization: Bearer " + planted["jwt"],
            "https://deploy:%s@git.example.invalid/r.git" % planted["url"],
            "--password=" + planted["named"], "--token", planted["next"],
            "-u", "admin:" + planted["basic"], "https://h.invalid/x?token=%s&page=2" % planted["query"],
            "harmless"]
    pod = Pod()
    agent = Agent(s.tmp)
    tail = Tail(agent, "--identity", "k8s:pod/" + pod.uid)
    compact_path = os.path.join(s.tmp, "compact-tail.txt")
    compact_file = open(compact_path, "w")
    compact = subprocess.Popen([CLI, "-s", agent.sock, "tail", "--kind", "exec"],
                               stdout=compact_file, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: agent.status()["subscribers"] >= 2, what="both tails")
        pid, _ = pod.run(argv)
        ev = tail.wait_for(lambda e: e["kind"] == "exec" and e["pid"] == pid, what="exec")[0]
        assert ev["secrets_redacted"] == 8, ev
        assert ev["args"][0] == "/bin/true" and ev["args"][-1] == "harmless", ev["args"]
        assert ev["args"][2] == "[REDACTED:aws-access-key]", ev["args"]
        assert ev["args"][8] == "[REDACTED:named-value]", ev["args"]
        assert ev["args"][10] == "admin:[REDACTED:user-password]", ev["args"]
        assert ev["args"][11].endswith("?token=[REDACTED:named-value]&page=2"), ev["args"]
        # the compact tail has the exec once its marker came after it
        marker = tail.sync(pod)["args"][-1]

        def compact_out():
            with open(compact_path) as f:
                return f.read()
        wait_until(lambda: marker in compact_out(), what="the marker in the compact tail")
        st = subprocess.run([CLI, "-s", agent.sock, "status", "-o", "json"],
                            capture_output=True, text=True).stdout
        compact.terminate()
        compact.wait(timeout=10)
        compact_out = compact_out()
        assert "[REDACTED:" in compact_out, compact_out
        outputs = {"tail -o json": tail.buf.decode() + "\n".join(map(str, tail.poll())),
                   "tail": compact_out, "status": st, "agent log": agent.read_log()}
        for where, text in outputs.items():
            for name, value in planted.items():
                assert value not in text, "%s secret found in %s" % (name, where)
    finally:
        if compact.poll() is None:
            compact.kill()
        tail.close()
        agent.stop()
        pod.remove()
    for name, value in planted.items():  # nor in the log after shutdown
        assert value not in agent.read_log(), name


@suite.test
@pod_agent(("--dedup-window", "1000"),
           lambda pod: ("--identity", "k8s:pod/" + pod.uid, "--kind", "open,summary"))
def dedup_ten_thousand_opens_is_one_event_and_exact_summary(s, agent, tail, pod):
    path = os.path.join(s.tmp, "opened-ten-thousand-times")
    open(path, "w").close()
    pid, _ = pod.run([WORKLOAD, "open-loop", path, "10000"])

    def summaries():
        return [e for e in tail.poll() if e["kind"] == "summary" and e.get("object") == path]

    wait_until(lambda: sum(e["count"] for e in summaries()) >= 9999, timeout=15,
               what="summaries adding up to 9999")
    tail.flush_sync(pod)  # one more window closed: nothing may be counted twice
    opens = [e for e in tail.poll() if e["kind"] == "open" and e["path"] == path]
    assert len(opens) == 1, "expected one open event, got %d" % len(opens)
    assert opens[0]["pid"] == pid and opens[0]["deduplicated"], opens[0]
    total = sum(e["count"] for e in summaries())
    assert total == 9999, "summaries count %d repeats, expected 9999" % total
    for e in summaries():
        assert e["of"] == "open" and e["identity"] == "k8s:pod/" + pod.uid, e
    st = agent.status()
    assert st["kinds"]["open"]["deduplicated"] >= 9999, st["kinds"]["open"]
    keys = [i["key"] for i in st["identities"]["top"]]
    assert "k8s:pod/" + pod.uid in keys, keys


@suite.test
@pod_agent(("--dedup-window", "300"),
           lambda pod: ("--identity", "k8s:pod/" + pod.uid, "--kind", "open,summary"))
def dedup_entry_expires_after_two_idle_windows(s, agent, tail, pod):
    """A repeat within the window is folded; after two idle windows the
    object is forgotten and its next use is reported in full again."""
    go = os.path.join(s.tmp, "go-expiry")
    path = os.path.join(s.tmp, "expiring")
    open(path, "w").close()
    w = pod.popen([WORKLOAD, "open", path, "open", path, "wait", go, "open", path],
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def opens():
        return [e for e in tail.poll() if e["kind"] == "open" and e["pid"] == w.pid and
                e["path"] == path]
    wait_until(lambda: len(opens()) == 1, what="the first open")
    # the immediate repeat was folded into the window's summary, which
    # restarts the window; two idle windows after it the entry is dropped
    tail.wait_for(lambda e: e["kind"] == "summary" and e.get("object") == path and
                  e["count"] == 1, what="the repeat's summary")
    time.sleep(0.3)  # a lower bound: one window; flush_sync adds the second
    tail.flush_sync(pod)
    assert len(opens()) == 1, opens()
    open(go, "w").close()
    w.communicate(timeout=30)
    wait_until(lambda: len(opens()) == 2, what="the open after expiry in full")


@suite.test
@pod_agent(lambda pod: ("--ringbuf-size", "4096", "--scope-cgroup", pod.cgroup_path), ())
def stalled_reader_delivered_plus_lost_equals_generated(s, agent, tail, pod):
    n = 3000
    outdir = os.path.join(s.tmp, "burst")
    os.mkdir(outdir)
    go = os.path.join(s.tmp, "go")
    w = pod.popen([WORKLOAD, "wait", go, "open-new", outdir, str(n)],
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Ready once it polls: the loader's opens are behind it.
    assert w.stdout.readline().startswith("pid="), "nh_workload did not start"
    assert w.stdout.readline().strip() == "waiting=" + go, "nh_workload is not waiting"
    lost0 = agent.status()["kinds"]["open"]["lost"]
    agent.proc.send_signal(signal.SIGSTOP)  # the reader stalls
    try:
        open(go, "w").close()
        out, err = w.communicate(timeout=60)
        assert w.returncode == 0, err
    finally:
        agent.proc.send_signal(signal.SIGCONT)
    # Read from the kernel's counters now, while nothing else runs in the
    # pod: the marker below may lose its own opens in so small a buffer.
    lost = agent.status()["kinds"]["open"]["lost"] - lost0

    def burst():
        return [e for e in tail.poll() if e["kind"] == "open" and
                e["path"].startswith(outdir + "/")]

    wait_until(lambda: any(e["kind"] == "loss" and e.get("of") == "open" for e in tail.poll()),
               what="a loss record in the tail")
    tail.sync(pod)
    delivered = len(burst())
    assert lost > 0, "a 4 KiB ring buffer with a stalled reader must lose events"
    assert delivered > 0, "the events that fitted must be delivered"
    assert delivered + lost == n, "delivered %d + lost %d != generated %d" % (delivered, lost, n)
    assert len({e["path"] for e in burst()}) == delivered, "duplicate deliveries"


@suite.test
@pod_agent(("--batch-ms", "0"))
def per_event_wakeup_mode_delivers(s, agent, tail, pod):
    """--batch-ms 0 wakes the agent for every record instead of batching."""
    path = os.path.join(s.tmp, "per-event")
    open(path, "w").close()
    pid, _ = pod.run([WORKLOAD, "open", path])
    ev = tail.wait_for(lambda e: e["kind"] == "open" and e["pid"] == pid and
                       e["path"] == path, what="open")[0]
    assert ev["result"] >= 0, ev
    assert "batch 0ms" in agent.read_log(), agent.read_log()


@suite.test
def pod_shaped_cgroup_in_a_delegated_subtree_is_not_trusted(s):
    """A user can build kubepods-looking cgroups in a subtree delegated to
    it; that must not make its processes a pod."""
    from nhtest import cgroup2_mount
    under = "nh-delegated-%d" % os.getpid()
    os.makedirs(os.path.join(cgroup2_mount(), under))
    os.chown(os.path.join(cgroup2_mount(), under), 65534, 65534)
    pod = Pod(under=under)
    agent = Agent(s.tmp)
    tail = Tail(agent, "--kind", "exec")
    try:
        pid, _ = pod.run(["/bin/true"])
        ev = tail.wait_for(lambda e: e["pid"] == pid and e["path"] == "/bin/true",
                           what="exec")[0]
        assert ev["identity"] == "user:root", ev
        assert ev["context"].get("delegated") is True, ev["context"]
        assert "pod_uid" not in ev["context"], ev["context"]
    finally:
        tail.close()
        agent.stop()
        pod.remove()


@suite.test
@pod_agent(tail_args=("--identity", "k8s:pod/*"))
def short_lived_process_in_new_pod_is_attributed(s, agent, tail, pod):
    """The process and its /proc entry are gone before the agent reads the
    event: the cgroup is found by walking the hierarchy."""
    agent.proc.send_signal(signal.SIGSTOP)
    try:
        pid, _ = pod.run(["/bin/true"])
    finally:
        agent.proc.send_signal(signal.SIGCONT)
    ev = tail.wait_for(lambda e: e["kind"] == "exec" and e["pid"] == pid, what="exec")[0]
    check_pod_context(ev, pod)
    assert ev["exe"] == "/bin/true", ev


@suite.test
@with_pod_agent
def cgroup_removal_drops_cached_identity(s, agent, tail, pod):
    pid, _ = pod.run(["/bin/true"])
    tail.wait_for(lambda e: e["kind"] == "exec" and e["pid"] == pid, what="exec")
    before = agent.status()["cgroups_cached"]
    pod.remove()
    wait_until(lambda: agent.status()["cgroups_cached"] < before, what="cache eviction")


@suite.test
def tail_filters_are_applied_by_the_agent(s):
    pod, other = Pod(), Pod()
    agent = Agent(s.tmp)
    go = os.path.join(s.tmp, "go-filters")
    target = os.path.join(s.tmp, "filter-target")
    marker = os.path.join(s.tmp, "filter-marker")
    for f in (target, marker):
        open(f, "w").close()
    tails = []
    try:
        # the last open is the marker: everything before it has arrived
        w = pod.popen([WORKLOAD, "wait", go, "open", target, "loopback4", "open", marker],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        by_pid = Tail(agent, "--pid", str(w.pid))
        by_kind = Tail(agent, "--kind", "open", "--identity", "k8s:pod/" + pod.uid)
        by_other = Tail(agent, "--identity", "k8s:pod/" + other.uid)
        tails = [by_pid, by_kind, by_other]
        open(go, "w").close()
        w.communicate(timeout=30)
        by_pid.wait_for(lambda e: e["kind"] == "connect", what="connect via --pid")
        by_kind.wait_for(lambda e: e.get("path") == target, what="open via --kind")
        for t in (by_pid, by_kind):
            t.wait_for(lambda e: e.get("path") == marker, what="the marker open")
        by_other.sync(other)  # the other pod's marker comes after all of it
        assert all(e["pid"] == w.pid or e["tid"] == w.pid for e in by_pid.poll()), by_pid.poll()
        assert {e["kind"] for e in by_kind.poll()} == {"open"}, {e["kind"] for e in by_kind.poll()}
        assert all(e["identity"] == "k8s:pod/" + pod.uid for e in by_kind.poll())
        assert by_other.poll() and all(e["identity"] == "k8s:pod/" + other.uid
                                       for e in by_other.poll()), by_other.poll()
    finally:
        for t in tails:
            t.close()
        agent.stop()
        pod.remove()
        other.remove()


@suite.test
@with_pod_agent
def long_argv_and_paths_are_truncated_and_flagged(s, agent, tail, pod):
    long_args = ["a" * 300, "b" * 300, "c" * 300, "d" * 300]  # > 1024 bytes of argv
    pid, _ = pod.run(["/bin/true", *long_args])
    ev = tail.wait_for(lambda e: e["kind"] == "exec" and e["pid"] == pid, what="exec")[0]
    assert ev.get("args_truncated") is True, ev
    joined = "\0".join(ev["args"])
    assert 1000 <= len(joined) <= 1024, len(joined)
    assert ev["args"][:3] == ["/bin/true", long_args[0], long_args[1]], ev["args"][:3]
    short_pid, _ = pod.run(["/bin/true", "short"])
    short = tail.wait_for(lambda e: e["kind"] == "exec" and e["pid"] == short_pid, what="exec")[0]
    assert "args_truncated" not in short, short

    deep = os.path.join(s.tmp, "d" * 120, "e" * 120)
    os.makedirs(deep)
    longpath = os.path.join(deep, "f" * 60)
    open(longpath, "w").close()
    assert len(longpath) > 256
    pid, _ = pod.run([WORKLOAD, "open", longpath])
    op = tail.wait_for(lambda e: e["kind"] == "open" and e["pid"] == pid and
                       longpath.startswith(e["path"]) and len(e["path"]) > 200, what="long open")[0]
    assert op.get("path_truncated") is True, op
    assert len(op["path"]) == 255 and longpath.startswith(op["path"]), op["path"]


@suite.test
@pod_agent(("--dedup-window", "0"), ())
def agent_is_filtered_in_the_kernel(s, agent, tail, pod):
    # A new cgroup makes the agent open /proc/<pid>/cgroup to resolve
    # it: those opens must not come back to it as events.
    pid, _ = pod.run(["/bin/true"])
    tail.wait_for(lambda e: e["kind"] == "exec" and e["pid"] == pid, what="exec")
    agent.status()
    tail.sync(pod)
    own = [e for e in tail.poll() if agent.proc.pid in (e.get("pid"), e.get("tid"))]
    assert own == [], own[:3]


@suite.test
def tracefs_is_mounted_when_missing(s):
    tracing = "/sys/kernel/tracing"
    if os.path.ismount(tracing):
        r = subprocess.run(["umount", tracing], capture_output=True, text=True)
        assert r.returncode == 0, "cannot unmount tracefs for the test: " + r.stderr
    assert not os.path.exists(os.path.join(tracing, "events"))
    agent = Agent(s.tmp)
    try:
        assert os.path.ismount(tracing) and os.path.isdir(os.path.join(tracing, "events"))
        st = agent.status()
        assert st["probes_attached"] == len(st["probes"]) >= 25, st["probes"]
    finally:
        agent.stop()


@suite.test
def sigint_and_sigterm_detach_cleanly(s):
    for sig in (signal.SIGINT, signal.SIGTERM):
        agent = Agent(s.tmp)
        try:
            sock, fdinfo = agent.sock, "/proc/%d/fdinfo" % agent.proc.pid
            prog_ids = set()
            for fd in os.listdir(fdinfo):
                try:
                    with open(os.path.join(fdinfo, fd)) as f:
                        prog_ids.update(l.split()[1] for l in f if l.startswith("prog_id:"))
                except OSError:
                    pass
            st = agent.status()
            attached, absent = st["probes_attached"], len(st["probes_absent"])
            # every attached program, plus those that are run, not attached: the
            # dedup flush and pin, the removed-cgroup acknowledgement, the hash
            # self-test, the one that tells the agent its cgroup and the one
            # that learns a file's inode key, io_uring's layout check; and the
            # loaded programs of syscalls this kernel does not have
            assert len(prog_ids) == attached + 7 + absent, (len(prog_ids), attached, absent)
            rc = agent.stop(sig)
            assert rc == 0, "exit status %d after %s" % (rc, sig.name)
            assert not os.path.exists(sock), "socket left behind"
            assert "detaching" in agent.read_log(), agent.read_log()
            def loaded():
                return [i for i in prog_ids
                        if subprocess.run(["bpftool", "prog", "show", "id", i],
                                          capture_output=True).returncode == 0]
            # The kernel frees a program after an RCU grace period and a
            # deferred work item: give it a moment, but it must go.
            wait_until(lambda: not loaded(), timeout=10, what="programs to be freed")
        finally:
            agent.stop()  # no-op when already stopped; never leave an agent behind


@suite.test
def clear_errors_for_bad_use(s):
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        AGENT, "-s", os.path.join(s.tmp, "x.sock")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "must run as root" in r.stderr, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1, "one line, not a trace: %r" % r.stderr
    r = subprocess.run([AGENT, "--ringbuf-size", "5000"], capture_output=True, text=True)
    assert r.returncode == 2 and "--ringbuf-size" in r.stderr, (r.returncode, r.stderr)
    r = subprocess.run([AGENT, "--scope-cgroup", "/no/such/cgroup/here", "-s",
                        os.path.join(s.tmp, "y.sock")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "/no/such/cgroup/here" in r.stderr, (r.returncode, r.stderr)
    # the socket directory: another user's or world-writable without the
    # sticky bit is refused; sticky /tmp is fine
    shared = os.path.join(s.tmp, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o777)
    r = subprocess.run([AGENT, "-s", os.path.join(shared, "a.sock")], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "must be a directory owned by root" in r.stderr, r.stderr
    os.chmod(shared, 0o700)
    os.chown(shared, 65534, 65534)
    r = subprocess.run([AGENT, "-s", os.path.join(shared, "a.sock")], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and "must be a directory owned by root" in r.stderr, r.stderr
    agent = Agent("/tmp")  # root-owned and sticky
    try:
        assert agent.sock.startswith("/tmp/") and agent.status()["pid"] == agent.proc.pid
    finally:
        agent.stop()
        os.unlink(agent.log_path)
    r = subprocess.run([CLI, "-s", os.path.join(s.tmp, "absent.sock"), "status"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "is nhiscope-agent running?" in r.stderr, r.stderr
    r = subprocess.run([CLI, "tail", "--kind", "bogus"], capture_output=True, text=True)
    assert r.returncode == 2 and '"bogus"' in r.stderr, r.stderr


if __name__ == "__main__":
    sys.exit(suite.run(sys.argv))
