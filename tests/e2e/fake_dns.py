#!/usr/bin/env python3
"""A misbehaving DNS server for the fault tests, UDP and TCP on 127.0.0.1:PORT.

It answers a headless Service's SRV query (with A records in the additional section) and its pods'
A queries from a JSON zone file, and misbehaves as the mode file says — re-read on every query, so
a test can switch modes while podrouter runs:
  ok         answer from the zone
  servfail   rcode 2          refused   rcode 5          nxdomain  rcode 3
  timeout    no reply at all
  garbage    random bytes with the query's id
  truncated  UDP: TC set and no records; TCP: the connection is closed without an answer
  badtcp     UDP: TC set; TCP: a length prefix promising more than is sent
Prints "ready" once listening. Usage: fake_dns.py PORT ZONE_JSON MODE_FILE
"""
import json
import os
import socket
import struct
import sys
import threading


def name_wire(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split(".")) + b"\0"


def parse_question(data):
    pos, labels = 12, []
    while data[pos]:
        labels.append(data[pos + 1:pos + 1 + data[pos]].decode(errors="replace"))
        pos += data[pos] + 1
    qtype = struct.unpack(">H", data[pos + 1:pos + 3])[0]
    return ".".join(labels).lower(), qtype, data[12:pos + 5]


def build(query, zone, rcode=0, tc=False, records=True):
    qid = query[:2]
    qname, qtype, question = parse_question(query)
    answers, additional = [], []
    if records and rcode == 0:
        if qtype == 33 and qname in zone.get("srv", {}):
            for target, port in zone["srv"][qname]:
                rdata = struct.pack(">HHH", 0, 10, port) + name_wire(target)
                answers.append(name_wire(qname) + struct.pack(">HHIH", 33, 1, 1, len(rdata)) + rdata)
                if target in zone.get("a", {}):
                    additional.append(name_wire(target) + struct.pack(">HHIH", 1, 1, 1, 4) +
                                      socket.inet_aton(zone["a"][target]))
        elif qtype == 1 and qname in zone.get("a", {}):
            answers.append(name_wire(qname) + struct.pack(">HHIH", 1, 1, 1, 4) +
                           socket.inet_aton(zone["a"][qname]))
        elif qtype not in (1, 28, 33) or (qname not in zone.get("a", {}) and
                                           qname not in zone.get("srv", {})):
            rcode = 3
    flags = 0x8000 | 0x0400 | (0x0200 if tc else 0) | 0x0100 | 0x0080 | rcode
    header = qid + struct.pack(">HHHHH", flags, 1, len(answers), 0, len(additional))
    return header + question + b"".join(answers) + b"".join(additional)


class Server:
    def __init__(self, port, zone_file, mode_file):
        self.port, self.zone_file, self.mode_file = port, zone_file, mode_file

    def mode(self):
        try:
            with open(self.mode_file) as f:
                return f.read().strip() or "ok"
        except OSError:
            return "ok"

    def zone(self):
        with open(self.zone_file) as f:
            return json.load(f)

    def reply(self, query, tcp):
        mode = self.mode()
        if mode == "timeout":
            return None
        if mode == "garbage":
            return query[:2] + os.urandom(40)
        if mode in ("truncated", "badtcp"):
            if not tcp:
                return build(query, self.zone(), tc=True, records=False)
            return b"" if mode == "truncated" else struct.pack(">H", 500) + build(query, {})[:20]
        rcode = {"servfail": 2, "refused": 5, "nxdomain": 3}.get(mode, 0)
        return build(query, self.zone(), rcode=rcode)

    def udp(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", self.port))
        while True:
            data, peer = s.recvfrom(4096)
            try:
                out = self.reply(data, tcp=False)
            except Exception:  # a malformed query gets no answer
                continue
            if out is not None:
                s.sendto(out, peer)

    def tcp_conn(self, conn):
        with conn:
            try:
                while True:
                    head = conn.recv(2)
                    if len(head) < 2:
                        return
                    (n,) = struct.unpack(">H", head)
                    data = b""
                    while len(data) < n:
                        chunk = conn.recv(n - len(data))
                        if not chunk:
                            return
                        data += chunk
                    out = self.reply(data, tcp=True)
                    if out is None:
                        continue
                    if out == b"":
                        return
                    if self.mode() == "badtcp":
                        conn.sendall(out)
                        return
                    conn.sendall(struct.pack(">H", len(out)) + out)
            except OSError:
                return

    def tcp(self, listener):
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=self.tcp_conn, args=(conn,), daemon=True).start()


def main():
    port, zone_file, mode_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    server = Server(port, zone_file, mode_file)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    threading.Thread(target=server.tcp, args=(listener,), daemon=True).start()
    print("ready", flush=True)
    server.udp()


if __name__ == "__main__":
    main()
