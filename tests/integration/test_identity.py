# SPDX-License-Identifier: Apache-2.0
"""Identity that a workload cannot forge (issue 14), with the real agent and
real probes: pods fabricated with a kubepods cgroup and a mount namespace
holding their own view of a token, a fake kubelet root on a tmpfs holding
the kubelet's copy, keys and tokens made here with python cryptography."""

import json
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nhtest import (Agent, KubeletRoot, Pod, SaPod, SigningKey, Suite, Tail,  # noqa: E402
                    cgroup2_mount, free_port, run_alive, running, sa_token, signed_sa_token,
                    token_claims, wait_until, write_jwks)

suite = Suite("identity")
FORGED = "k8s:sa/kube-system/clusterrole-aggregation-controller"


def in_pod(pod, kind=None, path=None):
    def pred(e):
        return (e.get("context", {}).get("pod_uid") == pod.uid and
                (kind is None or e["kind"] == kind) and
                (path is None or e.get("path") == path))
    return pred


def conflicts(tail, pod):
    return tail.matching(lambda e: e["kind"] == "identity_conflict" and
                         e.get("context", {}).get("pod_uid") == pod.uid)


# A pod process that waits for /run/go, runs /bin/true and stays (its
# shell a live member of the pod) until /run/done: the agent can look
# through it when /bin/true's event is read.
HELD = ["/bin/sh", "-c", "mkfifo /run/go /run/done && read x < /run/go && /bin/true && "
        "read y < /run/done"]


def release(p):
    done = "/proc/%d/root/run/done" % p.pid
    if p.poll() is None and os.path.exists(done):
        with open(done, "w") as f:
            f.write("done\n")
    p.wait(timeout=30)


def jwks(s, *keys):
    return write_jwks(os.path.join(s.tmp, "jwks-%s.json" % uuid.uuid4().hex[:8]), *keys)


@suite.test
def forged_own_view_loses_to_kubelet_copy(s):
    """The attack of the issue: the pod's own view holds a legacy-form token
    for a powerful service account with a made-up signature; the kubelet's
    copy (ES256, verified) wins, and the contradiction is one finding."""
    key = SigningKey("ES256")
    kubelet = KubeletRoot(s.tmp)
    pod = SaPod("shop", "cart", "cart-0")
    real = signed_sa_token(key, "shop", "cart", "cart-0", pod.uid)
    kubelet.put_token(pod.uid, real)
    pod.token = sa_token("kube-system", "clusterrole-aggregation-controller", "x", pod.uid,
                         legacy=True)
    agent = Agent(s.tmp, "--kubelet-root", kubelet.path, "--jwks-file",
                  jwks(s, key, SigningKey("RS256")), "--token-recheck", "0", "-v")
    with running(pod, agent, kubelet):
        tail = Tail(agent)
        with running(tail):
            run_alive(pod, ["/bin/true"])
            ev = tail.wait_for(in_pod(pod, "exec", "/bin/true"), what="exec")[0]
            assert ev["identity"] == pod.key, ev
            assert ev["identity_source"] == "kubelet-volume", ev
            assert ev["identity_verified"] is True, ev
            c = wait_until(lambda: conflicts(tail, pod), what="identity_conflict")[0]
            assert c["severity"] == "high", c
            assert c["claimed_identity"] == FORGED, c
            assert c["believed_identity"] == pod.key and c["identity"] == pod.key, c
            # Marker: a later process; still one finding, never the forged identity.
            run_alive(pod, ["/bin/echo", "marker"])
            tail.wait_for(in_pod(pod, "exec", "/bin/echo"), what="marker exec")
            assert len(conflicts(tail, pod)) == 1, conflicts(tail, pod)
            assert not tail.matching(lambda e: e["identity"] == FORGED)
            # Neither token nor signature leaves the agent.
            out = json.dumps(tail.poll()) + json.dumps(agent.status()) + agent.read_log()
            for secret in (real, real.split(".")[2], pod.token, pod.token.split(".")[2]):
                assert secret not in out
        assert "identity conflict" in agent.read_log()


