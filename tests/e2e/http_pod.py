#!/usr/bin/env python3
"""An HTTP/1.1 backend "pod" for end-to-end tests, written on raw sockets so every byte on the
wire is under the test's control. Keep-alive, Content-Length and chunked bodies both ways.

  GET  /anything        200 "pod=NAME path=PATH\\n", headers X-Pod and X-Seen-* echoing a few
                        request headers
  POST /echo            the request body streamed back, chunked
  GET  /download/N      N bytes of a fixed pattern, chunked
  GET  /sleep/MS        waits MS milliseconds, then 200
  GET  /status/CODE     that status, no body for 1xx/204/304
  GET  /close           a body delimited by closing the connection (no length, no chunking)
  GET  /ws              with Upgrade: 101 Switching Protocols, then raw echo
  GET  /half            a head promising 100 bytes, 10 bytes, then the connection closes
  GET  /badhead         a response head that is not HTTP
  POST /stall           reads the head, then never reads the body nor answers
  any  with Expect: 100-continue gets "100 Continue" before its body is read
  --stale-after-first   answers the first request on a connection, then closes the connection
                        without an answer when the next request arrives (a stale keep-alive)
Prints "ready" once listening.
"""
import argparse
import socket
import sys
import threading
import time

PATTERN = bytes(range(256)) * 256


def pattern(n):
    out = bytearray()
    while len(out) < n:
        out += PATTERN[: n - len(out)]
    return bytes(out)


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def body_chunks(self, headers):
        """Yields the request body as it arrives."""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self.line().split(b";")[0], 16)
                if size == 0:
                    while self.line():
                        pass
                    return
                yield self.exact(size)
                self.exact(2)
        else:
            left = int(headers.get("content-length", "0"))
            while left > 0:
                if not self.buf:
                    self.fill()
                part, self.buf = self.buf[:left], self.buf[left:]
                left -= len(part)
                yield part


def respond(sock, status, headers, body=b""):
    head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    sock.sendall(head.encode() + body)


def chunk(data):
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def serve(sock, name, stale_after_first):
    conn = Conn(sock)
    served = 0
    try:
        while True:
            try:
                request_line = conn.line()
            except EOFError:
                return
            if stale_after_first and served == 1:
                return  # a keep-alive connection the pod has given up on
            method, target, version = request_line.decode().split(" ")
            headers = {}
            while True:
                line = conn.line()
                if not line:
                    break
                k, v = line.decode().split(":", 1)
                headers[k.strip().lower()] = v.strip()
            if headers.get("expect", "").lower() == "100-continue":
                sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            path = target.split("?")[0]
            base = [("X-Pod", name)]
            for h in ("x-shard-key", "x-pod-ordinal", "cookie", "host"):
                if h in headers:
                    base.append((f"X-Seen-{h}", headers[h]))
            served += 1
            if path == "/stall":
                time.sleep(3600)
                return
            if path == "/half":
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                return
            if path == "/badhead":
                sock.sendall(b"HTTP/1.1 2OO Fine\r\nContent-Length: 0\r\n\r\n")
                return
            if path == "/echo":
                respond(sock, 200, base + [("Transfer-Encoding", "chunked")])
                for part in conn.body_chunks(headers):
                    sock.sendall(chunk(part))
                sock.sendall(b"0\r\n\r\n")
                continue
            for _ in conn.body_chunks(headers):
                pass
            if path.startswith("/download/"):
                data = pattern(int(path.split("/")[2]))
                respond(sock, 200, base + [("Transfer-Encoding", "chunked")])
                for i in range(0, len(data), 50000):
                    sock.sendall(chunk(data[i:i + 50000]))
                sock.sendall(b"0\r\n\r\n")
            elif path.startswith("/sleep/"):
                time.sleep(int(path.split("/")[2]) / 1000)
                respond(sock, 200, base + [("Content-Length", "5")], b"slept")
            elif path.startswith("/status/"):
                code = int(path.split("/")[2])
                if code in (204, 304) or code < 200:
                    respond(sock, code, base)
                else:
                    respond(sock, code, base + [("Content-Length", "3")], b"abc")
            elif path == "/close":
                respond(sock, 200, base + [("Connection", "close")])
                sock.sendall(b"until the end")
                return
            elif path == "/ws" and headers.get("upgrade"):
                respond(sock, 101, [("Upgrade", headers["upgrade"]), ("Connection", "Upgrade")])
                if conn.buf:
                    sock.sendall(conn.buf)
                while True:
                    data = sock.recv(65536)
                    if not data:
                        sock.shutdown(socket.SHUT_WR)
                        return
                    sock.sendall(data)
            else:
                body = f"pod={name} path={path}\n".encode()
                if method == "HEAD":
                    respond(sock, 200, base + [("Content-Length", str(len(body)))])
                else:
                    respond(sock, 200, base + [("Content-Length", str(len(body)))], body)
            if headers.get("connection", "").lower() == "close" or version == "HTTP/1.0":
                return
    except (OSError, EOFError, ValueError):
        return
    finally:
        sock.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--ip", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stale-after-first", action="store_true")
    args = parser.parse_args()
    server = socket.socket(socket.AF_INET6 if ":" in args.ip else socket.AF_INET)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((args.ip, args.port))
    server.listen(512)
    print("ready", flush=True)
    while True:
        sock, _ = server.accept()
        threading.Thread(target=serve, args=(sock, args.name, args.stale_after_first),
                         daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
