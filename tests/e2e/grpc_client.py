#!/usr/bin/python3
"""A gRPC client for the `podrouter.test.Echo` service of tests/e2e/grpc_pod.py: a CLI, and helpers
for tests that run under another interpreter (grpc is imported only where it is used, so this
module imports anywhere; the gRPC work itself runs in /usr/bin/python3, Debian's python3-grpcio).

Every call has a deadline and every loop is bounded. Exit status 0 unless noted.

  grpc_client.py --target HOST:PORT [--header NAME] COMMAND ...     (--header: x-tenant-id)
    who [--key K] [--metadata]     the pod's name; --metadata: JSON {pod, initial, trailing};
                                   a failed call: "<STATUS NAME> <details>", exit 4
    keys N [--seed S]              N Who calls with random keys over ONE channel (one HTTP/2
                                   connection); JSON {key: pod}
    echo TEXT [--key K]            the echoed bytes
    stream COUNT SIZE [--key K] [--slow BYTES_PER_S]
                                   "<count> <sha256> <pod from initial metadata>"; exit 3 when
                                   the digest is not the expected one
    upload COUNT SIZE [--key K]    the pod's answer "<count> <sha256> POD"; exit 3 on a wrong digest
    chat MSG... [--key K]          one reply per line ("POD:MSG")
    sleep MS [--timeout S] [--key K]
                                   the call's status code name (OK, DEADLINE_EXCEEDED, ...)
    cancel [--after S] [--key K]   a Sleep 5000 cancelled after S (0.3) seconds; the status name
    cancels [--key K]              the pod's count of Sleep calls that ended early
    fail CODE MESSAGE [--key K]    JSON {code, details, trailing}
    load --seconds S --concurrency C [--sleep-ms MS] [--key K]
                                   C threads calling Who (or Sleep MS) over one channel for S
                                   seconds; JSON {status name: count}, plus "pods": {pod: count}
Common: --timeout S (per call; 10), --target, --header.
"""
import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from grpc_pod import SERVICE, stream_digest, stream_message  # noqa: E402  (no grpc import)

PYTHON = "/usr/bin/python3"  # the interpreter with python3-grpcio
POD = os.path.join(HERE, "grpc_pod.py")
CLIENT = os.path.abspath(__file__)
MAX_MESSAGE = 16 << 20


def method(name):
    return f"/{SERVICE}/{name}"


def channel(target):
    """An insecure channel (one HTTP/2 connection while it lasts) with raw-bytes calls."""
    import grpc
    return grpc.insecure_channel(target, options=[
        ("grpc.max_receive_message_length", MAX_MESSAGE),
        ("grpc.max_send_message_length", MAX_MESSAGE),
        ("grpc.enable_retries", 0),  # a test sees every failure; transparent retries stay on
    ])


def md(header, key):
    return [(header, key)] if key is not None else []


def _unary(ch, name):
    return ch.unary_unary(method(name), request_serializer=None, response_deserializer=None)


def who(ch, key=None, header="x-tenant-id", timeout=10.0):
    """(pod name, initial metadata dict, trailing metadata dict)."""
    reply, call = _unary(ch, "Who").with_call(b"", timeout=timeout, metadata=md(header, key))
    return reply.decode(), dict(call.initial_metadata()), dict(call.trailing_metadata())


def echo(ch, data, key=None, header="x-tenant-id", timeout=10.0):
    return _unary(ch, "Echo")(data, timeout=timeout, metadata=md(header, key))


def stream(ch, count, size, key=None, header="x-tenant-id", slow=None, timeout=60.0):
    """(count, sha256 hex, pod) of a Stream call; `slow` reads at most that many bytes/s."""
    call = ch.unary_stream(method("Stream"), request_serializer=None,
                           response_deserializer=None)(f"{count} {size}".encode(),
                                                       timeout=timeout,
                                                       metadata=md(header, key))
    h, got = hashlib.sha256(), 0
    started = time.monotonic()
    for message in call:
        h.update(message)
        got += 1
        if slow:  # hold the reader back to `slow` bytes/s overall
            ahead = got * size / slow - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    pod = dict(call.initial_metadata()).get("x-pod", "")
    return got, h.hexdigest(), pod


def upload(ch, count, size, key=None, header="x-tenant-id", timeout=60.0):
    """The pod's answer to an Upload of `count` pattern messages of `size` bytes."""
    call = ch.stream_unary(method("Upload"), request_serializer=None, response_deserializer=None)
    messages = (stream_message(i, size) for i in range(count))
    return call(messages, timeout=timeout, metadata=md(header, key)).decode()