@suite.test
def token_signed_by_unknown_key_is_not_believed(s):
    cluster, other = SigningKey("RS256"), SigningKey("RS256")
    good = SaPod("shop", "good", "good-0")
    good.token = signed_sa_token(cluster, "shop", "good", "good-0", good.uid)
    unknown = SaPod("shop", "unknown", "unknown-0")
    unknown.token = signed_sa_token(other, "shop", "unknown", "unknown-0", unknown.uid)
    # The cluster key's kid, another key's signature.
    stolen_kid = SaPod("shop", "kid", "kid-0")
    stolen_kid.token = other.sign(
        token_claims(sa_token("shop", "kid", "kid-0", stolen_kid.uid)),
        kid=cluster.kid)
    agent = Agent(s.tmp, "--jwks-file", jwks(s, cluster), "--kubelet-root", "")
    with running(good, unknown, stolen_kid, agent):
        tail = Tail(agent)
        with running(tail):
            for p in (good, unknown, stolen_kid):
                run_alive(p, ["/bin/true"])
            eg = tail.wait_for(in_pod(good, "exec", "/bin/true"))[0]
            assert eg["identity"] == good.key, eg
            assert eg["identity_source"] == "container-root", eg
            assert eg["identity_verified"] is True, eg
            for p in (unknown, stolen_kid):
                ev = tail.wait_for(in_pod(p, "exec", "/bin/true"))[0]
                assert ev["identity"] == "k8s:pod/" + p.uid, ev
                assert ev["identity_verified"] is False, ev
                assert ev["identity_source"] == "cgroup", ev
                assert ev["context"]["token_state"] == "rejected", ev["context"]
                assert not tail.matching(lambda e: e["identity"] == p.key)
            c = agent.status()["credentials"]
            assert c["sa_token_keys"] == 1, c
            assert c["sa_tokens_verified"] >= 1 and c["sa_tokens_rejected"] >= 2, c
        log = agent.read_log()
        assert "unknown kid" in log and "signature does not verify" in log, log


@suite.test
def required_verification_without_keys_believes_nothing(s):
    pod = SaPod("shop", "cart", "cart-0")
    agent = Agent(s.tmp, "--verify-tokens", "required", "--kubelet-root", "")
    with running(pod, agent):
        tail = Tail(agent)
        with running(tail):
            run_alive(pod, ["/bin/true"])
            ev = tail.wait_for(in_pod(pod, "exec", "/bin/true"))[0]
            assert ev["identity"] == "k8s:pod/" + pod.uid, ev
            assert ev["context"]["token_state"] == "rejected", ev["context"]
            assert ev["identity_verified"] is False, ev
        assert "verifyTokens: required" in agent.read_log()


@suite.test
def legacy_token_is_verified_like_any_other(s):
    cluster = SigningKey("RS256")
    forged = SaPod("kube-system", "clusterrole-aggregation-controller", "x", legacy=True)
    genuine = SaPod("legacy", "robot", "robot")
    genuine.token = signed_sa_token(cluster, "legacy", "robot", "robot", genuine.uid,
                                    legacy=True)
    agent = Agent(s.tmp, "--jwks-file", jwks(s, cluster), "--kubelet-root", "")
    with running(forged, genuine, agent):
        tail = Tail(agent)
        with running(tail):
            run_alive(forged, ["/bin/true"])
            run_alive(genuine, ["/bin/true"])
            ef = tail.wait_for(in_pod(forged, "exec", "/bin/true"))[0]
            assert ef["identity"] == "k8s:pod/" + forged.uid, ef
            assert ef["context"]["token_state"] == "rejected", ef["context"]
            eg = tail.wait_for(in_pod(genuine, "exec", "/bin/true"))[0]
            # Genuine, so believed; bound to no pod, so not verified as this pod's.
            assert eg["identity"] == genuine.key and eg["identity_verified"] is False, eg
            assert eg["context"]["token"]["legacy"] is True, eg["context"]


