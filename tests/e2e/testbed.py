"""The end-to-end test bed: real dnsmasq serving CoreDNS-shaped records for headless Services,
real backend pod processes on distinct 127.0.1.x addresses, and the real podrouter binary.

Everything binds loopback only, every wait is bounded, and every process is stopped in tearDown.
"""
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("PODROUTER_BIN", os.path.join(HERE, "..", "..", "build", "app", "podrouter"))
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
ZONE = "default.svc.cluster.local"


HANDED_OUT = set()  # ports free_port gave this process: two callers never get the same one


def free_port(ip="127.0.0.1", udp_too=False):
    """A port free on `ip` for TCP (and UDP, when asked) at the time of the call, and not one this
    process was given before (the kernel hands a just-freed port out again, so a listener's port
    and the admin port, asked for one after the other, could be the same)."""
    for _ in range(100):
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((ip, 0))
            port = s.getsockname()[1]
        if port in HANDED_OUT:
            continue
        HANDED_OUT.add(port)
        if not udp_too:
            return port
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as u:
                u.bind((ip, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def free_port_range(count, ip="127.0.0.1"):
    """`count` consecutive free TCP ports."""
    for _ in range(200):
        first = free_port(ip)
        if first + count > 65535:
            continue
        socks = []
        try:
            for p in range(first, first + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                # As podrouter binds: a port held only by TIME_WAIT connections is free to it.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((ip, p))
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (OSError, ValueError) as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Dnsmasq:
    """dnsmasq on 127.0.0.1:PORT, authoritative for cluster.local (NXDOMAIN for unknown names).

    Host records live in an addn-hosts file (re-read on SIGHUP); SRV records are command-line
    srv-host options, so changing them restarts the server.
    """

    def __init__(self, workdir, ttl=1):
        self.dir = workdir
        self.ttl = ttl
        self.port = free_port(udp_too=True)
        self.hosts = {}  # fqdn -> [ip]
        self.srv = []  # (service fqdn, target fqdn, port)
        self.proc = None
        self.hosts_file = os.path.join(workdir, "hosts")
        self.log = os.path.join(workdir, "dnsmasq.log")

    def add_headless_service(self, svc, port_name, port, pods, ns="default"):
        """CoreDNS's records for a headless Service: the service name answers with every pod's
        IP, each pod has <pod>.<svc>.<ns>.svc.cluster.local, and _port._tcp.<svc>... lists them."""
        name = f"{svc}.{ns}.svc.cluster.local"
        self.hosts[name] = list(pods.values())
        for pod, ip in pods.items():
            self.hosts[f"{pod}.{name}"] = [ip]
            self.srv.append((f"_{port_name}._tcp.{name}", f"{pod}.{name}", port))
        return name

    def write_hosts(self):
        tmp = self.hosts_file + ".tmp"
        with open(tmp, "w") as f:
            for name, ips in self.hosts.items():
                for ip in ips:
                    f.write(f"{ip} {name}\n")
        os.replace(tmp, self.hosts_file)

    def args(self):
        args = [DNSMASQ, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
                f"--port={self.port}", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--local=/cluster.local/", f"--addn-hosts={self.hosts_file}",
                f"--local-ttl={self.ttl}", "--pid-file=", "--user=root", "--group=root",
                f"--log-facility={self.log}", "--log-queries", "--edns-packet-max=1232"]
        for service, target, port in self.srv:
            args.append(f"--srv-host={service},{target},{port},0,10")
        return args

    def start(self):
        self.write_hosts()
        self.proc = subprocess.Popen(self.args(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def answering():
            if self.proc.poll() is not None:
                raise AssertionError("dnsmasq exited: " + self.proc.stderr.read().decode())
            return query_a(self.port, "probe.cluster.local") is not None
        wait_for(answering, what="dnsmasq to answer")

    def reload_hosts(self):
        self.write_hosts()
        self.proc.send_signal(signal.SIGHUP)

    def restart(self):
        self.stop()
        self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)


def query_a(port, name):
    """A minimal DNS A query over UDP: returns the rcode, or None when nothing answered."""
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    packet = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + qname + b"\x00\x01\x00\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        s.sendto(packet, ("127.0.0.1", port))
        try:
            reply = s.recv(4096)
        except socket.timeout:
            return None
    return reply[3] & 0xF


class Pod:
    """One backend pod process on ip:port: tests/e2e/pod.py (TCP modes) or, with mode "http",
    tests/e2e/http_pod.py (extra arguments go to it)."""

    def __init__(self, name, ip, port, mode="echo", extra=()):
        self.name, self.ip, self.port = name, ip, port
        script = "http_pod.py" if mode == "http" else "pod.py"
        args = [sys.executable, os.path.join(HERE, script), "--name", name, "--ip", ip,
                "--port", str(port)]
        args += list(extra) if mode == "http" else ["--mode", mode]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline()
        if line.strip() != b"ready":
            raise AssertionError(f"pod {name} failed: {self.proc.stderr.read().decode()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc.stdout.close()
        self.proc.stderr.close()


class Podrouter:
    """The podrouter binary with a config written as JSON (a subset of YAML)."""

    def __init__(self, workdir, config, name="podrouter.yaml"):
        self.dir = workdir
        self.path = os.path.join(workdir, name)
        self.admin_port = free_port()
        self.write(config)
        self.log_path = os.path.join(workdir, "podrouter.log")
        self.proc = None
        self.start_args = {}  # extra subprocess.Popen arguments (e.g. a preexec_fn with limits)
        self.log_level = "debug"

    def write(self, config):
        """Writes the config file; dicts get this router's admin bind unless they set one."""
        if isinstance(config, dict):
            config = dict(config)
            config.setdefault("admin", {"bind": f"127.0.0.1:{self.admin_port}"})
        with open(self.path, "w") as f:
            f.write(json.dumps(config, indent=1) if isinstance(config, dict) else config)

    def start(self, wait_ready=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BIN, "run", "--config", self.path, "--log-level", self.log_level],
                                     stdout=self.log, stderr=self.log, **self.start_args)
        if wait_ready:
            wait_for(lambda: self.admin("/ready")[0] == 200, what="podrouter /ready")
        return self

    def admin(self, path):
        """(status, body) of an admin GET; raises OSError when nothing listens."""
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"podrouter exited with {self.proc.returncode}:\n{self.logs()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def endpoints(self):
        return json.loads(self.admin("/endpoints")[1])

    def metrics(self):
        return parse_metrics(self.admin("/metrics")[1])

    def signal(self, sig):
        self.proc.send_signal(sig)

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode


def parse_metrics(text):
    """{'name{labels}': value} from the Prometheus text format (labels as printed)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        out[key] = float(value)
    return out


def metric(metrics, name, **labels):
    """The value of one series, matching labels in any order; 0 when absent."""
    for key, value in metrics.items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        have = dict(kv.split("=", 1) for kv in rest.rstrip("}").split(",") if kv) if rest else {}
        have = {k: v.strip('"') for k, v in have.items()}
        if all(have.get(k) == str(v) for k, v in labels.items()):
            return value
    return 0.0


def connect(port, ip="127.0.0.1", timeout=5):
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((ip, port))
    except OSError:
        s.close()
        raise
    return s


def raw_exchange(port, wire, until=None, timeout=5):
    """Sends raw bytes; returns what was read until `until` appeared in it, or the proxy closed
    (or went quiet for `timeout` seconds)."""
    with connect(port, timeout=timeout) as s:
        s.sendall(wire)
        out = b""
        try:
            while until is None or until not in out:
                data = s.recv(65536)
                if not data:
                    break
                out += data
        except (socket.timeout, ConnectionResetError):
            pass
        return out


def read_line(sock):
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data.decode()


def banner(port, ip="127.0.0.1"):
    """Connects through the proxy and returns the pod's banner line ('' when closed at once)."""
    with connect(port, ip) as s:
        return read_line(s).strip()


def closed_at_once(port, ip="127.0.0.1"):
    """True when the proxy accepts and closes without relaying anything."""
    with connect(port, ip) as s:
        try:
            return s.recv(1) == b""
        except ConnectionResetError:
            return True


class TestBed(unittest.TestCase):
    """Base class: a temp dir, dnsmasq, pods and podrouters that are all stopped afterwards, and a
    check that podrouter exited cleanly (status 0; sanitizer reports fail the test)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="podrouter-e2e-")
        self.dns = Dnsmasq(self.tmp)
        self.pods = []
        self.routers = []

    def tearDown(self):
        failures = []
        for r in self.routers:
            status = r.stop()
            logs = r.logs()
            if "Sanitizer" in logs or "runtime error:" in logs:
                failures.append("sanitizer report:\n" + logs[-6000:])
            elif status not in (0, None) and not getattr(r, "expect_exit", False):
                failures.append(f"podrouter exited with {status}:\n" + logs[-3000:])
        for p in self.pods:
            p.stop()
        self.dns.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if failures:
            self.fail("\n".join(failures))

    def pod(self, name, ip, port, mode="echo", extra=()):
        p = Pod(name, ip, port, mode, extra)
        self.pods.append(p)
        return p

    def router(self, config, start=True):
        r = Podrouter(self.tmp, config)
        self.routers.append(r)
        return r.start() if start else r

    def statefulset(self, count, svc="mydb", port_name="postgres", first_ip=1, start_pods=True,
                    mode="echo"):
        """`count` pods svc-0.. on 127.0.1.<first_ip+i>, all on one port, and their DNS records."""
        port = free_port("127.0.1.1")
        pods = {f"{svc}-{i}": f"127.0.1.{first_ip + i}" for i in range(count)}
        name = self.dns.add_headless_service(svc, port_name, port, pods)
        if start_pods:
            for pod, ip in pods.items():
                self.pod(pod, ip, port, mode)
        return name, port, pods

    def base_config(self, services, listeners, **extra):
        config = {
            "dns": {"servers": [f"127.0.0.1:{self.dns.port}"], "timeout": "500ms",
                    "min_refresh": "100ms", "max_refresh": "1s"},
            "drain_timeout": "5s",
            "services": services,
            "listeners": listeners,
        }
        if os.environ.get("PODROUTER_WORKERS"):  # the whole suite with N workers
            config["workers"] = int(os.environ["PODROUTER_WORKERS"])
        config.update(extra)
        return config


def rss_kib(pid):
    """A process's resident set, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def push_until_blocked(sock, limit, stall=1.0, timeout=60):
    """Sends on `sock` until TCP flow control has blocked it for `stall` seconds, `limit` bytes
    are out, or `timeout` passes; returns the bytes sent."""
    import select
    sock.setblocking(False)
    sent, chunk, stalled_since = 0, b"x" * 65536, None
    deadline = time.monotonic() + timeout
    while sent < limit and time.monotonic() < deadline:
        if not select.select([], [sock], [], 0.2)[1]:
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > stall:
                break
            continue
        stalled_since = None
        try:
            sent += sock.send(chunk)
        except BlockingIOError:
            pass
    return sent


def sha256(data):
    return hashlib.sha256(data).hexdigest()
