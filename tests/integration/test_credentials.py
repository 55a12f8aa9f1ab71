# SPDX-License-Identifier: Apache-2.0
"""Service-account identity and credential use, with the real agent and real
probes: pods fabricated with a kubepods cgroup and a mount namespace holding a
token minted here; findings checked through `nhiscope tail -o json`."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nhtest import (CLI, TOKEN_PATH, WORKLOAD, Agent, Alive, SaPod, Suite, Tail,  # noqa: E402
                    run_alive, running, sa_token, wait_until)

suite = Suite("credentials")


def is_exec(e, identity, path):
    """The exec of path under identity (a pod process first execs unshare
    and sh outside the pod, then joins it)."""
    return e["kind"] == "exec" and e["identity"] == identity and e["path"] == path


def cred_uses(tail, identity, kind):
    return tail.matching(lambda e: e["kind"] == "credential_use" and
                         e["identity"] == identity and e["credential_kind"] == kind)


@suite.test
def service_account_on_every_event(s):
    pod = SaPod("payments", "api", "api-7d4b9c8f6d-x2x9z")
    agent = Agent(s.tmp)
    with running(pod, agent):
        tail = Tail(agent, "--identity", pod.key)
        with running(tail):
            with socket.socket() as srv:
                srv.bind(("127.0.0.1", 0))
                srv.listen()
                port = srv.getsockname()[1]
                run_alive(pod, ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d; "
                                "exec %s open /etc/hostname" % (port, WORKLOAD)])
            pid = tail.wait_for(lambda e: is_exec(e, pod.key, WORKLOAD), what="exec")[0]["pid"]
            for kind in ("exec", "connect", "open"):
                ev = tail.wait_for(lambda e: e["kind"] == kind and e["pid"] == pid and
                                   e["identity"] == pod.key, what=kind)[0]
                ctx = ev["context"]
                assert ev["identity"] == pod.key, ev
                assert ctx["namespace"] == "payments" and ctx["service_account"] == "api", ctx
                assert ctx["pod"] == pod.pod_name and ctx["pod_uid"] == pod.uid, ctx
                assert ctx["container_id"] == pod.container_id, ctx
                assert ctx["node"] == "node-1", ctx
                assert ctx["workload_kind"] == "Deployment" and ctx["workload"] == "api", ctx
                tok = ctx["token"]
                assert tok["state"] == "ok" and "long_lived" not in tok, tok
                assert 0 <= tok["age_s"] < 120 and 3400 < tok["remaining_s"] <= 3600, tok
                assert tok["fingerprint"].startswith("*:hmac-sha256:"), tok
            st = agent.status()
            assert st["credentials"]["sa_tokens_read"] >= 1, st["credentials"]


@suite.test
def two_pods_with_different_service_accounts(s):
    a = SaPod("shop", "frontend", "frontend-0")
    b = SaPod("shop", "backend", "backend-5c9f7b8d4-kq2zr")
    agent = Agent(s.tmp)
    with running(a, b, agent):
        tail = Tail(agent, "--identity", "k8s:sa/shop/*")
        with running(tail):
            run_alive(a, ["/bin/true"])
            run_alive(b, ["/bin/true"])
            ea = tail.wait_for(lambda e: is_exec(e, a.key, "/bin/true"))[0]
            eb = tail.wait_for(lambda e: is_exec(e, b.key, "/bin/true"))[0]
            assert ea["identity"] == a.key and eb["identity"] == b.key, (ea, eb)
            assert ea["context"]["workload_kind"] == "StatefulSet", ea["context"]
            assert ea["context"]["workload"] == "frontend", ea["context"]
            assert eb["context"]["workload"] == "backend", eb["context"]


@suite.test
def legacy_token_is_long_lived(s):
    pod = SaPod("legacy", "robot", "robot", legacy=True)
    agent = Agent(s.tmp)
    with running(pod, agent):
        tail = Tail(agent, "--identity", pod.key)
        with running(tail):
            run_alive(pod, ["/bin/true"])
            ev = tail.wait_for(lambda e: is_exec(e, pod.key, "/bin/true"))[0]
            tok = ev["context"]["token"]
            assert tok["long_lived"] is True and tok["legacy"] is True, tok
            assert "remaining_s" not in tok and "expires_at" not in tok, tok


@suite.test
def missing_or_malformed_token_falls_back(s):
    none = SaPod("x", "y", "z")
    none.token = None
    bad = SaPod("x", "y", "z")
    bad.token = "not-a-jwt"
    # a well-formed token of another pod, planted: not believed
    other = SaPod("kube-system", "admin", "z")
    other.token = sa_token("kube-system", "admin", "z", str(uuid.uuid4()))
    agent = Agent(s.tmp)
    with running(none, bad, other, agent):
        tail = Tail(agent)
        with running(tail):
            run_alive(none, ["/bin/true"])
            run_alive(bad, ["/bin/true"])
            en = tail.wait_for(lambda e: is_exec(e, "k8s:pod/" + none.uid, "/bin/true"))[0]
            eb = tail.wait_for(lambda e: is_exec(e, "k8s:pod/" + bad.uid, "/bin/true"))[0]
            assert en["identity"] == "k8s:pod/" + none.uid, en
            assert en["context"]["token_state"] == "missing", en["context"]
            assert eb["identity"] == "k8s:pod/" + bad.uid, eb
            assert eb["context"]["token_state"] == "malformed", eb["context"]
            run_alive(other, ["/bin/true"])
            eo = tail.wait_for(lambda e: is_exec(e, "k8s:pod/" + other.uid, "/bin/true"))[0]
            assert eo["context"]["token_state"] == "malformed", eo["context"]
        log = agent.read_log()
        assert "pod %s: service-account token missing" % none.uid in log, log
        assert "pod %s: service-account token malformed" % bad.uid in log, log
        assert "token was issued for another pod" in log, log
        assert agent.proc.poll() is None


@suite.test
def token_rotation_is_picked_up(s):
    old_iat = int(time.time()) - 600
    pod = SaPod("ops", "rotator", "rotator-0", iat=old_iat)
    agent = Agent(s.tmp, "--token-recheck", "200")
    with running(pod, agent):
        tail = Tail(agent, "--identity", pod.key, "--kind", "exec")
        loop = pod.popen(["sh", "-c", "while :; do /bin/true; sleep 0.1; done"])
        try:
            tail.wait_for(lambda e: e["context"]["token"]["issued_at"] == old_iat,
                          what="exec under the first token")
            new_iat = old_iat + 300
            new = sa_token("ops", "rotator", "rotator-0", pod.uid, iat=new_iat)
            # The kubelet replaces the file atomically: write aside, rename.
            path = pod.token_file(loop.pid)
            with open(path + ".new", "w") as f:
                f.write(new)
            os.rename(path + ".new", path)
            ev = tail.wait_for(lambda e: e["context"]["token"]["issued_at"] == new_iat,
                               what="exec under the rotated token")[0]
            assert ev["identity"] == pod.key, ev
            assert agent.status()["credentials"]["sa_token_rotations"] >= 1
            assert "service-account token rotated" in agent.read_log()
        finally:
            loop.kill()
            loop.wait()
            tail.close()


@suite.test
def credential_use_token_file_and_metadata(s):
    home = os.path.join(s.tmp, "home-%s" % uuid.uuid4().hex[:6])
    os.makedirs(os.path.join(home, ".aws"))
    aws = os.path.join(home, ".aws", "credentials")
    with open(aws, "w") as f:
        f.write("[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n")
    with socket.socket() as md:
        # A loopback address stands in for 169.254.169.254.
        md.bind(("127.0.0.77", 0))
        md.listen()
        port = md.getsockname()[1]
        pod = SaPod("data", "etl", "etl-28391040-xk2lp")
        agent = Agent(s.tmp, "--metadata-endpoint", "127.0.0.77:%d" % port)
        with running(pod, agent):
            tail = Tail(agent, "--kind", "credential_use")
            with running(tail):
                run_alive(pod, ["bash", "-c", "cat %s >/dev/null; cat %s >/dev/null; "
                                "exec 3<>/dev/tcp/127.0.0.77/%d" % (TOKEN_PATH, aws, port)])
                def use(kind):
                    return tail.wait_for(lambda e: e["identity"] == pod.key and
                                         e["credential_kind"] == kind, what=kind)[0]
                tok, cred, meta = use("sa_token"), use("aws_credentials"), use("cloud_metadata")
                tail.sync(pod)  # anything else that was coming has come
                for e, name in ((tok, TOKEN_PATH), (cred, aws),
                                (meta, "127.0.0.77:%d" % port)):
                    assert e["credential"] == name, e
                    assert e["identity"] == pod.key, e
                    assert e["result"] >= 0 or e["error"] == "EINPROGRESS", e
                assert tok["exe"] == "/usr/bin/cat" and cred["exe"] == "/usr/bin/cat", tok
                assert meta["exe"] == "/usr/bin/bash", meta
                assert meta["context"]["workload_kind"] == "CronJob", meta["context"]
                for k in ("sa_token", "aws_credentials", "cloud_metadata"):
                    assert len(cred_uses(tail, pod.key, k)) == 1, (k, cred_uses(tail, pod.key, k))
            r = subprocess.run([CLI, "-s", agent.sock, "credentials", "-o", "json"],
                               capture_output=True, text=True, check=True)
            creds = {c["kind"]: c for c in json.loads(r.stdout)["credentials"]}
            for k in ("aws_credentials", "cloud_metadata"):
                assert creds[k]["identities"] == [pod.key], creds[k]
                assert creds[k]["uses"] == 1 and not creds[k]["reused"], creds[k]
            # the pod's own token is one credential, named by its fingerprint
            toks = [c for c in json.loads(r.stdout)["credentials"]
                    if c["id"].startswith("sa_token:")]
            assert len(toks) == 1 and toks[0]["identities"] == [pod.key], toks
            r = subprocess.run([CLI, "-s", agent.sock, "credentials"], capture_output=True,
                               text=True, check=True)
            assert aws in r.stdout and pod.key in r.stdout, r.stdout


@suite.test
def credential_reuse_across_identities(s):
    shared = os.path.join(s.tmp, "shared-%s.pgpass" % uuid.uuid4().hex[:6])
    with open(shared, "w") as f:
        f.write("db:5432:*:app:not-a-real-password\n")
    # .pgpass is matched by name: make the file one.
    d = os.path.join(s.tmp, "reuse-%s" % uuid.uuid4().hex[:6])
    os.makedirs(d)
    pgpass = os.path.join(d, ".pgpass")
    os.rename(shared, pgpass)
    pod = SaPod("billing", "worker", "worker-0")
    agent = Agent(s.tmp)
    with running(pod, agent):
        tail = Tail(agent, "--kind", "credential_reuse")
        with running(tail):
            # cat exits at once; the container's shell keeps its mounts alive
            with Alive(pod, ["cat", pgpass]):
                # the same file from outside the pod: a unit or user identity
                subprocess.run(["cat", pgpass], check=True, capture_output=True)
                ev = tail.wait_for(lambda e: e["credential"] == pgpass, what="reuse")[0]
            # a second file reused the same way: its finding is the marker
            # that comes after anything the first could still raise
            d2 = os.path.join(s.tmp, "reuse-%s" % uuid.uuid4().hex[:6])
            os.makedirs(d2)
            marker = os.path.join(d2, ".pgpass")
            open(marker, "w").close()
            with Alive(pod, ["cat", marker]):
                subprocess.run(["cat", marker], check=True, capture_output=True)
                tail.wait_for(lambda e: e["credential"] == marker, what="the marker's reuse")
            assert len(tail.matching(lambda e: e["credential"] == pgpass)) == 1, \
                tail.events  # once, not per use
            assert ev["credential_kind"] == "pgpass", ev
            assert pod.key in ev["identities"] and len(ev["identities"]) == 2, ev
            assert ev["identity"] != pod.key, ev
        r = subprocess.run([CLI, "-s", agent.sock, "credentials", "-o", "json"],
                           capture_output=True, text=True, check=True)
        c = [c for c in json.loads(r.stdout)["credentials"] if c["credential"] == pgpass]
        assert len(c) == 1 and c[0]["reused"] is True and c[0]["uses"] == 2, c


SECRETS = {
    "aws-access-key": "AKIAQ7XTRHZ5KW2MPL4N",
    "github-token": "ghp_" + "Zq8vR2mK7xT4nB9wL3cF6hJ1pS5dG0aYeU2i",
    "url-password": "Sup3rSecr3tDbPass",
    "named-value": "hunter2-but-longer",
}


@suite.test
def secrets_in_argv_give_findings_and_never_leak(s):
    pod = SaPod("ci", "builder", "builder-7f8c9d6b5-p4x8w")
    agent = Agent(s.tmp, "-v")  # debug logging on: the token must not reach it either
    outputs = []
    with running(pod, agent):
        tail = Tail(agent)
        with running(tail):
            argv = ["/bin/true", SECRETS["aws-access-key"], "--header", SECRETS["github-token"],
                    "postgres://app:%s@db:5432/x" % SECRETS["url-password"],
                    "--password=%s" % SECRETS["named-value"]]
            run_alive(pod, argv)
            # the same secrets again: known, so no second finding
            run_alive(pod, argv)
            wait_until(lambda: len(tail.matching(lambda e: is_exec(e, pod.key, "/bin/true")))
                       == 2, what="both execs in the pod")

            def in_pod():
                return [e for e in tail.poll()
                        if e["kind"] == "secret_exposure" and e["identity"] == pod.key]
            found = wait_until(lambda: len(in_pod()) >= 4, what="4 findings in the pod")
            tail.sync(pod)
            fs = in_pod()
            kinds = sorted(e["secret_kind"] for e in fs)
            assert kinds == sorted(SECRETS), kinds
            assert len({e["pid"] for e in fs}) == 1, fs  # none for the repeat
            for e in fs:
                assert ":hmac-sha256:" in e["fingerprint"] and "[REDACTED:" in e["argument"], e
                assert e["path"] in ("/usr/bin/sh", "/bin/true"), e  # first to carry them
            aws = [e for e in fs if e["secret_kind"] == "aws-access-key"][0]
            assert aws["fingerprint"].startswith("AKIA*:hmac-sha256:"), aws
            # a password shows no prefix: it would be part of the password
            for e in fs:
                if e["secret_kind"] in ("url-password", "named-value"):
                    assert e["fingerprint"].startswith("*:hmac-sha256:"), e
            assert found
            # the token is read for identity: exercise it as a credential too
            run_alive(pod, ["cat", TOKEN_PATH])
            tail.wait_for(lambda e: e["kind"] == "credential_use" and
                          e["credential_kind"] == "sa_token")
            outputs.append(tail.proc.stdout.read() or b"")
            outputs.append(json.dumps(tail.events).encode())
        outputs.append(json.dumps(agent.status()).encode())
        r = subprocess.run([CLI, "-s", agent.sock, "credentials", "-o", "json"],
                           capture_output=True, check=True)
        outputs.append(r.stdout)
        r = subprocess.run([CLI, "-s", agent.sock, "status"], capture_output=True, check=True)
        outputs.append(r.stdout)
    outputs.append(agent.read_log().encode())
    blob = b"\n".join(outputs)
    assert len(blob) > 1000, len(blob)
    for name, value in SECRETS.items():
        assert value.encode() not in blob, name
    header, payload, signature = pod.token.split(".")
    for part, what in ((pod.token, "token"), (payload, "token payload"),
                       (signature, "token signature")):
        assert part.encode() not in blob, what


@suite.test
def human_use_terminal_and_entered_namespace(s):
    pod = SaPod("web", "shop", "shop-6d8f7c9b5-h2k4m")
    agent = Agent(s.tmp)
    with running(pod, agent):
        tail = Tail(agent, "--identity", pod.key)
        init = pod.popen(["unshare", "--pid", "--fork", "sleep", "60"])
        try:
            # the container's init: pid 1 in its namespace, not a person
            sleeper = wait_until(lambda: tail.matching(
                lambda e: e["kind"] == "exec" and e["path"] == "/usr/bin/sleep"),
                what="init exec")[0]
            assert sleeper["ns_pid"] == 1 and not sleeper.get("entered_namespace"), sleeper
            # a plain process of the workload: no terminal, no finding
            plain, _ = pod.run(["/bin/true"])
            # kubectl exec: enter the container's pid namespace from outside
            entered = pod.popen(["nsenter", "-t", str(sleeper["pid"]), "-p", "--",
                                 "sh", "-c", "/bin/true; /bin/true"])
            entered.wait(timeout=30)
            # an interactive shell: a controlling terminal
            tty = pod.popen(["script", "-qec", "/bin/true", "/dev/null"],
                            stdout=subprocess.DEVNULL)
            tty.wait(timeout=30)
            hu = tail.wait_for(lambda e: e["kind"] == "human_use", what="human_use",
                               timeout=10)
            wait_until(lambda: len(tail.matching(lambda e: e["kind"] == "human_use")) >= 2,
                       what="two human_use findings")
            tail.sync(pod)
            hu = tail.matching(lambda e: e["kind"] == "human_use")
            reasons = sorted(e["reason"] for e in hu)
            assert reasons == ["entered_namespace", "terminal"], hu
            ent = [e for e in hu if e["reason"] == "entered_namespace"][0]
            assert ent["path"] == "/usr/bin/sh" and ent["entered_namespace"] is True, ent
            assert ent["identity"] == pod.key, ent
            term = [e for e in hu if e["reason"] == "terminal"][0]
            assert term["tty"] is True, term
            # the session's later processes are marked, not re-reported
            inner = tail.matching(lambda e: e["kind"] == "exec" and e["path"] == "/bin/true"
                                  and e.get("interactive"))
            assert len(inner) >= 2, inner
            assert not [e for e in hu if e["pid"] in (plain, sleeper["pid"])], hu
            pl = tail.matching(lambda e: e["kind"] == "exec" and e["pid"] == plain)[0]
            assert not pl.get("interactive") and not pl.get("tty"), pl
        finally:
            os.killpg(init.pid, signal.SIGKILL)  # unshare, its forked init and all
            init.wait()
            tail.close()


@suite.test
def api_server_endpoint_from_environment_and_flag(s):
    servers = []
    for addr in ("127.0.0.78", "127.0.0.79"):
        srv = socket.socket()
        srv.bind((addr, 0))
        srv.listen()
        servers.append(srv)
    env_port = servers[0].getsockname()[1]
    flag_port = servers[1].getsockname()[1]
    pod = SaPod("kube-system", "operator", "operator-0")
    # In a pod the agent finds the API server in its environment...
    a1 = Agent(s.tmp, env={"KUBERNETES_SERVICE_HOST": "127.0.0.78",
                           "KUBERNETES_SERVICE_PORT": str(env_port)})
    # ...and a flag names it anywhere else.
    a2 = Agent(s.tmp, "--apiserver", "127.0.0.79:%d" % flag_port)
    try:
        with running(pod):
            t1 = Tail(a1, "--kind", "credential_use")
            t2 = Tail(a2, "--kind", "credential_use")
            with running(t1, t2):
                run_alive(pod, ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.78/%d; "
                                "exec 4<>/dev/tcp/127.0.0.79/%d" % (env_port, flag_port)])
                e1 = t1.wait_for(lambda e: e["identity"] == pod.key and
                                 e["credential_kind"] == "kube_apiserver")[0]
                e2 = t2.wait_for(lambda e: e["identity"] == pod.key and
                                 e["credential_kind"] == "kube_apiserver")[0]
                assert e1["credential"] == "127.0.0.78:%d" % env_port, e1
                assert e2["credential"] == "127.0.0.79:%d" % flag_port, e2
                t1.sync(pod)
                t2.sync(pod)
                # each agent knows only its own API server
                assert len(t1.matching(lambda e: e["credential_kind"] == "kube_apiserver")) == 1
                assert len(t2.matching(lambda e: e["credential_kind"] == "kube_apiserver")) == 1
    finally:
        a1.stop()
        a2.stop()
        for srv in servers:
            srv.close()


def pod_list_server(body, token):
    """A one-file HTTP server on loopback serving a PodList to requests
    that carry the bearer token; counts the requests it answered."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        hits = []

        def do_GET(self):
            ok = (self.path == "/pods" and
                  self.headers.get("Authorization") == "Bearer " + token)
            Handler.hits.append(ok)
            data = body.encode() if ok else b"{}"
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, Handler.hits