@suite.test
def service_account_change_during_life_is_a_conflict(s):
    pod = SaPod("shop", "cart", "cart-0")
    agent = Agent(s.tmp, "--kubelet-root", "", "--token-recheck", "0")
    with running(pod, agent):
        tail = Tail(agent)
        with running(tail):
            p = pod.popen(HELD)
            try:
                first = tail.wait_for(in_pod(pod, "exec", "/bin/sh"), what="first exec")[0]
                assert first["identity"] == pod.key, first
                assert first["identity_source"] == "container-root", first
                assert first["identity_verified"] is False, first  # no keys: unverified
                tok = pod.token_file(p.pid)
                with open(tok + ".new", "w") as f:
                    f.write(sa_token("kube-system", "admin", "cart-0", pod.uid))
                os.rename(tok + ".new", tok)
                fifo = "/proc/%d/root/run/go" % p.pid
                wait_until(lambda: os.path.exists(fifo), what="fifo")
                with open(fifo, "w") as f:
                    f.write("go\n")
                ev = tail.wait_for(in_pod(pod, "exec", "/bin/true"), what="exec")[0]
            finally:
                release(p)
            assert ev["identity"] == pod.key, ev
            c = wait_until(lambda: conflicts(tail, pod), what="identity_conflict")[0]
            assert c["claimed_identity"] == "k8s:sa/kube-system/admin", c
            assert c["believed_identity"] == pod.key, c
            assert c["reason"] == "service account changed during the pod's life", c
            assert not tail.matching(lambda e: e["identity"] == "k8s:sa/kube-system/admin")


@suite.test
def kubelet_copy_names_the_first_event(s):
    """The pod's own view has no token (not yet visible to its first
    processes): the kubelet's copy gives the identity from the first event,
    even for a process gone before its event is read."""
    key = SigningKey("RS256")
    kubelet = KubeletRoot(s.tmp)
    pod = SaPod("batch", "job", "job-28391040-xk2lp")
    kubelet.put_token(pod.uid, signed_sa_token(key, "batch", "job", pod.pod_name, pod.uid))
    pod.token = None
    agent = Agent(s.tmp, "--kubelet-root", kubelet.path, "--jwks-file", jwks(s, key))
    with running(pod, agent, kubelet):
        tail = Tail(agent)
        with running(tail):
            pod.run(["/bin/sh", "-c", "/bin/true"])
            tail.wait_for(in_pod(pod, "exec", "/bin/true"), what="exec")
            evs = tail.matching(in_pod(pod))
            assert any(e["kind"] == "exec" and e["path"] == "/bin/sh" for e in evs), evs
            for e in evs:
                assert e["identity"] == pod.key, e
                assert e["identity_source"] == "kubelet-volume", e
                assert e["identity_verified"] is True, e
        assert "token missing" not in agent.read_log()


@suite.test
def token_appearing_later_is_picked_up(s):
    """No kubelet copy: the pod's own view is the fallback, and its absence
    at the first event is not cached (even with rotation checks hourly)."""
    kubelet = KubeletRoot(s.tmp)  # empty: no copy for this pod
    pod = SaPod("batch", "cron", "cron-28391040-xk2lp")
    token, pod.token = pod.token, None
    agent = Agent(s.tmp, "--kubelet-root", kubelet.path, "--token-recheck", "1h")
    with running(pod, agent, kubelet):
        tail = Tail(agent)
        with running(tail):
            p = pod.popen(HELD)
            try:
                first = tail.wait_for(in_pod(pod, "exec", "/bin/sh"), what="first exec")[0]
                assert first["identity"] == "k8s:pod/" + pod.uid, first
                tok = pod.token_file(p.pid)
                with open(tok + ".new", "w") as f:
                    f.write(token)
                os.rename(tok + ".new", tok)
                fifo = "/proc/%d/root/run/go" % p.pid
                wait_until(lambda: os.path.exists(fifo), what="fifo")
                with open(fifo, "w") as f:
                    f.write("go\n")
                ev = tail.wait_for(in_pod(pod, "exec", "/bin/true"), what="exec")[0]
            finally:
                release(p)
            assert ev["identity"] == pod.key, ev
            assert ev["identity_source"] == "container-root", ev


@suite.test
def fake_pod_nested_in_a_container(s):
    """A rootful container with a writable cgroupfs makes a kubepods tree
    for a victim pod inside itself: it stays that container."""
    top = "nhtest-%s" % uuid.uuid4().hex[:8]
    cid = uuid.uuid4().hex + uuid.uuid4().hex
    nested = Pod(under="%s/docker-%s.scope" % (top, cid))
    nested.token = sa_token("kube-system", "admin", "victim-0", nested.uid)
    agent = Agent(s.tmp)
    try:
        with running(nested, agent):
            tail = Tail(agent)
            with running(tail):
                run_alive(nested, ["/bin/true"])
                ev = tail.wait_for(lambda e: e["kind"] == "exec" and e["path"] == "/bin/true"
                                   and e.get("context", {}).get("cgroup") == nested.cgroup_path,
                                   what="exec")[0]
                assert ev["identity"] == "container:" + cid[:12], ev
                assert ev["identity_source"] == "cgroup", ev
                assert "pod_uid" not in ev["context"], ev["context"]
                mine = tail.matching(lambda e: e.get("context", {}).get("cgroup", "")
                                     .startswith("/" + top + "/"))
                assert mine and all(e["identity"] == "container:" + cid[:12] for e in mine), mine
    finally:
        os.rmdir(os.path.join(cgroup2_mount(), top))


