#!/usr/bin/env python3
"""A backend "pod" for end-to-end tests: a TCP server bound to one loopback address.

Modes:
  echo   sends "pod=NAME addr=IP:PORT\n", then echoes every byte; on the client's FIN it
         finishes echoing, then closes (half-close passes through the proxy both ways).
  silent reads and discards everything, never writes.
  stall  accepts and never reads (its receive window fills up).
It prints "ready" on stdout once it listens.
"""
import argparse
import socket
import sys
import threading


def serve_echo(conn, banner):
    try:
        conn.sendall(banner)
        while True:
            data = conn.recv(65536)
            if not data:
                conn.shutdown(socket.SHUT_WR)
                break
            conn.sendall(data)
    except OSError:
        pass
    finally:
        conn.close()


def serve_silent(conn, banner):
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass
    finally:
        conn.close()


def serve_stall(conn, banner):
    held.append(conn)  # kept open, never read


held = []


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--ip", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", default="echo", choices=["echo", "silent", "stall"])
    args = parser.parse_args()
    family = socket.AF_INET6 if ":" in args.ip else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((args.ip, args.port))
    server.listen(512)
    banner = f"pod={args.name} addr={args.ip}:{args.port}\n".encode()
    handler = {"echo": serve_echo, "silent": serve_silent, "stall": serve_stall}[args.mode]
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=handler, args=(conn, banner), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