def chat(ch, messages, key=None, header="x-tenant-id", timeout=30.0):
    call = ch.stream_stream(method("Chat"), request_serializer=None, response_deserializer=None)
    return [m.decode() for m in call(iter(messages), timeout=timeout, metadata=md(header, key))]


def sleep(ch, ms, key=None, header="x-tenant-id", timeout=10.0):
    """The status code name of a Sleep call."""
    import grpc
    try:
        _unary(ch, "Sleep")(str(ms).encode(), timeout=timeout, metadata=md(header, key))
        return "OK"
    except grpc.RpcError as e:
        return e.code().name


def cancel(ch, after=0.3, key=None, header="x-tenant-id", timeout=10.0):
    """Starts Sleep 5000, cancels it after `after` seconds; the status code name."""
    import grpc
    future = _unary(ch, "Sleep").future(b"5000", timeout=timeout, metadata=md(header, key))
    time.sleep(after)
    future.cancel()
    try:
        future.result(timeout=timeout)
        return "OK"
    except grpc.FutureCancelledError:
        return "CANCELLED"
    except grpc.RpcError as e:
        return e.code().name


def cancels(ch, key=None, header="x-tenant-id", timeout=10.0):
    return int(_unary(ch, "Cancels")(b"", timeout=timeout, metadata=md(header, key)))


def fail(ch, code, message, key=None, header="x-tenant-id", timeout=10.0):
    """{code, details, trailing} of a Fail call."""
    import grpc
    try:
        _unary(ch, "Fail")(f"{code} {message}".encode(), timeout=timeout,
                           metadata=md(header, key))
        return {"code": "OK", "details": "", "trailing": {}}
    except grpc.RpcError as e:
        return {"code": e.code().name, "details": e.details(),
                "trailing": dict(e.trailing_metadata() or ())}


def load(ch, seconds, concurrency, sleep_ms=0, key=None, header="x-tenant-id", timeout=10.0):
    """`concurrency` threads calling Who (or Sleep `sleep_ms`) on one channel for `seconds`;
    {status name: count, "pods": {pod: count}}."""
    import grpc
    counts, pods, lock = {}, {}, threading.Lock()
    end = time.monotonic() + seconds
    who_call, sleep_call = _unary(ch, "Who"), _unary(ch, "Sleep")

    def worker():
        while time.monotonic() < end:
            k = key if key is not None else f"k{random.getrandbits(32)}"
            try:
                if sleep_ms:
                    pod = sleep_call(str(sleep_ms).encode(), timeout=timeout,
                                     metadata=md(header, k)).decode()
                else:
                    pod = who_call(b"", timeout=timeout, metadata=md(header, k)).decode()
                status = "OK"
            except grpc.RpcError as e:
                status, pod = e.code().name, None
            with lock:
                counts[status] = counts.get(status, 0) + 1
                if pod:
                    pods[pod] = pods.get(pod, 0) + 1
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + timeout + 5)
    counts["pods"] = pods
    return counts


# ---- for tests under any interpreter: the pod and this CLI as /usr/bin/python3 subprocesses ----