@suite.test
def fake_unit_nested_in_a_delegated_unit(s):
    """A Delegate=yes unit names a child cgroup sshd.service: its processes
    are still the delegated unit's."""
    r = uuid.uuid4().hex[:8]
    mount = cgroup2_mount()
    slice_dir = os.path.join(mount, "nhtest-%s.slice" % r)
    unit = "app-%s.service" % r
    child = os.path.join(slice_dir, unit, "sshd.service")
    os.makedirs(child)
    agent = Agent(s.tmp)
    try:
        with running(agent):
            tail = Tail(agent, "--kind", "exec")
            with running(tail):
                import subprocess
                subprocess.run(["sh", "-c", 'echo $$ > "$1/cgroup.procs" && exec /bin/true',
                                "sh", child], check=True)
                ev = tail.wait_for(lambda e: e["path"] == "/bin/true" and
                                   e.get("context", {}).get("cgroup") ==
                                   child[len(mount):], what="exec")[0]
                assert ev["identity"] == "unit:" + unit, ev
                assert ev["identity_source"] == "cgroup", ev
    finally:
        for d in (child, os.path.dirname(child), slice_dir):
            try:
                os.rmdir(d)
            except OSError:
                pass


@suite.test
def conflict_and_identity_source_reach_the_siem(s):
    """agent -> Kafka (mock cluster) -> collector: the identity_conflict
    finding with both claims, and how the identity is known, in ECS and CEF."""
    from test_collector import Collector, Rsyslog, ecs_lines
    from test_kafka import Mock, kafka_agent

    key = SigningKey("RS256")
    kubelet = KubeletRoot(s.tmp)
    pod = SaPod("shop", "cart", "cart-0")
    kubelet.put_token(pod.uid, signed_sa_token(key, "shop", "cart", "cart-0", pod.uid))
    pod.token = sa_token("kube-system", "clusterrole-aggregation-controller", "x", pod.uid,
                         legacy=True)
    mock = Mock()
    rs = Rsyslog(s.tmp)
    ecs = os.path.join(s.tmp, "ecs-%s.jsonl" % uuid.uuid4().hex[:6])
    col = Collector(s.tmp, mock, "--topic", "nhiscope.anomalies", "--ecs-file", ecs,
                    "--syslog", rs.address, "--syslog-format", "cef")
    spool = os.path.join(s.tmp, "spool-" + uuid.uuid4().hex[:6])
    agent = kafka_agent(s, mock, spool, "--kubelet-root", kubelet.path,
                        "--jwks-file", jwks(s, key))
    try:
        run_alive(pod, ["/bin/true"])

        def conflict_docs():
            return [d for d in ecs_lines(ecs)
                    if d.get("nhiscope", {}).get("finding", {}).get("type") ==
                    "identity_conflict" and d["nhiscope"]["identity"]["key"] == pod.key]
        doc = wait_until(conflict_docs, timeout=30, what="identity_conflict in ECS")[0]
        f, ident = doc["nhiscope"]["finding"], doc["nhiscope"]["identity"]
        assert f["claimed_identity"] == FORGED and f["believed_identity"] == pod.key, doc
        assert ident["source"] == "kubelet-volume" and ident["verified"] is True, doc
        assert doc["event"]["kind"] == "alert" and doc["event"]["severity"] >= 73, doc
        cef = wait_until(lambda: [l for l in rs.lines() if "|finding:identity_conflict|" in l],
                         timeout=30, what="identity_conflict in CEF")[0]
        assert "flexString2Label=identitySource flexString2=kubelet-volume" in cef, cef
        assert "cn1Label=identityVerified cn1=1" in cef, cef
        assert "|8|" in cef, cef  # high, as the ECS severity 73
        assert "cs5Label=claimedIdentity cs5=" + FORGED in cef, cef
        assert "cs6Label=believedIdentity cs6=" + pod.key in cef, cef
    finally:
        agent.stop()
        col.stop()
        rs.stop()
        pod.remove()
        kubelet.remove()
        mock.stop()


