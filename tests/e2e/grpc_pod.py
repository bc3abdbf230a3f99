#!/usr/bin/python3
"""A gRPC backend "pod" for end-to-end tests and the HTTP/2 benchmark: a real grpc.server (Debian's
python3-grpcio; run it with /usr/bin/python3) with service `podrouter.test.Echo`, raw bytes in and
out (generic handlers, no protoc):

  Who      unary          the pod's name; initial metadata `x-pod: NAME` plus every custom request
                          metadata entry it received (so a test sees what a proxy forwarded),
                          trailing metadata `x-served-by: NAME`
  Echo     unary          the request bytes
  Sleep    unary          request: ascii milliseconds; sleeps in 10 ms steps while the call is
                          active; a call that ends early (cancelled, or its deadline passed) is
                          counted; returns the name
  Stream   server stream  request: ascii "COUNT SIZE"; COUNT messages of SIZE bytes, message i is
                          `stream_message(i, SIZE)`; produced lazily, so a slow reader holds the
                          generator back (flow control)
  Upload   client stream  ascii "<count> <sha256 hex of the concatenated messages> NAME"
  Chat     bidi           each message back, prefixed with "NAME:"
  Cancels  unary          ascii count of the Sleep calls that ended early so far
  Fail     unary          request: ascii "CODE MESSAGE" (CODE a number or a name such as
                          NOT_FOUND); ends the call with that status and message

Usage: grpc_pod.py --name NAME --ip IP --port PORT [--grace SECONDS] [--threads N]
                   [--max-streams N]
Prints "ready" once listening. SIGTERM/SIGINT: server.stop(grace) — GOAWAY, in-flight calls may
finish within the grace — then exit 0. The port is bound with SO_REUSEPORT, so a replacement can
listen on the same ip:port before this one stops.
"""
import argparse
import hashlib
import signal
import sys
import threading
import time
from concurrent import futures

SERVICE = "podrouter.test.Echo"
MAX_STREAM_BYTES = 1 << 30  # one Stream call sends at most 1 GiB
MAX_MESSAGE = 4 << 20  # gRPC's default receive limit
_BASE = bytes(range(256))


def stream_message(index, size):
    """Message `index` of a Stream/Upload of `size`-byte messages: the bytes 0..255 repeated,
    starting at index % 256. Clients compute the same to check a digest."""
    start = index % 256
    reps = (start + size) // 256 + 1
    return (_BASE * reps)[start:start + size]


def stream_digest(count, size):
    """sha256 hex of `count` concatenated stream messages of `size` bytes."""
    h = hashlib.sha256()
    for i in range(count):
        h.update(stream_message(i, size))
    return h.hexdigest()


def status_code(text):
    """A grpc.StatusCode from a number ("5") or a name ("NOT_FOUND")."""
    import grpc
    if text.isdigit():
        for code in grpc.StatusCode:
            if code.value[0] == int(text):
                return code
        raise ValueError(f"no status code {text}")
    return grpc.StatusCode[text.upper()]


# Request metadata that is the transport's, not the caller's: not echoed by Who.
_NOT_ECHOED = ("user-agent", "te", "content-type", "grpc-accept-encoding", "grpc-encoding",
               "grpc-timeout", "accept-encoding")


class Echo:
    def __init__(self, name):
        self.name = name
        self.name_b = name.encode()
        self.lock = threading.Lock()
        self.cancels = 0

    def who(self, request, context):
        echoed = [(k, v) for k, v in context.invocation_metadata()
                  if not k.startswith(":") and k not in _NOT_ECHOED and k != "x-pod"]
        context.send_initial_metadata([("x-pod", self.name)] + echoed)
        context.set_trailing_metadata([("x-served-by", self.name)])
        return self.name_b

    def echo(self, request, context):
        return request

    def sleep(self, request, context):
        try:
            ms = int(request.decode() or "0")
        except ValueError:
            context.abort(__import__("grpc").StatusCode.INVALID_ARGUMENT, "Sleep takes ascii ms")
        deadline = time.monotonic() + min(ms, 600_000) / 1000.0
        while time.monotonic() < deadline:
            if not context.is_active():
                with self.lock:
                    self.cancels += 1
                return self.name_b
            time.sleep(min(0.01, max(0.0, deadline - time.monotonic())))
        return self.name_b

    def stream(self, request, context):
        import grpc
        try:
            count, size = (int(x) for x in request.decode().split())
        except ValueError:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Stream takes ascii 'COUNT SIZE'")
        if count < 0 or not 0 <= size <= MAX_MESSAGE or count * size > MAX_STREAM_BYTES:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Stream: COUNT or SIZE out of range")
        context.send_initial_metadata([("x-pod", self.name)])
        for i in range(count):  # lazily: the next message is made once the last one was sent
            if not context.is_active():
                return
            yield stream_message(i, size)

    def upload(self, request_iterator, context):
        h = hashlib.sha256()
        count = 0
        for message in request_iterator:
            h.update(message)
            count += 1
        return f"{count} {h.hexdigest()} {self.name}".encode()

    def chat(self, request_iterator, context):
        context.send_initial_metadata([("x-pod", self.name)])
        for message in request_iterator:
            yield self.name_b + b":" + message

    def cancelled(self, request, context):
        with self.lock:
            return str(self.cancels).encode()

    def fail(self, request, context):
        import grpc
        code, _, message = request.decode(errors="replace").partition(" ")
        try:
            status = status_code(code)
        except (KeyError, ValueError):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Fail: bad code {code!r}")
        context.set_trailing_metadata([("x-served-by", self.name)])
        context.abort(status, message)


def serve(name, ip, port, grace, threads, max_streams=0):
    import grpc
    echo = Echo(name)
    handler = grpc.method_handlers_generic_handler(SERVICE, {
        "Who": grpc.unary_unary_rpc_method_handler(echo.who),
        "Echo": grpc.unary_unary_rpc_method_handler(echo.echo),
        "Sleep": grpc.unary_unary_rpc_method_handler(echo.sleep),
        "Stream": grpc.unary_stream_rpc_method_handler(echo.stream),
        "Upload": grpc.stream_unary_rpc_method_handler(echo.upload),
        "Chat": grpc.stream_stream_rpc_method_handler(echo.chat),
        "Cancels": grpc.unary_unary_rpc_method_handler(echo.cancelled),
        "Fail": grpc.unary_unary_rpc_method_handler(echo.fail),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads),
                         handlers=[handler],
                         options=[("grpc.so_reuseport", 1)] +
                         ([("grpc.max_concurrent_streams", max_streams)] if max_streams else []))
    host = f"[{ip}]" if ":" in ip else ip
    if server.add_insecure_port(f"{host}:{port}") == 0:
        print(f"grpc_pod {name}: cannot listen on {host}:{port}", file=sys.stderr, flush=True)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    print("ready", flush=True)
    while not stop.wait(1.0):
        pass
    # Graceful: the listener closes, clients get GOAWAY, calls in flight have `grace` seconds.
    server.stop(grace).wait(grace + 5)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--grace", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--max-streams", type=int, default=0,
                    help="SETTINGS_MAX_CONCURRENT_STREAMS per connection (0: grpc's default)")
    args = ap.parse_args()
    sys.exit(serve(args.name, args.ip, args.port, args.grace, args.threads, args.max_streams))


if __name__ == "__main__":
    main()
