"""HTTP/2 peers on Debian's python3-h2 (RFC 9113, cleartext with prior knowledge) for tests that
must see or send what curl and nghttp do not show: a client call with request trailers that
returns the response's trailers apart from its headers, and an in-process pod that reports every
request it received (headers, body, trailers) and answers with trailers of its own."""
import json
import socket
import threading

import h2.config
import h2.connection
import h2.errors
import h2.events

from scripted_pod import ScriptedPod


def h2_call(port, path, headers=(), body=b"", trailers=(), authority="mydb", timeout=10):
    """One request on a new connection to 127.0.0.1:`port`; `headers` and `trailers` are
    (name, value) pairs. Returns (status, headers, body, trailers), the header lists as
    (name, value) str pairs. Raises AssertionError when the stream is reset."""
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        conn.initiate_connection()
        sid = conn.get_next_available_stream_id()
        method = "POST" if body or trailers else "GET"
        conn.send_headers(sid, [(":method", method), (":scheme", "http"),
                                (":authority", authority), (":path", path), *headers],
                          end_stream=not body and not trailers)
        if body:
            conn.send_data(sid, body, end_stream=not trailers)
        if trailers:
            conn.send_headers(sid, list(trailers), end_stream=True)
        sock.sendall(conn.data_to_send())
        status, head, data, tail = None, [], b"", []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError("the connection closed before the stream ended")
            for ev in conn.receive_data(chunk):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    head = [(k, v) for k, v in ev.headers if not k.startswith(":")]
                    status = int(dict(ev.headers)[":status"])
                elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                    data += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.TrailersReceived) and ev.stream_id == sid:
                    tail = list(ev.headers)
                elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                    raise AssertionError(f"stream reset with error code {ev.error_code}")
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    return status, head, data, tail
            sock.sendall(conn.data_to_send())


class H2Pod:
    """An HTTP/2 pod `name` on ip:port in this process (on ScriptedPod's listener). Every
    request is kept in `requests` as a dict (headers, body, trailers; header lists as
    [name, value] pairs) and answered 200 with that dict as JSON and the trailer
    `x-pod: <name>` — except requests for /hold, kept in `held` and never answered, and for
    /refuse, reset with REFUSED_STREAM at once (counted in `refused`). Streams the peer reset
    are listed in `resets`."""

    def __init__(self, name, ip, port):
        self.name = name
        self.requests = []
        self.held = []
        self.refused = 0
        self.resets = []
        self.lock = threading.Lock()
        self.listener = ScriptedPod(ip, port, lambda _pod, sock, _index: self.serve(sock))

    def serve(self, sock):
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        streams, refused = {}, set()
        sock.sendall(conn.data_to_send())
        while data := sock.recv(65536):
            for ev in conn.receive_data(data):
                self.on_event(conn, streams, refused, ev)
            sock.sendall(conn.data_to_send())

    def on_event(self, conn, streams, refused, ev):
        if getattr(ev, "stream_id", None) in refused:
            return  # what the peer still sends on a stream refused
        if isinstance(ev, h2.events.RequestReceived) and (":path", "/refuse") in ev.headers:
            conn.reset_stream(ev.stream_id, error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
            refused.add(ev.stream_id)
            with self.lock:
                self.refused += 1
        elif isinstance(ev, h2.events.RequestReceived):
            streams[ev.stream_id] = {"headers": [list(h) for h in ev.headers], "body": "",
                                     "trailers": []}
        elif isinstance(ev, h2.events.DataReceived):
            streams[ev.stream_id]["body"] += ev.data.decode("latin-1")
            conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            streams[ev.stream_id]["trailers"] = [list(h) for h in ev.headers]
        elif isinstance(ev, h2.events.StreamReset):
            streams.pop(ev.stream_id, None)
            with self.lock:
                self.resets.append(ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            request = streams.pop(ev.stream_id)
            if [":path", "/hold"] in request["headers"]:
                with self.lock:
                    self.held.append(request)
                return
            with self.lock:
                self.requests.append(request)
            conn.send_headers(ev.stream_id, [(":status", "200"),
                                             ("content-type", "application/json")])
            body = json.dumps(request).encode()
            step = conn.max_outbound_frame_size
            for at in range(0, len(body), step):  # small answers: the windows are not exceeded
                conn.send_data(ev.stream_id, body[at:at + step])
            conn.send_headers(ev.stream_id, [("x-pod", self.name)], end_stream=True)

    def close(self):
        self.listener.close()
