"""End-to-end: the process around the routes — drain and reload (SIGTERM, SIGHUP), the admin
endpoints, and the command line — through the real binary, dnsmasq and pod processes."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import unittest

from test_tcp import srv_service, tcp_listener
from testbed import BIN, TestBed, banner, connect, free_port, metric, read_line, wait_for


def wakeups_while(pid, action):
    """Runs `action`; returns how often the process's threads were woken meanwhile (voluntary
    context switches, summed over /proc/PID/task) and how long it took in seconds."""
    def total():
        count = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                count += sum(int(line.split()[1]) for line in f
                             if line.startswith("voluntary_ctxt_switches:"))
        return count
    before, started = total(), time.monotonic()
    action()
    return total() - before, time.monotonic() - started


class Lifecycle(TestBed):
    def setUp(self):
        super().setUp()
        self.name, self.pod_port, _ = self.statefulset(3)
        self.dns.start()
        self.lport = free_port()

    def config(self, ordinal, **extra):
        return self.base_config({"mydb": srv_service(self.name)},
                                [tcp_listener("one", self.lport, {"ordinal": ordinal})], **extra)

    def test_reload_good_then_bad(self):
        r = self.router(self.config(0))
        held = connect(self.lport)
        self.assertTrue(read_line(held).startswith("pod=mydb-0 "))
        r.write(self.config(1))
        r.signal(signal.SIGHUP)
        wait_for(lambda: metric(r.metrics(), "podrouter_config_reloads_total", result="ok") == 1,
                 what="reload ok")
        self.assertTrue(banner(self.lport).startswith("pod=mydb-1 "))  # same socket, new route
        held.sendall(b"kept\n")
        self.assertEqual(read_line(held), "kept\n")
        r.write("listeners: [\n  bad yaml")
        r.signal(signal.SIGHUP)
        wait_for(lambda: metric(r.metrics(), "podrouter_config_reloads_total", result="error") == 1,
                 what="reload error")
        self.assertTrue(banner(self.lport).startswith("pod=mydb-1 "))
        self.assertIn("event=reload_failed", r.logs())
        self.assertIn("podrouter.yaml:", r.logs())  # the parse error names the file
        held.close()

    def test_a_configmap_update_reloads_without_a_signal(self):
        """The kubelet's way of updating a mounted ConfigMap: the files go to a new timestamped
        directory, a `..data_tmp` link to it is renamed over `..data`, the old directory goes.
        podrouter.yaml itself is a link to ..data/podrouter.yaml and never changes."""
        volume = os.path.join(self.tmp, "configmap")
        os.mkdir(volume)
        generation = [0]

        def kubelet_update(config):
            generation[0] += 1
            stamp = f"..2026_11_30_01_00_00.{generation[0]:09d}"
            os.mkdir(os.path.join(volume, stamp))
            with open(os.path.join(volume, stamp, "podrouter.yaml"), "w") as f:
                f.write(json.dumps(config) if isinstance(config, dict) else config)
            os.symlink(stamp, os.path.join(volume, "..data_tmp"))
            old = os.readlink(os.path.join(volume, "..data")) if generation[0] > 1 else None
            os.rename(os.path.join(volume, "..data_tmp"), os.path.join(volume, "..data"))
            if old:
                shutil.rmtree(os.path.join(volume, old))

        r = self.router(self.config(0), start=False)
        config = lambda ordinal: dict(self.config(ordinal),
                                      admin={"bind": f"127.0.0.1:{r.admin_port}"})
        kubelet_update(config(0))
        os.symlink("..data/podrouter.yaml", os.path.join(volume, "podrouter.yaml"))
        r.path = os.path.join(volume, "podrouter.yaml")
        r.start()
        reloads = lambda result: metric(r.metrics(), "podrouter_config_reloads_total",
                                        result=result)
        self.assertTrue(banner(self.lport).startswith("pod=mydb-0 "))

        kubelet_update(config(1))
        wait_for(lambda: reloads("ok") == 1, what="the update reloaded")
        self.assertTrue(banner(self.lport).startswith("pod=mydb-1 "))
        self.assertIn("event=reload_requested trigger=config_changed", r.logs())

        kubelet_update("listeners: [\n  bad yaml")  # a bad edit: logged, counted, config kept
        wait_for(lambda: reloads("error") == 1, what="the bad edit counted")
        self.assertTrue(banner(self.lport).startswith("pod=mydb-1 "))
        self.assertIn("event=reload_failed", r.logs())

        kubelet_update(config(2))  # the fix
        wait_for(lambda: reloads("ok") == 2, what="the fixed edit reloaded")
        self.assertTrue(banner(self.lport).startswith("pod=mydb-2 "))
        # One update, one reload: the swap's burst of events was debounced, and podrouter's own
        # log file in the same kind of directory is not a config change.
        time.sleep(1.0)
        self.assertEqual((reloads("ok"), reloads("error")), (2, 1))
        self.assertEqual(r.logs().count("trigger=config_changed"), 3)

    def test_a_config_that_links_elsewhere_reloads_when_its_target_is_edited(self):
        elsewhere = os.path.join(self.tmp, "elsewhere")
        mounted = os.path.join(self.tmp, "mounted")
        os.mkdir(elsewhere)
        os.mkdir(mounted)
        r = self.router(self.config(0), start=False)
        config = lambda ordinal: json.dumps(dict(self.config(ordinal),
                                                 admin={"bind": f"127.0.0.1:{r.admin_port}"}))
        with open(os.path.join(elsewhere, "real.yaml"), "w") as f:
            f.write(config(0))
        os.symlink(os.path.join(elsewhere, "real.yaml"), os.path.join(mounted, "podrouter.yaml"))
        r.path = os.path.join(mounted, "podrouter.yaml")
        r.start()
        with open(os.path.join(elsewhere, "real.yaml"), "w") as f:  # the target, edited in place
            f.write(config(1))
        wait_for(lambda: metric(r.metrics(), "podrouter_config_reloads_total", result="ok") == 1,
                 what="the edit of the link's target reloaded")
        self.assertTrue(banner(self.lport).startswith("pod=mydb-1 "))
        with open(os.path.join(elsewhere, "other.yaml"), "w") as f:  # a neighbour: no reload
            f.write(config(2))
        os.replace(os.path.join(mounted, "podrouter.yaml"), os.path.join(mounted, "old"))
        os.symlink(os.path.join(elsewhere, "other.yaml"), os.path.join(mounted, "podrouter.yaml"))
        wait_for(lambda: metric(r.metrics(), "podrouter_config_reloads_total", result="ok") == 2,
                 what="the re-aimed link reloaded")
        self.assertTrue(banner(self.lport).startswith("pod=mydb-2 "))
        with open(os.path.join(elsewhere, "other.yaml"), "w") as f:  # the new target, edited
            f.write(config(0))
        wait_for(lambda: metric(r.metrics(), "podrouter_config_reloads_total", result="ok") == 3,
                 what="the edit of the new target reloaded")

    def test_an_edit_in_place_reloads_and_a_touch_does_not(self):
        r = self.router(self.config(0))
        r.write(self.config(2))  # an editor writing the file itself
        wait_for(lambda: metric(r.metrics(), "podrouter_config_reloads_total", result="ok") == 1,
                 what="the edit reloaded")
        self.assertTrue(banner(self.lport).startswith("pod=mydb-2 "))
        os.utime(r.path)  # an event, same content: nothing to reload
        with open(os.path.join(self.tmp, "other.yaml"), "w") as f:
            f.write("not the config")
        time.sleep(1.0)
        self.assertEqual(metric(r.metrics(), "podrouter_config_reloads_total", result="ok"), 1)
        self.assertEqual(r.logs().count("trigger=config_changed"), 1)

    def test_a_config_directory_that_goes_away_is_watched_again_when_it_is_back(self):
        # Found by the breaker: after `rm -rf` and `mkdir` of the config's directory (or its
        # rename), no edit reloaded again, and nothing said so.
        volume = os.path.join(self.tmp, "conf")
        os.mkdir(volume)
        r = self.router(self.config(0), start=False)
        config = lambda ordinal: json.dumps(dict(self.config(ordinal),
                                                 admin={"bind": f"127.0.0.1:{r.admin_port}"}))
        r.path = os.path.join(volume, "podrouter.yaml")
        with open(r.path, "w") as f:
            f.write(config(0))
        r.start()
        reloads = lambda: metric(r.metrics(), "podrouter_config_reloads_total", result="ok")
        for n, (gone, ordinal) in enumerate([(shutil.rmtree, 1), (
                lambda d: os.rename(d, d + ".old"), 2)], start=1):
            gone(volume)
            wait_for(lambda: r.logs().count("event=config_watch_lost") == n,
                     what="the lost directory logged")
            os.mkdir(volume)
            with open(r.path, "w") as f:
                f.write(config(ordinal))
            wait_for(lambda: reloads() == n, what="the config in the new directory loaded")
            self.assertTrue(banner(self.lport).startswith(f"pod=mydb-{ordinal} "))
        with open(r.path, "w") as f:  # and edits are followed again
            f.write(config(0))
        wait_for(lambda: reloads() == 3, what="an edit after the directory came back")
        self.assertEqual(r.logs().count("event=config_watch_resumed"), 2)

    def test_a_config_directory_relinked_or_replaced_is_followed(self):
        # Found by the second breaker: with the config directory a link, re-aiming it (or
        # replacing it by a real directory) left the watch on the old target for good.
        first, second = os.path.join(self.tmp, "first"), os.path.join(self.tmp, "second")
        link = os.path.join(self.tmp, "conf")
        r = self.router(self.config(0), start=False)
        config = lambda ordinal: json.dumps(dict(self.config(ordinal),
                                                 admin={"bind": f"127.0.0.1:{r.admin_port}"}))
        for directory, ordinal in ((first, 0), (second, 1)):
            os.mkdir(directory)
            with open(os.path.join(directory, "podrouter.yaml"), "w") as f:
                f.write(config(ordinal))
        os.symlink(first, link)
        r.path = os.path.join(link, "podrouter.yaml")
        r.start()
        reloads = lambda: metric(r.metrics(), "podrouter_config_reloads_total", result="ok")
        os.symlink(second, link + ".new")
        os.replace(link + ".new", link)  # re-aimed in one rename
        wait_for(lambda: reloads() == 1, what="the re-aimed link followed")
        self.assertTrue(banner(self.lport).startswith("pod=mydb-1 "))
        os.remove(link)
        os.mkdir(link)  # a real directory where the link was
        with open(r.path, "w") as f:
            f.write(config(2))
        wait_for(lambda: reloads() == 2, what="the real directory followed")
        with open(r.path, "w") as f:
            f.write(config(0))
        wait_for(lambda: reloads() == 3, what="an edit in it")
        self.assertTrue(banner(self.lport).startswith("pod=mydb-0 "))

    def test_writes_next_to_the_config_do_not_wake_podrouter(self):
        # The directory is watched for what completes a change (a close after writing, a rename),
        # not for every write(2): with libuv's watch, a log written line by line next to the
        # config woke podrouter once per line (2,000 here), and h2load's log in the benchmark's
        # directory cost podrouter a third more CPU per request.
        r = self.router(self.config(0))
        neighbour = os.path.join(os.path.dirname(r.path), "app.log")

        def writes():
            with open(neighbour, "w") as log:
                for i in range(2000):
                    log.write(f"line {i}\n")
                    log.flush()
                    time.sleep(0.0005)

        during, seconds = wakeups_while(r.proc.pid, writes)
        idle, _ = wakeups_while(r.proc.pid, lambda: time.sleep(seconds))
        self.assertLess(during, idle + 200, f"{during} wakeups during 2,000 writes, {idle} idle")
        self.assertEqual(r.logs().count("trigger=config_changed"), 0)

    def test_reload_with_new_dns_settings_keeps_the_pods(self):
        # New DNS settings rebuild the DNS client and every resolver; the rebuilt resolvers start
        # from the pods they knew, so routing never sees an empty set in between.
        r = self.router(self.config(2))
        held = connect(self.lport)
        self.assertTrue(read_line(held).startswith("pod=mydb-2 "))
        config = self.config(2)
        config["dns"] = dict(config["dns"], timeout="700ms")
        r.write(config)
        r.signal(signal.SIGHUP)
        wait_for(lambda: metric(r.metrics(), "podrouter_config_reloads_total", result="ok") == 1,
                 what="reload ok")
        self.assertEqual(r.admin("/ready")[0], 200)
        self.assertTrue(banner(self.lport).startswith("pod=mydb-2 "))
        held.sendall(b"kept\n")
        self.assertEqual(read_line(held), "kept\n")
        held.close()
        # The new client resolves: a pod that moves is followed.
        self.pod("mydb-2", "127.0.1.12", self.pod_port)
        self.dns.hosts[f"mydb-2.{self.name}"] = ["127.0.1.12"]
        self.dns.reload_hosts()
        wait_for(lambda: banner(self.lport) == f"pod=mydb-2 addr=127.0.1.12:{self.pod_port}",
                 what="the new address through the new DNS client")

    def test_reload_adds_and_removes_listeners(self):
        r = self.router(self.config(0))
        other = free_port()
        config = self.config(0)
        config["listeners"] = [tcp_listener("two", other, {"ordinal": 2})]
        r.write(config)
        r.signal(signal.SIGHUP)
        wait_for(lambda: metric(r.metrics(), "podrouter_config_reloads_total", result="ok") == 1,
                 what="reload ok")
        self.assertTrue(banner(other).startswith("pod=mydb-2 "))
        with self.assertRaises(ConnectionRefusedError):
            connect(self.lport)

    def test_reload_to_busy_port_keeps_running_config(self):
        r = self.router(self.config(0))
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        config = self.config(0)
        config["listeners"].append(tcp_listener("two", busy.getsockname()[1], {"ordinal": 1}))
        r.write(config)
        r.signal(signal.SIGHUP)
        wait_for(lambda: metric(r.metrics(), "podrouter_config_reloads_total", result="error") == 1,
                 what="reload error")
        self.assertIn("address already in use", r.logs())
        self.assertTrue(banner(self.lport).startswith("pod=mydb-0 "))
        busy.close()

    def test_sigterm_drains_open_session(self):
        r = self.router(self.config(0))
        held = connect(self.lport)
        read_line(held)
        r.signal(signal.SIGTERM)
        wait_for(lambda: r.admin("/ready")[0] == 503, what="not ready while draining")
        self.assertEqual(r.admin("/healthz")[0], 200)
        with connect(self.lport) as new:  # the application may still open connections
            self.assertTrue(read_line(new).startswith("pod="))
        held.sendall(b"during drain\n")
        self.assertEqual(read_line(held), "during drain\n")
        self.assertIsNone(r.proc.poll())
        held.close()
        self.assertEqual(r.proc.wait(5), 0)

    def test_drain_timeout_aborts_sessions(self):
        r = self.router(self.config(0, drain_timeout="500ms"))
        held = connect(self.lport)
        read_line(held)
        started = time.monotonic()
        r.signal(signal.SIGTERM)
        self.assertEqual(r.proc.wait(10), 0)
        self.assertGreaterEqual(time.monotonic() - started, 0.4)
        self.assertIn("event=drain_timeout", r.logs())
        held.close()


class Admin(TestBed):
    def test_metrics_pass_promtool(self):
        name, port, _ = self.statefulset(2)
        self.dns.start()
        lport = free_port()
        r = self.router(self.base_config({"mydb": srv_service(name, replicas=2)},
                                         [tcp_listener("one", lport, {"ordinal": 0})]))
        banner(lport)
        status, text = r.admin("/metrics")
        self.assertEqual(status, 200)
        for required in ["podrouter_build_info", "podrouter_listener_connections_total",
                         "podrouter_listener_connections_active",
                         "podrouter_upstream_connections_total",
                         "podrouter_upstream_connect_failures_total",
                         "podrouter_upstream_bytes_sent_total",
                         "podrouter_upstream_bytes_received_total",
                         "podrouter_route_failures_total", "podrouter_dns_resolutions_total",
                         "podrouter_dns_resolution_duration_seconds",
                         "podrouter_service_endpoints", "podrouter_config_reloads_total",
                         "podrouter_http_request_duration_seconds"]:
            self.assertIn(f"# TYPE {required} ", text)
        check = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                               capture_output=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_admin_errors(self):
        name, port, _ = self.statefulset(1)
        self.dns.start()
        r = self.router(self.base_config({"mydb": srv_service(name, replicas=1)},
                                         [tcp_listener("one", free_port(), {"ordinal": 0})]))
        self.assertEqual(r.admin("/nope")[0], 404)
        with connect(r.admin_port) as s:
            s.sendall(b"POST /ready HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            self.assertIn(b" 405 ", s.recv(4096))
        with connect(r.admin_port) as s:
            s.sendall(b"GARBAGE\r\n\r\n")
            self.assertIn(b" 400 ", s.recv(4096))
        with connect(r.admin_port) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\n" + b"X-Filler: " + b"a" * 9000 + b"\r\n\r\n")
            self.assertIn(b" 431 ", s.recv(4096))
        self.assertEqual(r.admin("/healthz")[0], 200)


class CommandLine(TestBed):
    def run_cli(self, *args, env=None):
        return subprocess.run([BIN, *args], capture_output=True, timeout=20, env=env)

    def test_version(self):
        out = self.run_cli("version")
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout.decode(), r"^podrouter \d+\.\d+\.\d+\n$")

    def test_validate(self):
        good = os.path.join(self.tmp, "good.yaml")
        with open(good, "w") as f:
            f.write("services:\n  db: {name: db.ns.svc.cluster.local, discovery: srv, "
                    "port_name: pg, replicas: 2}\nlisteners:\n  - name: a\n    bind: "
                    "127.0.0.1:15432\n    service: db\n    route: {ordinal: 1}\n")
        out = self.run_cli("validate", "--config", good)
        self.assertEqual(out.returncode, 0, out.stderr)
        bad = os.path.join(self.tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("services:\n  db: {name: db.ns.svc.cluster.local, discovery: srv, "
                    "port_name: pg, replicas: 2}\nlisteners:\n  - name: a\n    bind: "
                    "127.0.0.1:15432\n    service: db\n    route: {ordinal: -1}\n    colour: red\n")
        out = self.run_cli("validate", "--config", bad)
        self.assertEqual(out.returncode, 1)
        self.assertEqual(out.stderr.decode().splitlines(), [
            f"{bad}:7:22: listeners[0].route.ordinal: expected a non-negative integer or "
            "port_offset",
            f"{bad}:8:5: listeners[0].colour: unknown key 'colour'"])
        env = dict(os.environ, PODROUTER_CONFIG=good)
        self.assertEqual(self.run_cli("validate", env=env).returncode, 0)

    def test_run_bad_config_starts_nothing(self):
        bad = os.path.join(self.tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("listeners: []\n")
        out = self.run_cli("run", "--config", bad)
        self.assertEqual(out.returncode, 1)
        self.assertIn("services: missing required key", out.stderr.decode())

    def test_run_busy_port_exits_cleanly(self):
        name, port, _ = self.statefulset(1, start_pods=False)
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        r = self.router(self.base_config({"mydb": srv_service(name, replicas=1)},
                                         [tcp_listener("one", busy.getsockname()[1],
                                                       {"ordinal": 0})]), start=False)
        r.expect_exit = True
        r.start(wait_ready=False)
        self.assertEqual(r.proc.wait(10), 1)
        self.assertIn("address already in use", r.logs())
        busy.close()

    def test_usage_errors(self):
        for args in [(), ("frobnicate",), ("run",), ("run", "--config"), ("validate", "--bogus")]:
            out = self.run_cli(*args, env={"PATH": os.environ.get("PATH", "")})
            self.assertEqual(out.returncode, 1, args)
            self.assertIn(b"usage: podrouter", out.stderr)


if __name__ == "__main__":
    unittest.main()