class GrpcPod:
    """tests/e2e/grpc_pod.py as a process on ip:port; `stop()` SIGTERMs (graceful), `kill()`
    SIGKILLs; both wait, bounded."""

    def __init__(self, name, ip, port, grace=10.0, threads=32, timeout=15.0, max_streams=0):
        self.name, self.ip, self.port = name, ip, port
        self.proc = subprocess.Popen(
            [PYTHON, POD, "--name", name, "--ip", ip, "--port", str(port), "--grace", str(grace),
             "--threads", str(threads), "--max-streams", str(max_streams)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready = threading.Event()
        line = []
        reader = threading.Thread(target=lambda: (line.append(self.proc.stdout.readline()),
                                                  ready.set()), daemon=True)
        reader.start()
        if not ready.wait(timeout) or line[0].strip() != b"ready":
            self.kill()
            raise AssertionError(f"grpc pod {name} did not start: "
                                 f"{self.proc.stderr.read().decode(errors='replace')}")

    @property
    def target(self):
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"

    def stop(self, timeout=30.0):
        """SIGTERM (graceful stop) and wait; the exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self._close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        return self._close()

    def _close(self):
        for f in (self.proc.stdout, self.proc.stderr):
            if f and not f.closed:
                f.close()
        return self.proc.returncode


def run(target, *args, header=None, timeout=60.0, check=True):
    """Runs this CLI under /usr/bin/python3; its stdout (stripped). `check`: raise on a nonzero
    exit."""
    cmd = [PYTHON, CLIENT, "--target", target]
    if header:
        cmd += ["--header", header]
    out = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                         timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"grpc_client {' '.join(map(str, args))} exited {out.returncode}:"
                             f"\n{out.stdout}{out.stderr}")
    return out.stdout.strip()


def start(target, *args, header=None):
    """This CLI under /usr/bin/python3 in the background (e.g. `load` during a restart); read the
    result with `finish`."""
    cmd = [PYTHON, CLIENT, "--target", target] + (["--header", header] if header else [])
    return subprocess.Popen(cmd + [str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=60.0):
    """stdout of a `start`ed client, waited for (bounded; killed when late)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=5)
    if proc.returncode != 0:
        raise AssertionError(f"grpc_client exited {proc.returncode}:\n{out}{err}")
    return out.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--target", required=True, help="HOST:PORT")
    ap.add_argument("--header", default="x-tenant-id", help="metadata key that carries --key")
    ap.add_argument("--timeout", type=float, default=None, help="per-call deadline, seconds")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def cmd(name, *args):
        p = sub.add_parser(name)
        p.add_argument("--key")
        p.add_argument("--timeout", type=float, default=argparse.SUPPRESS,
                       help="per-call deadline, seconds (also before the command)")
        for a in args:
            p.add_argument(a[0], **a[1]) if isinstance(a, tuple) else p.add_argument(a)
        return p
    cmd("who", ("--metadata", {"action": "store_true"}))
    cmd("keys", ("n", {"type": int}), ("--seed", {"type": int}))
    cmd("echo", "text")
    cmd("stream", ("count", {"type": int}), ("size", {"type": int}),
        ("--slow", {"type": float, "help": "read at most this many bytes/s"}))
    cmd("upload", ("count", {"type": int}), ("size", {"type": int}))
    cmd("chat", ("messages", {"nargs": "+"}))
    cmd("sleep", ("ms", {"type": int}))
    cmd("cancel", ("--after", {"type": float, "default": 0.3}))
    cmd("cancels")
    cmd("fail", "code", "message")
    cmd("load", ("--seconds", {"type": float, "default": 5.0}),
        ("--concurrency", {"type": int, "default": 8}), ("--sleep-ms", {"type": int, "default": 0}))
    args = ap.parse_args()
    kw = {"key": args.key, "header": args.header}
    if args.timeout is not None:
        kw["timeout"] = args.timeout
    status = 0
    with channel(args.target) as ch:
        if args.cmd == "who":
            import grpc
            try:
                pod, initial, trailing = who(ch, **kw)
                print(json.dumps({"pod": pod, "initial": initial, "trailing": trailing})
                      if args.metadata else pod)
            except grpc.RpcError as e:
                print(f"{e.code().name} {e.details()}")
                status = 4
        elif args.cmd == "keys":
            rnd = random.Random(args.seed)
            result = {}
            for _ in range(min(args.n, 100_000)):
                k = f"key-{rnd.getrandbits(48):012x}"
                result[k] = who(ch, **dict(kw, key=k))[0]
            print(json.dumps(result))
        elif args.cmd == "echo":
            print(echo(ch, args.text.encode(), **kw).decode(errors="replace"))
        elif args.cmd == "stream":
            count, digest, pod = stream(ch, args.count, args.size, slow=args.slow, **kw)
            print(f"{count} {digest} {pod}")
            if count != args.count or digest != stream_digest(args.count, args.size):
                print("stream: wrong count or digest", file=sys.stderr)
                status = 3
        elif args.cmd == "upload":
            answer = upload(ch, args.count, args.size, **kw)
            print(answer)
            if answer.split()[:2] != [str(args.count), stream_digest(args.count, args.size)]:
                print("upload: the pod saw other bytes", file=sys.stderr)
                status = 3
        elif args.cmd == "chat":
            for line in chat(ch, [m.encode() for m in args.messages], **kw):
                print(line)
        elif args.cmd == "sleep":
            print(sleep(ch, args.ms, **kw))
        elif args.cmd == "cancel":
            print(cancel(ch, args.after, **kw))
        elif args.cmd == "cancels":
            print(cancels(ch, **kw))
        elif args.cmd == "fail":
            print(json.dumps(fail(ch, args.code, args.message, **kw)))
        elif args.cmd == "load":
            print(json.dumps(load(ch, min(args.seconds, 600), min(args.concurrency, 256),
                                  args.sleep_ms, **kw)))
    sys.exit(status)


if __name__ == "__main__":
    main()
