# SPDX-License-Identifier: Apache-2.0
"""Fixtures for nhiscope integration tests: a real agent, real tail
subscribers and fabricated pods (a kubepods cgroup plus a private mount
namespace holding a projected service-account token). Standard library
only, so the suite runs on a fresh Debian machine."""

import base64
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
AGENT = os.path.join(BUILD, "nhiscope-agent")
CLI = os.path.join(BUILD, "nhiscope")
WORKLOAD = os.path.join(BUILD, "tests", "nh_workload")


def cgroup2_mount():
    """The cgroup v2 mount point, read from mountinfo (never assumed)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    raise RuntimeError("no cgroup2 mount")


def free_port(host="127.0.0.1"):
    """A port nothing listens on now (IPv6 when host has a colon)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


class Agent:
    """nhiscope-agent on a private socket; stopped with SIGTERM."""

    started = []  # every agent a test started, for the suite's safety net

    def __init__(self, tmp, *args, env=None, wrap=()):
        self.sock = os.path.join(tmp, "agent-%s.sock" % uuid.uuid4().hex[:8])
        self.log_path = os.path.join(tmp, "agent-%s.log" % uuid.uuid4().hex[:8])
        self.log = open(self.log_path, "w")
        if "--profile-dir" not in args:
            args = (*args, "--profile-dir", "")  # tests keep no snapshots unless asked
        self.proc = subprocess.Popen([*wrap, AGENT, "-s", self.sock, *args],
                                     stdout=subprocess.DEVNULL, stderr=self.log,
                                     env=dict(os.environ, **(env or {})))
        Agent.started.append(self)
        wait_until(lambda: self.proc.poll() is not None or self.status_or_none(),
                   timeout=30, what="agent to attach")
        if self.proc.poll() is not None:
            raise AssertionError("agent exited %d: %s" % (self.proc.returncode, self.read_log()))

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def status_or_none(self):
        r = subprocess.run([CLI, "-s", self.sock, "status", "-o", "json"],
                           capture_output=True, text=True)
        return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None

    def status(self):
        st = self.status_or_none()
        assert st is not None, "no status from agent"
        return st

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class Tail:
    """`nhiscope tail -o json` with filters, collecting events."""

    def __init__(self, agent, *filters):
        self.agent = agent
        self.filters = filters
        self.proc = subprocess.Popen([CLI, "-s", agent.sock, "tail", "-o", "json", *filters],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buf = b""
        self.events = []
        # The subscriber is registered once the agent counts it.
        wait_until(lambda: agent.status()["subscribers"] >= 1, what="tail to subscribe")

    def poll(self):
        while True:
            try:
                chunk = self.proc.stdout.read()
            except BlockingIOError:
                chunk = None
            if not chunk:
                break
            self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            if line.strip():
                self.events.append(json.loads(line))
        return self.events

    def wait_for(self, pred, timeout=10.0, what="event"):
        def found():
            return [e for e in self.poll() if pred(e)]
        return wait_until(found, timeout=timeout, what=what)

    def matching(self, pred):
        return [e for e in self.poll() if pred(e)]

    def sync(self, pod, binary="/bin/true", timeout=30.0):
        """Prove this tail has caught up with everything `pod` did before
        the call, before asserting that something did *not* happen: the
        pod makes a marker event that passes this tail's filters (an exec
        of `binary` with a unique argument, an open of a unique file, or a
        read of a unique `.pgpass` for a credential_use tail), and the
        marker must arrive after all of it (one ring buffer, consumed in
        reservation order; one agent loop; one ordered stream per
        subscriber). A marker lost to a full ring buffer is made again.
        Returns the marker event."""
        kinds = []
        for i, f in enumerate(self.filters[:-1]):
            if f == "--kind":
                kinds = self.filters[i + 1].split(",")
            assert f != "--pid", "a --pid tail cannot be synced by a new process"
        for kind in ("exec", "open", "credential_use"):
            if not kinds or kind in kinds:
                break
        else:
            raise AssertionError("no marker passes --kind %s" % ",".join(kinds))
        deadline = time.monotonic() + timeout
        while True:
            tag = "nh-marker-" + uuid.uuid4().hex
            if kind == "exec":
                pod.run([binary, tag])
                mine = lambda e: e["kind"] == "exec" and tag in e.get("args", [])  # noqa: E731
            else:
                d = os.path.join(tempfile.gettempdir(), tag)
                os.mkdir(d)
                path = os.path.join(d, ".pgpass" if kind == "credential_use" else "marker")
                open(path, "w").close()
                try:
                    pod.run([WORKLOAD, "open", path])
                finally:
                    shutil.rmtree(d)
                mine = lambda e: e["kind"] == kind and (  # noqa: E731
                    e.get("path") == path or e.get("credential") == path)
            try:
                return wait_until(lambda: self.matching(mine), timeout=min(
                    5.0, max(0.1, deadline - time.monotonic())), what="marker")[0]
            except AssertionError:
                if time.monotonic() > deadline:
                    raise AssertionError("timed out after %.1fs: no marker from pod %s reached "
                                         "the tail %s" % (timeout, pod.uid, self.filters))

    def flush_sync(self, pod, timeout=30.0):
        """Prove the agent closed a dedup window at least one window after
        this call and that everything up to it reached this tail: the pod
        opens a fresh file twice, and the repeat's summary can only come
        from a flush run once that file's window had closed. For tails
        that pass open and summary."""
        path = os.path.join(tempfile.gettempdir(), "nh-flush-" + uuid.uuid4().hex)
        open(path, "w").close()
        try:
            pod.run([WORKLOAD, "open-loop", path, "2"])
        finally:
            os.unlink(path)
        self.wait_for(lambda e: e["kind"] == "summary" and e.get("object") == path,
                      timeout=timeout, what="the flush witness's summary")
        return self.sync(pod, timeout=timeout)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Pod:
    """A fabricated Kubernetes pod: a kubepods cgroup (systemd driver,
    burstable QoS, containerd scope) and, per process, a private mount
    namespace with a projected token under /run/secrets."""

    def __init__(self, token="header.payload.signature", under=""):
        """under: a directory below the cgroup2 mount to build the pod in
        (created, and removed with the pod)."""
        self.uid = str(uuid.uuid4())
        self.container_id = uuid.uuid4().hex + uuid.uuid4().hex
        self.token = token
        mount = cgroup2_mount()
        base = os.path.join(mount, under) if under else mount
        self.under = base if under else None
        self.slices = [
            os.path.join(base, "kubepods.slice"),
            os.path.join(base, "kubepods.slice", "kubepods-burstable.slice"),
        ]
        pod_slice = "kubepods-burstable-pod%s.slice" % self.uid.replace("-", "_")
        self.pod_dir = os.path.join(self.slices[-1], pod_slice)
        self.dir = os.path.join(self.pod_dir, "cri-containerd-%s.scope" % self.container_id)
        os.makedirs(self.dir)
        self.cgroup_path = self.dir[len(mount):]

    def popen(self, argv, **kw):
        """Start argv inside the pod: private mounts, token (none when the
        pod's token is None, as with automount disabled), cgroup. A new
        session: no controlling terminal, as in a real container."""
        script = (
            'mount -t tmpfs -o mode=0755 tmpfs /run && '
            'mkdir -p /run/secrets/kubernetes.io/serviceaccount && '
            '{ [ -n "$NH_NO_TOKEN" ] || '
            'printf %s "$NH_TOKEN" > /run/secrets/kubernetes.io/serviceaccount/token; } && '
            'echo $$ > "$NH_PROCS" && exec "$@"')
        env = dict(os.environ, NH_TOKEN=self.token or "", NH_NO_TOKEN="" if self.token else "1",
                   NH_PROCS=os.path.join(self.dir, "cgroup.procs"))
        kw.setdefault("start_new_session", True)
        return subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                 script, "sh", *argv], env=env, **kw)

    def token_file(self, pid):
        """The token file as seen from outside, through a pod process."""
        return "/proc/%d/root/run/secrets/kubernetes.io/serviceaccount/token" % pid

    def run(self, argv, timeout=60):
        p = self.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, "%s exited %d: %s" % (argv, p.returncode, err)
        return p.pid, out

    def remove(self):
        for d in [self.dir, self.pod_dir] + self.slices[::-1] + [self.under]:
            if d is None:
                continue
            try:
                os.rmdir(d)
            except OSError:
                pass  # shared parents stay while another pod uses them


TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_jwt(claims):
    """A JWT with these payload claims; the signature is random bytes:
    nhiscope decodes claims only and never checks it."""
    header = b64url(json.dumps({"alg": "RS256", "kid": "test"}).encode())
    payload = b64url(json.dumps(claims).encode())
    return "%s.%s.%s" % (header, payload, b64url(os.urandom(64)))


def sa_token(namespace, name, pod, pod_uid, iat=None, lifetime=3600, legacy=False):
    """A projected (bound) service-account token, or a legacy one."""
    now = int(time.time()) if iat is None else iat
    if legacy:
        return mint_jwt({
            "iss": "kubernetes/serviceaccount",
            "sub": "system:serviceaccount:%s:%s" % (namespace, name),
            "kubernetes.io/serviceaccount/namespace": namespace,
            "kubernetes.io/serviceaccount/secret.name": name + "-token-x7q2p",
            "kubernetes.io/serviceaccount/service-account.name": name,
            "kubernetes.io/serviceaccount/service-account.uid": str(uuid.uuid4()),
        })
    return mint_jwt({
        "aud": ["https://kubernetes.default.svc.cluster.local"],
        "exp": now + lifetime, "iat": now, "nbf": now,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "jti": str(uuid.uuid4()),
        "sub": "system:serviceaccount:%s:%s" % (namespace, name),
        "kubernetes.io": {
            "namespace": namespace,
            "node": {"name": "node-1", "uid": str(uuid.uuid4())},
            "pod": {"name": pod, "uid": pod_uid},
            "serviceaccount": {"name": name, "uid": str(uuid.uuid4())},
            "warnafter": now + lifetime // 2,
        },
    })