class JwksServer:
    """The API server's /openid/v1/jwks on 127.0.0.1, counting fetches."""

    def __init__(self, *keys, port=0):
        import http.server
        import threading
        self.keys, self.fetches = list(keys), 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/openid/v1/jwks":
                    self.send_error(404)
                    return
                outer.fetches += 1
                body = json.dumps({"keys": [k.jwk() for k in outer.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/jwk-set+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = "http://127.0.0.1:%d/openid/v1/jwks" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@suite.test
def keys_from_the_api_server_refreshed_on_unknown_kid(s):
    k1, k2, k3 = SigningKey("RS256"), SigningKey("ES256"), SigningKey("RS256")
    server = JwksServer(k1)
    a = SaPod("shop", "a", "a-0")
    a.token = signed_sa_token(k1, "shop", "a", "a-0", a.uid)
    b = SaPod("shop", "b", "b-0")
    b.token = signed_sa_token(k2, "shop", "b", "b-0", b.uid)
    c = SaPod("shop", "c", "c-0")
    c.token = signed_sa_token(k3, "shop", "c", "c-0", c.uid)
    agent = Agent(s.tmp, "--jwks-url", server.url, "--kubelet-root", "")
    with running(a, b, c, agent, server):
        wait_until(lambda: "service-account keys: 1 from " + server.url in agent.read_log(),
                   what="the key set fetched")
        tail = Tail(agent)
        with running(tail):
            run_alive(a, ["/bin/true"])
            ea = tail.wait_for(in_pod(a, "exec", "/bin/true"))[0]
            assert ea["identity"] == a.key and ea["identity_verified"] is True, ea
            # The cluster rotates its keys: b's kid is unknown to the cached set.
            server.keys.append(k2)
            p = b.popen(HELD)
            try:
                first = tail.wait_for(in_pod(b, "exec", "/bin/sh"), what="b's first exec")[0]
                assert first["identity"] == "k8s:pod/" + b.uid, first
                wait_until(lambda: "service-account keys: 2 from" in agent.read_log(),
                           what="the key set fetched again")
                fifo = "/proc/%d/root/run/go" % p.pid
                wait_until(lambda: os.path.exists(fifo), what="fifo")
                with open(fifo, "w") as f:
                    f.write("go\n")
                eb = tail.wait_for(in_pod(b, "exec", "/bin/true"), what="b's exec")[0]
            finally:
                release(p)
            assert eb["identity"] == b.key and eb["identity_verified"] is True, eb
            run_alive(c, ["/bin/true"])
            ec = tail.wait_for(in_pod(c, "exec", "/bin/true"))[0]
            assert ec["identity"] == "k8s:pod/" + c.uid, ec
            assert ec["context"]["token_state"] == "rejected", ec
        assert server.fetches >= 2, server.fetches


@suite.test
def pod_record_names_a_pod_without_token(s):
    """Automount disabled: the kubelet's pod record names the service account
    (identity_source pod-record); a pod whose token is there but not believed
    is not lent the record's name."""
    from test_credentials import pod_list_server

    notoken = SaPod("batch", "runner", "runner-0")
    notoken.token = None
    forged = SaPod("batch", "other", "other-0")
    forged.token = signed_sa_token(SigningKey("RS256"), "batch", "other", "other-0", forged.uid)
    items = [{"metadata": {"name": p.pod_name, "namespace": "batch", "uid": p.uid},
              "spec": {"serviceAccountName": p.sa, "nodeName": "node-1",
                       "containers": [{"name": "c", "image": "busybox"}]}}
             for p in (notoken, forged)]
    token = "kubelet-reader-" + uuid.uuid4().hex
    token_file = os.path.join(s.tmp, "kubelet-token-" + uuid.uuid4().hex[:6])
    with open(token_file, "w") as f:
        f.write(token)
    srv, hits = pod_list_server(json.dumps({"kind": "PodList", "apiVersion": "v1",
                                            "items": items}), token)
    agent = Agent(s.tmp, "--kubelet-url", "http://127.0.0.1:%d/pods" % srv.server_port,
                  "--kubelet-token", token_file, "--kubelet-root", "",
                  "--jwks-file", jwks(s, SigningKey("ES256")))
    try:
        with running(notoken, forged, agent):
            tail = Tail(agent)
            with running(tail):
                run_alive(notoken, ["/bin/true"])
                run_alive(forged, ["/bin/true"])
                en = tail.wait_for(in_pod(notoken, "exec", "/bin/true"))[0]
                assert en["identity"] == notoken.key, en
                assert en["identity_source"] == "pod-record", en
                assert en["identity_verified"] is False, en
                ef = tail.wait_for(in_pod(forged, "exec", "/bin/true"))[0]
                assert ef["identity"] == "k8s:pod/" + forged.uid, ef
                assert ef["context"]["token_state"] == "rejected", ef
    finally:
        srv.shutdown()


@suite.test
def verification_off_believes_claims_as_read(s):
    cluster = SigningKey("RS256")
    pod = SaPod("shop", "cart", "cart-0")
    pod.token = signed_sa_token(SigningKey("RS256"), "shop", "cart", "cart-0", pod.uid)
    agent = Agent(s.tmp, "--verify-tokens", "off", "--jwks-file", jwks(s, cluster),
                  "--kubelet-root", "")
    with running(pod, agent):
        tail = Tail(agent)
        with running(tail):
            run_alive(pod, ["/bin/true"])
            ev = tail.wait_for(in_pod(pod, "exec", "/bin/true"))[0]
            assert ev["identity"] == pod.key, ev
            assert ev["identity_source"] == "container-root", ev
            assert ev["identity_verified"] is False, ev


@suite.test
def issuer_and_audience_where_configured(s):
    """One pod, two agents: the token's issuer and audience are the ones the
    first expects, not the audience the second requires."""
    cluster = SigningKey("ES256")
    pod = SaPod("shop", "cart", "cart-0")
    pod.token = signed_sa_token(cluster, "shop", "cart", "cart-0", pod.uid)
    keys = jwks(s, cluster)
    iss = "https://kubernetes.default.svc.cluster.local"
    good = Agent(s.tmp, "--jwks-file", keys, "--kubelet-root", "", "--token-issuer", iss,
                 "--token-audience", iss)
    picky = Agent(s.tmp, "--jwks-file", keys, "--kubelet-root", "",
                  "--token-audience", "vault")
    other_iss = Agent(s.tmp, "--jwks-file", keys, "--kubelet-root", "",
                      "--token-issuer", "https://oidc.example")
    with running(pod, good, picky, other_iss):
        tails = [Tail(a) for a in (good, picky, other_iss)]
        with running(*tails):
            run_alive(pod, ["/bin/true"])
            eg, ep, eo = [t.wait_for(in_pod(pod, "exec", "/bin/true"))[0] for t in tails]
            assert eg["identity"] == pod.key and eg["identity_verified"] is True, eg
            for e in (ep, eo):
                assert e["identity"] == "k8s:pod/" + pod.uid, e
                assert e["context"]["token_state"] == "rejected", e
        assert "audience does not include" in picky.read_log()
        assert "issuer is not the configured one" in other_iss.read_log()


@suite.test
def conflicts_per_pod_are_bounded(s):
    """A pod cycling its own view through service accounts: one finding per
    claim, at most four, and never another identity."""
    pod = SaPod("shop", "cart", "cart-0")
    agent = Agent(s.tmp, "--kubelet-root", "", "--token-recheck", "0")
    names = ["n%d" % i for i in range(6)]
    # One fifo per step, each opened once.
    script = "mkfifo %s && " % " ".join("/run/go%d" % i for i in range(len(names))) + \
        " && ".join("read x < /run/go%d && /bin/true %s" % (i, n)
                    for i, n in enumerate(names)) + " && /bin/echo done"
    with running(pod, agent):
        tail = Tail(agent)
        with running(tail):
            p = pod.popen(["/bin/sh", "-c", script])
            try:
                tail.wait_for(in_pod(pod, "exec", "/bin/sh"), what="first exec")
                tok = pod.token_file(p.pid)
                for i, n in enumerate(names):
                    fifo = "/proc/%d/root/run/go%d" % (p.pid, i)
                    wait_until(lambda: os.path.exists(fifo), what="fifo")
                    with open(tok + ".new", "w") as f:
                        f.write(sa_token("shop", n, "cart-0", pod.uid))
                    os.rename(tok + ".new", tok)
                    with open(fifo, "w") as f:
                        f.write("go\n")
                    tail.wait_for(lambda e: in_pod(pod, "exec", "/bin/true")(e) and
                                  e["args"][1:] == [n], what="exec of step " + n)
                # Marker: the last exec, after every change was seen.
                tail.wait_for(in_pod(pod, "exec", "/bin/echo"), what="marker")
            finally:
                p.wait(timeout=30)
            claims = [c["claimed_identity"] for c in conflicts(tail, pod)]
            assert claims == ["k8s:sa/shop/" + n for n in names[:4]], claims
            execs = tail.matching(in_pod(pod, "exec"))
            assert len(execs) >= 8 and all(e["identity"] == pod.key for e in execs), execs


@suite.test
def required_keys_unreachable_then_back(s):
    """verifyTokens: required and the API server's key set unreachable: no
    pod is believed, the failure is logged once; when the keys can be
    fetched, the pod's next event has its verified identity."""
    key = SigningKey("RS256")
    port = free_port()
    url = "http://127.0.0.1:%d/openid/v1/jwks" % port
    pod = SaPod("shop", "cart", "cart-0")
    pod.token = signed_sa_token(key, "shop", "cart", "cart-0", pod.uid)
    agent = Agent(s.tmp, "--jwks-url", url, "--verify-tokens", "required", "--kubelet-root", "")
    server = None
    with running(pod, agent):
        tail = Tail(agent)
        with running(tail):
            p = pod.popen(HELD)
            try:
                first = tail.wait_for(in_pod(pod, "exec", "/bin/sh"), what="first exec")[0]
                assert first["identity"] == "k8s:pod/" + pod.uid, first
                assert first["context"]["token_state"] == "rejected", first
                wait_until(lambda: "service-account keys: " + url in agent.read_log(),
                           what="the failed fetch logged")
                server = JwksServer(key, port=port)
                wait_until(lambda: "(recovered)" in agent.read_log(), timeout=60,
                           what="the key set fetched")
                fifo = "/proc/%d/root/run/go" % p.pid
                wait_until(lambda: os.path.exists(fifo), what="fifo")
                with open(fifo, "w") as f:
                    f.write("go\n")
                ev = tail.wait_for(in_pod(pod, "exec", "/bin/true"), what="exec")[0]
            finally:
                release(p)
                if server:
                    server.stop()
            assert ev["identity"] == pod.key and ev["identity_verified"] is True, ev
        log = agent.read_log()
        assert log.count("service-account keys: " + url) == 1, log


@suite.test
def kubelet_copy_changing_service_account_is_a_conflict(s):
    """Even the kubelet's copy may not change a pod's service account
    during its life: the new claim is a conflict, the first one stays."""
    key = SigningKey("ES256")
    kubelet = KubeletRoot(s.tmp)
    pod = SaPod("shop", "cart", "cart-0")
    kubelet.put_token(pod.uid, signed_sa_token(key, "shop", "cart", "cart-0", pod.uid))
    pod.token = None
    agent = Agent(s.tmp, "--kubelet-root", kubelet.path, "--jwks-file", jwks(s, key),
                  "--token-recheck", "0")
    with running(pod, agent, kubelet):
        tail = Tail(agent)
        with running(tail):
            p = pod.popen(HELD)
            try:
                first = tail.wait_for(in_pod(pod, "exec", "/bin/sh"), what="first exec")[0]
                assert first["identity"] == pod.key, first
                # The atomic writer swaps ..data to a token for another account.
                kubelet.put_token(pod.uid, signed_sa_token(key, "kube-system", "admin",
                                                           "cart-0", pod.uid))
                fifo = "/proc/%d/root/run/go" % p.pid
                wait_until(lambda: os.path.exists(fifo), what="fifo")
                with open(fifo, "w") as f:
                    f.write("go\n")
                ev = tail.wait_for(in_pod(pod, "exec", "/bin/true"), what="exec")[0]
            finally:
                release(p)
            assert ev["identity"] == pod.key and ev["identity_source"] == "kubelet-volume", ev
            c = wait_until(lambda: conflicts(tail, pod), what="identity_conflict")[0]
            assert c["claimed_identity"] == "k8s:sa/kube-system/admin", c
            assert c["believed_identity"] == pod.key, c
            assert c["reason"] == "service account changed during the pod's life", c


if __name__ == "__main__":
    sys.exit(suite.run(sys.argv))
