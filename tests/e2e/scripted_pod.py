"""ScriptedPod: a backend pod inside the test process, on raw sockets, whose behaviour a test
scripts byte for byte (a handler per accepted connection), keeping every byte it received; and
ok(), a 200 response with a Content-Length, for handlers to send."""
import socket
import threading


class ScriptedPod:
    """A pod on ip:port, in this process: `handler(conn, index)` serves connection number `index`
    (0, 1, ...) and may use `read_request(conn)`. Every byte received is kept in `received`."""

    def __init__(self, ip, port, handler):
        self.handler = handler
        self.received = []  # per connection, bytes
        self.lock = threading.Lock()
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind((ip, port))
        self.server.listen(64)
        self.conns = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self.lock:
                index = len(self.received)
                self.received.append(b"")
                self.conns.append(conn)
            threading.Thread(target=self.serve, args=(conn, index), daemon=True).start()

    def serve(self, conn, index):
        try:
            self.handler(self, conn, index)
        except OSError:
            pass
        finally:
            conn.close()

    def recv(self, conn, index):
        data = conn.recv(65536)
        with self.lock:
            self.received[index] += data
        return data

    def read_request(self, conn, index, buf=b""):
        """Reads one request (head, and a Content-Length or chunked body); returns (head, body,
        leftover) or None at EOF."""
        while b"\r\n\r\n" not in buf:
            data = self.recv(conn, index)
            if not data:
                return None
            buf += data
        head, rest = buf.split(b"\r\n\r\n", 1)
        lower = head.lower()
        if b"transfer-encoding: chunked" in lower:
            while (end := chunked_end(rest)) < 0:
                data = self.recv(conn, index)
                if not data:
                    return None
                rest += data
            return head, rest[:end], rest[end:]
        length = 0
        for line in lower.split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        while len(rest) < length:
            data = self.recv(conn, index)
            if not data:
                return None
            rest += data
        return head, rest[:length], rest[length:]

    def requests(self, conn, index):
        """Each request on the connection as (head, body), until the peer closes it."""
        buf = b""
        while True:
            r = self.read_request(conn, index, buf)
            if r is None:
                return
            head, body, buf = r
            yield head, body

    def all_received(self):
        with self.lock:
            return b"".join(self.received)

    def close(self):
        self.server.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def chunked_end(data):
    """Where a chunked body at the start of `data` ends, after its trailer section (RFC 9112
    §7.1), or -1 while it is incomplete."""
    at = 0
    while True:
        eol = data.find(b"\r\n", at)
        if eol < 0:
            return -1
        size = int(data[at:eol].split(b";")[0], 16)
        if size == 0:
            if data[eol + 2:eol + 4] == b"\r\n":
                return eol + 4  # no trailer fields
            end = data.find(b"\r\n\r\n", eol + 2)
            return -1 if end < 0 else end + 4
        at = eol + 2 + size + 2
        if at > len(data):
            return -1


def ok(body=b"ok", extra=b""):
    return b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n" + extra + \
        b"\r\n" + body