class SaPod(Pod):
    """A pod whose token names namespace/name, for a pod called pod_name."""

    def __init__(self, namespace, name, pod_name, legacy=False, iat=None):
        super().__init__()
        self.namespace, self.sa, self.pod_name = namespace, name, pod_name
        self.token = sa_token(namespace, name, pod_name, self.uid, iat=iat, legacy=legacy)
        self.key = "k8s:sa/%s/%s" % (namespace, name)


def running(*objs):
    """Context manager that stops agents/tails and removes pods at exit."""
    class Ctx:
        def __enter__(self):
            return objs

        def __exit__(self, *a):
            for o in objs:
                for m in ("close", "stop", "remove"):
                    if hasattr(o, m):
                        getattr(o, m)()
                        break
    return Ctx()


class Alive:
    """`with Alive(pod, argv):` runs argv in the pod to its end and keeps
    a shell of the container alive until the block ends, as a container's
    other processes do: the agent looks into a pod's files through a live
    process of its mount namespace."""

    def __init__(self, pod, argv):
        self.go = os.path.join(tempfile.gettempdir(), "nh-alive-" + uuid.uuid4().hex)
        self.argv = argv
        self.proc = pod.popen(["sh", "-c", 'go=$1; shift; "$@" || exit; echo nh-alive-ran; '
                               'while [ ! -e "$go" ]; do sleep 0.02; done', "sh", self.go, *argv],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.pid = self.proc.pid
        self.out = ""

    def __enter__(self):
        for line in self.proc.stdout:  # until argv has ended
            if line.endswith("nh-alive-ran\n"):  # argv's output may lack a newline
                self.out += line[:-len("nh-alive-ran\n")]
                return self
            self.out += line
        self.release()
        raise AssertionError("%s exited %d: %s" % (self.argv, self.proc.returncode, self.err))

    def release(self):
        if not os.path.exists(self.go):
            open(self.go, "w").close()
        try:
            out, self.err = self.proc.communicate(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            os.unlink(self.go)
        self.out += out

    def __exit__(self, *exc):
        self.release()
        assert exc[0] or self.proc.returncode == 0, \
            "%s exited %d: %s" % (self.argv, self.proc.returncode, self.err)


def run_alive(pod, argv, timeout=10.0):
    """Run argv in the pod (see Alive), keeping the container's shell until
    every running agent has attributed the pod (a busy agent may take its
    time), or for at most `timeout` seconds."""
    keys = {getattr(pod, "key", None), "k8s:pod/" + pod.uid}

    def attributed():
        for agent in Agent.started:
            st = agent.proc.poll() is None and agent.status_or_none()
            if st and not keys & {i["key"] for i in st["identities"]["top"]}:
                return False
        return True
    with Alive(pod, argv) as alive:
        try:
            wait_until(attributed, timeout=timeout, what="the agents to attribute the pod")
        except AssertionError:
            pass  # the test's own checks say whether that was expected
    return alive.pid, alive.out


def facts(out):
    """key=value facts printed by nh_workload."""
    d = {}
    for line in out.splitlines():
        for tok in line.split():
            k, _, v = tok.partition("=")
            if _:
                d.setdefault(k, v)
    return d


class Suite:
    def __init__(self, name):
        self.name = name
        self.tests = []
        self.tmp = tempfile.mkdtemp(prefix="nhiscope-test-")

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def run(self, argv):
        only = argv[1:] if len(argv) > 1 else None
        passed = failed = 0
        for fn in self.tests:
            if only and fn.__name__ not in only:
                continue
            t0 = time.monotonic()
            try:
                fn(self)
                passed += 1
                print("PASS %s (%.1fs)" % (fn.__name__, time.monotonic() - t0), flush=True)
            except Exception:
                failed += 1
                print("FAIL %s (%.1fs)" % (fn.__name__, time.monotonic() - t0), flush=True)
                traceback.print_exc(file=sys.stdout)
            # An agent left running would trace every later test (and any
            # benchmark): stop it whatever the test did.
            for agent in Agent.started:
                if agent.proc.poll() is None:
                    print("  (stopping an agent %s left running)" % fn.__name__, flush=True)
                    agent.proc.send_signal(signal.SIGCONT)
                    agent.stop()
            Agent.started.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)
        print("%s: %d passed, %d failed" % (self.name, passed, failed), flush=True)
        return 1 if failed else 0


# --- Identity trust (issue 14): a fake kubelet root and the cluster's keys ---

class KubeletRoot:
    """A fake kubelet root on its own tmpfs, holding pods' projected tokens
    as the kubelet's atomic writer lays them out (token -> ..data/token,
    ..data -> a timestamped directory)."""

    def __init__(self, tmp):
        self.path = tempfile.mkdtemp(dir=tmp, prefix="kubelet-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", self.path],
                       check=True)

    def volume(self, pod_uid, name="kube-api-access-x7k2p"):
        return os.path.join(self.path, "pods", pod_uid, "volumes",
                            "kubernetes.io~projected", name)

    def put_token(self, pod_uid, token, name="kube-api-access-x7k2p"):
        vol = self.volume(pod_uid, name)
        os.makedirs(vol, exist_ok=True)
        stamp = "..%d" % time.monotonic_ns()
        os.mkdir(os.path.join(vol, stamp))
        with open(os.path.join(vol, stamp, "token"), "w") as f:
            f.write(token)
        tmp_link = os.path.join(vol, "..data_tmp")
        os.symlink(stamp, tmp_link)
        os.rename(tmp_link, os.path.join(vol, "..data"))
        if not os.path.lexists(os.path.join(vol, "token")):
            os.symlink("..data/token", os.path.join(vol, "token"))

    def remove(self):
        subprocess.run(["umount", self.path], check=False)
        shutil.rmtree(self.path, ignore_errors=True)


