"""End-to-end: scripts/demo, as a newcomer runs it after scripts/setup — the walk through every
route kind against the stand-in cluster, and --keep leaving the stack up until Ctrl-C, with
everything it started stopped afterwards."""
import os
import re
import signal
import socket
import subprocess
import time
import unittest
import urllib.request

from shardmap import owner

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(HERE, "..", "..", "scripts", "demo")


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as f:  # a zombie no one reaped yet is gone too
        return f.read().split(") ")[1].startswith("Z")


class Demo(unittest.TestCase):
    def test_the_walk_through(self):
        out = subprocess.run([DEMO], capture_output=True, text=True, timeout=240)
        self.assertEqual(out.returncode, 0, out.stdout[-3000:] + out.stderr[-3000:])
        text = out.stdout
        self.assertIn("every answer came from the expected pod", text)
        self.assertNotIn("UNEXPECTED", text)
        # Each kind was shown with its answer: 4 shard keys, 3 ports, an ordinal, the primary,
        # and the recreated pod twice.
        self.assertEqual(text.count("-> ok:"), 11, text)
        for kind in ("shard key", "One local port per pod", "names the pod", "fixed ordinal",
                     "Maglev", "/endpoints", "recreated with a new IP"):
            self.assertIn(kind, text)
        self.assertIn('{"error":"no_endpoint","service":"mydb","ordinal":7}', text)
        self.assertRegex(text, r'podrouter_http_requests_total\{[^}]*listener="sharded"')
        self.assertIn("127.0.1.12", text)
        self.assertIn("demo: stopped podrouter, dnsmasq, 3 pods", out.stderr)

    def test_keep_leaves_the_stack_up_until_ctrl_c(self):
        proc = subprocess.Popen([DEMO, "--keep"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        lines = []
        deadline = time.monotonic() + 240
        try:
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
                if line.startswith("processes:"):
                    break
            text = "".join(lines)
            self.assertIn("The stack is up", text, text[-3000:] + proc.stderr.read()
                          if proc.poll() is not None else text[-3000:])
            port = int(re.search(r"x-tenant-id: KEY' http://127.0.0.1:(\d+)/", text).group(1))
            pids = [int(p) for p in re.findall(r"=(\d+)", lines[-1])]
            self.assertEqual(len(pids), 5)
            req = urllib.request.Request(f"http://127.0.0.1:{port}/poke",
                                         headers={"x-tenant-id": "alice"})
            with urllib.request.urlopen(req, timeout=5) as r:
                self.assertEqual(r.read().decode(), f"pod=mydb-{owner('alice', 3)} path=/poke\n")
            time.sleep(1.0)
            self.assertIsNone(proc.poll())  # still up
            proc.send_signal(signal.SIGINT)
            rest, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("demo: stopped podrouter, dnsmasq, 3 pods", err)
        for pid in pids:
            self.assertTrue(gone(pid), f"process {pid} outlived the demo")
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()

    def test_a_signal_at_any_moment_stops_everything(self):
        """Ctrl-C, SIGTERM or SIGHUP (a closed terminal) while processes start, while the walk
        runs, while the stack stops, and twice in a row: nothing the demo started is left."""
        cases = [([], signal.SIGTERM, 0.2, 1), ([], signal.SIGINT, 0.6, 1),
                 ([], signal.SIGHUP, 1.2, 1), ([], signal.SIGTERM, 2.5, 2),
                 (["--keep"], signal.SIGTERM, None, 2), (["--keep"], signal.SIGHUP, None, 1)]
        for args, signo, delay, count in cases:
            with self.subTest(args=args, signal=signo.name, delay=delay, count=count):
                proc = subprocess.Popen([DEMO, *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True,
                                        start_new_session=True)
                try:
                    if delay is None:  # --keep: once the stack is up
                        deadline = time.monotonic() + 120
                        while time.monotonic() < deadline:
                            line = proc.stdout.readline()
                            if not line or line.startswith("processes:"):
                                break
                    else:
                        time.sleep(delay)
                    for _ in range(count):
                        proc.send_signal(signo)
                        time.sleep(0.2)
                    _, err = proc.communicate(timeout=60)
                finally:
                    if proc.poll() is None:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.communicate()
                self.assertIn(proc.returncode, (0, 130), err)
                self.assertNotIn("Traceback", err)
                left = session_members(proc.pid)
                for pid in left:
                    os.kill(pid, signal.SIGKILL)
                self.assertEqual(left, [], f"left running: {left}\n{err}")


def session_members(sid):
    """Live processes of session `sid` (the demo ran as its leader)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # fields: state, ppid, pgrp, session
            pids.append(int(entry))
    return pids


if __name__ == "__main__":
    unittest.main()
