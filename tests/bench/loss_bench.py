#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Loss ceiling (issue 19), run by `make bench` (tests/bench/run).

A novelty storm (tests/helpers/nh_storm.c: PROCS processes opening paths
never opened before, one new dedup object and one event each) against a
real agent, at paced rates and unpaced, on a cold agent (started with an
empty profile directory for each rate) and a warm one (the same agent after
one unpaced storm). The flood budget is set above the storm's rate so the
ring buffer, not the budget, is what is measured. Per run: opens done
(nh_storm counts its own), events lost (the kernel's counters), and the
agent's CPU per event (utime + stime from /proc over the events received).

Writes $OUT/loss.tsv and, with --doc, the "Loss ceiling" section of
docs/performance.md.

With --base-agent (tests/bench/run passes BENCH_BASE_AGENT, the agent of
`make bench BENCH_BASE=<rev>`), every storm is run against that agent too,
alternating with this build's, so before and after share the machine's
load; the table says which agent each row is.

Knobs: BENCH_LOSS_RATES [100000 300000 0] (0: unpaced, per storm in all),
BENCH_LOSS_SEC [10], BENCH_LOSS_PROCS [2].
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import kafka_report  # noqa: E402
from nhtest import cgroup2_mount  # noqa: E402

HEADING = "## Loss ceiling: novelty storms, cold and warm (issue 19)"


def status(cli, sock):
    r = subprocess.run([cli, "-s", sock, "status", "-o", "json"], capture_output=True,
                       text=True)
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None


def cpu_ns(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1e9 / os.sysconf("SC_CLK_TCK")


class Agent:
    def __init__(self, build, agent, tmp, profile_dir, budget, scope):
        self.cli = os.path.join(build, "nhiscope")
        self.sock = os.path.join(tmp, "loss-%d.sock" % time.monotonic_ns())
        self.log = open(os.path.join(tmp, "agent.log"), "a")
        self.proc = subprocess.Popen(
            [agent, "-s", self.sock, "--profile-dir",
             profile_dir, "--flood-budget", str(budget), "--scope-cgroup", scope],
            stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 30
        while not status(self.cli, self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("loss_bench: the agent did not start (%s)" % tmp)
            time.sleep(0.05)

    def counters(self):
        st = status(self.cli, self.sock)
        k = st["kinds"]["open"]
        return k["emitted"], k["lost"], k["received"], st["floods"]["flooded"]

    def wait_drained(self, emitted):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.counters()[2] >= emitted:
                return
            time.sleep(0.1)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def storm(build, rate, secs, procs, d, cg):
    # In the agent's scope: the storm is all it traces, whatever else the
    # (shared) machine runs. -a: names relative to the storm directory, one
    # path component each, so the generator itself is cheap enough to reach
    # the rates asked of the agent on two vCPUs.
    argv = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cg,
            os.path.join(build, "tests", "nh_storm"), "-t", str(secs), "-p", str(procs), "-a"]
    if rate:
        argv += ["-r", str(rate / procs)]
    out = subprocess.run(argv + [d], capture_output=True, text=True, check=True).stdout
    kv = dict(x.split("=", 1) for x in out.split("\n")[1].split()[1:])
    return int(kv["opens"]), float(kv["seconds"])


def measure(agent, build, rate, secs, procs, d, cg):
    e0, l0, r0, f0 = agent.counters()
    c0 = cpu_ns(agent.proc.pid)
    opens, took = storm(build, rate, secs, procs, d, cg)
    e1, l1, _, f1 = agent.counters()
    agent.wait_drained(e1)
    e1, l1, r1, f1 = agent.counters()
    c1 = cpu_ns(agent.proc.pid)
    got = r1 - r0
    return {"opens": opens, "rate": opens / took, "emitted": e1 - e0, "lost": l1 - l0,
            "flooded": f1 - f0, "received": got,
            "cpu_ns_per_event": (c1 - c0) / got if got else 0.0,
            "events_per_cpu_s": got * 1e9 / (c1 - c0) if c1 > c0 else 0.0}


def run(a):
    tmp = tempfile.mkdtemp(prefix="nhiscope-loss-")
    rows = []
    scope = "nh-loss-%d" % os.getpid()
    cg = os.path.join(cgroup2_mount(), scope)
    os.mkdir(cg)
    try:
        d = os.path.join(tmp, "storm")
        os.mkdir(d)
        budget = 1 << 31  # above any storm: the ring is measured, not the budget
        agents = [("this", os.path.join(a.build, "nhiscope-agent"))]
        if a.base_agent:
            agents.insert(0, (a.base_name, a.base_agent))
        for rate in a.rates:
            for name, binary in agents:  # alternating: both under the same load
                pdir = tempfile.mkdtemp(dir=tmp)  # empty: a cold start
                agent = Agent(a.build, binary, tmp, pdir, budget, "/" + scope)
                try:
                    rows.append(dict(agent=name, state="cold", target=rate,
                                     **measure(agent, a.build, rate, a.secs, a.procs, d, cg)))
                finally:
                    agent.stop()
        for name, binary in agents:
            pdir = tempfile.mkdtemp(dir=tmp)
            agent = Agent(a.build, binary, tmp, pdir, budget, "/" + scope)
            try:
                measure(agent, a.build, 0, a.secs, a.procs, d, cg)  # the warm-up storm
                for rate in a.rates:
                    rows.append(dict(agent=name, state="warm", target=rate,
                                     **measure(agent, a.build, rate, a.secs, a.procs, d, cg)))
            finally:
                agent.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        os.rmdir(cg)
    return rows


def section(rows, a):
    L = [HEADING, "",
         "A novelty storm: %d processes of `tests/helpers/nh_storm.c` open paths never "
         "opened before (each a new dedup object and one event) for %g s, paced or "
         "unpaced, against one agent with the flood budget above the storm. *Cold*: an "
         "agent started with an empty profile directory for each rate; *warm*: one agent "
         "after an unpaced storm of its own. Lost: the kernel's ring-buffer reservation "
         "failures; CPU per event: the agent's utime + stime over the events it "
         "received, and its inverse, events per agent CPU-second (the agent's own cost, "
         "which the storm's reach on a busy machine does not hide). **The machine "
         "(2 vCPUs) was shared with other developers' test runs while this was "
         "measured**: read the numbers as an order of magnitude." %
         (a.procs, a.secs)]
    if a.base_agent:
        L.append("")
        L.append("Rows of agent *%s* are the base build's agent (`BENCH_BASE`), run "
                 "alternately with this build's (*this*) in the same run." % a.base_name)
    L += ["",
          "| agent | state | target rate | reached | opens | lost | lost % | "
          "agent CPU / event | events / agent CPU-s |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        L.append("| %s | %s | %s | %.0f/s | %d | %d | %.2f%% | %.0f ns | %.0f |" % (
            r["agent"], r["state"], "%d/s" % r["target"] if r["target"] else "unpaced",
            r["rate"], r["opens"], r["lost"],
            100.0 * r["lost"] / r["opens"] if r["opens"] else 0, r["cpu_ns_per_event"],
            r["events_per_cpu_s"]))
    L.append("")
    return L


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default="build/bench")
    ap.add_argument("--doc", default="")
    ap.add_argument("--base-agent", default=os.environ.get("BENCH_BASE_AGENT", ""))
    ap.add_argument("--base-name", default=os.environ.get("BENCH_BASE_NAME", "base"))
    a = ap.parse_args()
    a.rates = [int(x) for x in os.environ.get("BENCH_LOSS_RATES", "100000 300000 0").split()]
    a.secs = float(os.environ.get("BENCH_LOSS_SEC", "10"))
    a.procs = int(os.environ.get("BENCH_LOSS_PROCS", "2"))
    rows = run(a)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "loss.tsv"), "w") as f:
        keys = ["agent", "state", "target", "rate", "opens", "emitted", "received", "lost",
                "flooded", "cpu_ns_per_event", "events_per_cpu_s"]
        f.write("\t".join(keys) + "\n")
        for r in rows:
            f.write("\t".join(str(r[k]) for k in keys) + "\n")
    for line in section(rows, a):
        print(line)
    if a.doc:
        with open(a.doc) as f:
            text = kafka_report.splice(f.read(), section(rows, a), HEADING)
        with open(a.doc, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