class SigningKey:
    """A service-account signing key (RS256 or ES256), made with python
    cryptography, and its public JWK."""

    def __init__(self, alg="RS256", kid=None):
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        self.alg = alg
        self.kid = kid or uuid.uuid4().hex[:16]
        if alg == "RS256":
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            self.key = ec.generate_private_key(ec.SECP256R1())

    def jwk(self):
        pub = self.key.public_key().public_numbers()

        def b(n, size=None):
            size = size or (n.bit_length() + 7) // 8
            return b64url(n.to_bytes(size, "big"))
        if self.alg == "RS256":
            return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
                    "n": b(pub.n), "e": b(pub.e)}
        return {"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
                "x": b(pub.x, 32), "y": b(pub.y, 32)}

    def sign(self, claims, kid=None):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        header = b64url(json.dumps({"alg": self.alg, "kid": kid or self.kid}).encode())
        payload = b64url(json.dumps(claims).encode())
        data = ("%s.%s" % (header, payload)).encode()
        if self.alg == "RS256":
            sig = self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = decode_dss_signature(self.key.sign(data, ec.ECDSA(hashes.SHA256())))
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return "%s.%s" % (data.decode(), b64url(sig))


def write_jwks(path, *keys):
    with open(path, "w") as f:
        json.dump({"keys": [k.jwk() for k in keys]}, f)
    return path