@suite.test
def pod_records_from_the_kubelet(s):
    pod = SaPod("db", "postgres", "postgres-primary")
    token = "kubelet-reader-" + uuid.uuid4().hex
    token_file = os.path.join(s.tmp, "kubelet-token")
    with open(token_file, "w") as f:
        f.write(token)
    body = json.dumps({"kind": "PodList", "apiVersion": "v1", "items": [{
        "metadata": {"name": "postgres-primary", "namespace": "db", "uid": pod.uid,
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                                          "name": "postgres", "controller": True}]},
        "spec": {"serviceAccountName": "postgres", "nodeName": "node-1",
                 "containers": [{"name": "pg", "image": "postgres:16"}]},
        "status": {"containerStatuses": [{"name": "pg", "image": "postgres:16",
                                          "containerID": "containerd://" + pod.container_id}]},
    }]})
    srv, hits = pod_list_server(body, token)
    agent = Agent(s.tmp, "--kubelet-url", "http://127.0.0.1:%d/pods" % srv.server_port,
                  "--kubelet-token", token_file)
    try:
        with running(pod, agent):
            tail = Tail(agent, "--identity", pod.key)
            with running(tail):
                run_alive(pod, ["/bin/true"])
                ev = tail.wait_for(lambda e: is_exec(e, pod.key, "/bin/true"))[0]
                ctx = ev["context"]
                # the name alone says nothing; the kubelet's record does
                assert ctx["workload_kind"] == "StatefulSet", ctx
                assert ctx["workload"] == "postgres", ctx
            st = agent.status()["credentials"]
            assert st["pod_records"] == 1 and "pod_list_error" not in st, st
            assert hits and all(hits), hits
        assert token not in agent.read_log()
    finally:
        srv.shutdown()
        srv.server_close()


if __name__ == "__main__":
    sys.exit(suite.run(sys.argv))
