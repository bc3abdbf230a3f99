"""End-to-end: trailer sections (RFC 9112 §7.1.2, RFC 9113 §8.1) go through podrouter both ways
and in every translation — HTTP/1.1 client and pod, HTTP/2 client to an HTTP/1.1 pod, HTTP/1.1
client to an HTTP/2 pod — as trailers, never merged into the head, and without the fields that
frame, route or belong to one hop (Content-Length, Host, Connection and what it names).

  Http1Pods  a pod scripted byte for byte, answering chunked with trailers
  Http2Pods  an HTTP/2 pod (python3-h2) reporting the trailers it received
"""
import json
import unittest

from h2_peer import H2Pod, h2_call
from scripted_pod import ScriptedPod
from testbed import TestBed, free_port, raw_exchange

# What a client or pod puts in a trailer section: one field to forward, four that must not go on.
TRAILERS = (b"X-Digest: abc\r\nContent-Length: 99\r\nConnection: X-Hop\r\nX-Hop: 1\r\n"
            b"Host: elsewhere\r\n")
CHUNKED_POST = (b"POST /up HTTP/1.1\r\nHost: mydb\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n0\r\n" + TRAILERS + b"\r\n")
GET = b"GET /next HTTP/1.1\r\nHost: mydb\r\n\r\n"
LAST_GET = b"GET /next HTTP/1.1\r\nHost: mydb\r\nConnection: close\r\n\r\n"  # read to EOF


def answer_chunked_with_trailers(pod, conn, index):
    """Answers `hello` chunked with TRAILERS (X-Checksum for X-Digest); /big-trailer gets one
    70 KB trailer field instead, more than an HTTP/2 header block carries."""
    for head, _body in pod.requests(conn, index):
        trailers = TRAILERS.replace(b"X-Digest: abc", b"X-Checksum: c1")
        if b" /big-trailer " in head:
            trailers = b"X-Big: " + b"a" * 70000 + b"\r\n"
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" +
                     trailers + b"\r\n")


class TrailerBed(TestBed):
    """One pod mydb-0 behind SRV discovery and an HTTP listener routing to ordinal 0."""

    def start(self, upstream_protocol):
        pod_port = free_port("127.0.1.1")
        name = self.dns.add_headless_service("mydb", "http", pod_port, {"mydb-0": "127.0.1.1"})
        self.dns.start()
        self.port = free_port()
        self.router(self.base_config(
            {"mydb": {"name": name, "discovery": "srv", "port_name": "http", "replicas": 1}},
            [{"name": "web", "bind": f"127.0.0.1:{self.port}", "protocol": "http",
              "service": "mydb", "route": {"ordinal": 0}, "upstream_protocol": upstream_protocol,
              "timeouts": {"request": "5s"}}]))
        return pod_port


    def assert_a_trailer_does_not_decide_the_connection(self):
        # Found by the breaker: the GET after a `Connection: close` trailer was never answered.
        wire = (b"POST /x HTTP/1.1\r\nHost: mydb\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n0\r\nConnection: close\r\n\r\n" + LAST_GET)
        reply = raw_exchange(self.port, wire, timeout=10)
        self.assertEqual(reply.count(b"HTTP/1.1 200 "), 2, reply)