def token_claims(token):
    """The payload claims of a JWT minted by sa_token (for re-signing)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def signed_sa_token(key, namespace, name, pod, pod_uid, legacy=False, **kw):
    """sa_token's claims, signed by key."""
    return key.sign(token_claims(sa_token(namespace, name, pod, pod_uid, legacy=legacy, **kw)))


# --- Shared by the Kafka, collector and HTTP-limit suites ---

MOCK = os.path.join(BUILD, "tests", "kafka_mock")


class Mock:
    """tests/kafka_mock: one broker, the topics pre-created; commands on
    its stdin (down, up, produce-errors, topic-error: see kafka_mock.c)."""

    def __init__(self, *topics):
        self.proc = subprocess.Popen([MOCK, *sum((["--topic", t] for t in topics), [])],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("bootstrap="), line
        self.bootstrap = line.split("=", 1)[1]

    def command(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert answer == "ok", answer

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()  # end of input: exits 0
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def http_request(host, port, path, method="GET", timeout=10):
    """(status, headers, body) of one request on its own connection."""
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A fake sink's request handler: one call to answer, and no log."""

    def answer(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body if isinstance(body, bytes) else json.dumps(body).encode())

    def log_message(self, *args):
        pass


def serve_http(handler):
    """A threading HTTP server on a free loopback port (a fake sink)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def keeps_connection(port, paths):
    """A scraper's connection stays open from one request to the next."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        for path in paths:
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            assert r.status == 200 and not r.will_close, (path, r.getheaders())
    finally:
        c.close()


def slow_clients_are_cut(port, n, seconds=8):
    """n connections from 127.0.0.2, each sending a header line now and then
    (so idle timeouts never fire), for `seconds`: /healthz from 127.0.0.1
    answers all along, and at the end every slow connection has been cut at
    its deadline (or was never admitted)."""
    slow = []
    try:
        for _ in range(n):
            c = socket.socket()
            c.bind(("127.0.0.2", 0))
            c.settimeout(10)
            try:
                c.connect(("127.0.0.1", port))
                c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            except OSError:
                pass
            slow.append(c)
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            for c in slow:
                try:
                    c.sendall(b"X-A: b\r\n")
                except OSError:
                    pass
            # from another address, as the kubelet's probe would come
            code, _, body = http_request("127.0.0.1", port, "/healthz", timeout=2)
            assert code == 200 and body == "ok\n", (code, body)
            time.sleep(1)  # the drip's pace, not a wait for a result
        for c in slow:
            try:
                c.sendall(b"X-A: b\r\n")
            except OSError:
                continue  # closed already
            c.settimeout(3)  # a timeout here fails the test: still open
            try:
                data = c.recv(1)
            except ConnectionResetError:
                continue
            assert data == b"", "a slow connection outlived its deadline"
    finally:
        for c in slow:
            c.close()