class Http1Pods(TrailerBed):
    def setUp(self):
        super().setUp()
        pod_port = self.start("http1")
        self.pod = ScriptedPod("127.0.1.1", pod_port, answer_chunked_with_trailers)
        self.addCleanup(self.pod.close)

    def test_request_trailers_reach_the_pod_after_the_last_chunk(self):
        reply = raw_exchange(self.port, CHUNKED_POST + LAST_GET)
        self.assertEqual(reply.count(b"HTTP/1.1 200"), 2, reply)  # framing kept: both answered
        received = self.pod.all_received()
        head, _, rest = received.partition(b"\r\n\r\n")
        self.assertTrue(rest.startswith(b"5\r\nhello\r\n0\r\nX-Digest: abc\r\n\r\nGET /next "),
                        received)
        self.assertNotIn(b"X-Digest", head)  # a trailer, not a header

    def test_response_trailers_reach_an_http1_client_after_the_last_chunk(self):
        reply = raw_exchange(self.port, GET + LAST_GET)
        self.assertEqual(reply.count(b"5\r\nhello\r\n0\r\nX-Checksum: c1\r\n\r\n"), 2, reply)
        self.assertNotIn(b"elsewhere", reply)
        self.assertNotIn(b"X-Hop", reply)

    def test_a_connection_field_in_trailers_does_not_end_the_connection(self):
        self.assert_a_trailer_does_not_decide_the_connection()

    def test_an_http2_clients_trailers_over_the_limit_go_nowhere(self):
        # Found by the breaker: the first 15 of 21 fields (84 KB) reached the pod, the rest were
        # dropped, and the request succeeded.
        fields = [(f"x-f{i}", "a" * 4000) for i in range(20)] + [("x-last", "1")]
        status, _, body, _ = h2_call(self.port, "/up", body=b"hello", trailers=fields)
        self.assertEqual(status, 431)
        self.assertEqual(json.loads(body)["error"], "headers_too_large")
        received = self.pod.all_received()
        self.assertNotIn(b"x-f0", received)  # no part of the section
        self.assertNotIn(b"\r\n0\r\n", received)  # and the request never ended at the pod

    def test_a_pods_trailers_too_large_for_http2_fail_the_stream(self):
        # Found by the breaker: the client got the body, then nothing — no trailers, no end, no
        # reset — because nghttp2 would not encode the block and the stream waited for it.
        with self.assertRaisesRegex(AssertionError, "stream reset"):
            h2_call(self.port, "/big-trailer")
        self.assertEqual(h2_call(self.port, "/next")[0], 200)

    def test_trailers_cross_between_http2_clients_and_http1_pods(self):
        status, headers, body, trailers = h2_call(
            self.port, "/up", body=b"hello", trailers=[("x-digest", "abc"), ("host", "elsewhere")])
        self.assertEqual((status, body), (200, b"hello"))
        self.assertEqual(trailers, [("x-checksum", "c1")])
        self.assertNotIn("x-checksum", dict(headers))
        self.assertIn(b"0\r\nx-digest: abc\r\n\r\n", self.pod.all_received())


class Http2Pods(TrailerBed):
    def setUp(self):
        super().setUp()
        self.pod = H2Pod("mydb-0", "127.0.1.1", self.start("http2"))
        self.addCleanup(self.pod.close)

    def test_request_trailers_of_an_http1_client_reach_an_http2_pod(self):
        reply = raw_exchange(self.port, CHUNKED_POST + LAST_GET)
        self.assertEqual(reply.count(b"0\r\nx-pod: mydb-0\r\n\r\n"), 2, reply)
        first = self.pod.requests[0]
        self.assertEqual((first["body"], first["trailers"]), ("hello", [["x-digest", "abc"]]))
        self.assertNotIn("x-digest", [name for name, _ in first["headers"]])
        self.assertEqual(self.pod.requests[1]["trailers"], [])  # not carried to the next request

    def test_a_connection_field_in_trailers_does_not_end_the_connection(self):
        self.assert_a_trailer_does_not_decide_the_connection()

    def test_an_http2_clients_trailers_over_the_limit_cancel_the_pods_stream(self):
        fields = [(f"x-f{i}", "a" * 4000) for i in range(20)]
        status, _, _, _ = h2_call(self.port, "/up", body=b"hello", trailers=fields)
        self.assertEqual(status, 431)
        self.assertEqual(h2_call(self.port, "/next")[0], 200)
        self.assertEqual([r["body"] for r in self.pod.requests], [""])  # only /next ended there

    def test_an_http2_clients_trailers_reach_the_pod_and_come_back(self):
        status, _, body, trailers = h2_call(self.port, "/up", body=b"hello",
                                            trailers=[("x-digest", "abc")])
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["trailers"], [["x-digest", "abc"]])
        self.assertEqual(trailers, [("x-pod", "mydb-0")])


if __name__ == "__main__":
    unittest.main()
