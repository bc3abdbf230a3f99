// Config loader: every error message, with its position and path, and the defaults it fills in.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "config/loader.h"
#include "config/values.h"

namespace podrouter::config {
namespace {

using ::testing::ElementsAre;

constexpr char kService[] =
    "services:\n"
    "  mydb: {name: mydb.default.svc.cluster.local, discovery: srv, port_name: pg, replicas: 3}\n";

std::vector<std::string> Errors(const std::string& yaml) {
  LoadResult r = LoadConfigString(yaml, "c.yaml");
  EXPECT_EQ(r.config.has_value(), r.errors.empty());
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(e.ToString());
  return out;
}

// A config with the standard service and one listener whose body is `listener` (YAML flow map).
std::vector<std::string> ListenerErrors(const std::string& listener) {
  return Errors(std::string(kService) + "listeners:\n  - " + listener + "\n");
}

Config Load(const std::string& yaml) {
  LoadResult r = LoadConfigString(yaml, "c.yaml");
  for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
  return r.config.value_or(Config{});
}

TEST(ConfigLoader, SpecExampleLoadsWithEveryField) {
  Config c = Load(R"(
admin:
  bind: 127.0.0.1:9901
workers: 1
dns:
  servers: ["10.96.0.10", "127.0.0.1:5353", "[::1]:53"]
  timeout: 2s
  min_refresh: 1s
  max_refresh: 30s
drain_timeout: 20s
timeouts: {connect: 1s, request: 15s, idle: 300s}
limits: {max_connections: 10000, max_header_bytes: 65536}
services:
  mydb:
    name: mydb.default.svc.cluster.local
    discovery: srv
    port_name: postgres
    port: 5432
    statefulset: mydb
    replicas: 3
    ordinal_start: 0
listeners:
  - {name: primary, bind: "127.0.0.1:15432", protocol: tcp, service: mydb, route: {ordinal: 0}}
  - {name: per-pod, bind: "127.0.0.1:16000-16009", protocol: tcp, service: mydb,
     route: {ordinal: port_offset}, timeouts: {idle: 10m}}
  - name: sharded
    bind: 127.0.0.1:18080
    protocol: http
    service: mydb
    route:
      shard_key: {header: X-Shard-Key}
      shards: 3
      on_missing_key: reject
      fallback: none
  - {name: by-ordinal, bind: "127.0.0.1:18081", protocol: http, service: mydb,
     route: {ordinal_header: x-pod-ordinal}}
  - {name: spread, bind: "127.0.0.1:18082", protocol: http, service: mydb,
     route: {balance: maglev, shard_key: {header: x-user}}}
)");
  EXPECT_THAT(c.dns.servers, ElementsAre("10.96.0.10:53", "127.0.0.1:5353", "[::1]:53"));
  ASSERT_EQ(c.listeners.size(), 5u);
  EXPECT_EQ(c.listeners[1].route.kind, Route::Kind::kPortOffset);
  EXPECT_EQ(c.listeners[1].bind.port_first, 16000);
  EXPECT_EQ(c.listeners[1].bind.port_last, 16009);
  EXPECT_EQ(c.listeners[1].timeouts.idle, Millis(600000));
  EXPECT_EQ(c.listeners[1].timeouts.connect, Millis(1000));        // inherited
  EXPECT_EQ(c.listeners[2].route.shard_key->name, "x-shard-key");  // headers lower-cased
  EXPECT_EQ(c.listeners[2].route.shards, 3u);
  EXPECT_EQ(c.listeners[3].route.kind, Route::Kind::kOrdinalHeader);
  EXPECT_EQ(c.listeners[4].route.balance, Route::Balance::kMaglev);
  EXPECT_EQ(c.services[0].statefulset, "mydb");
}

TEST(ConfigLoader, Defaults) {
  Config c =
      Load(std::string(kService) +
           "listeners: [{name: a, bind: '127.0.0.1:1000', service: mydb, route: {ordinal: 1}}]");
  EXPECT_EQ(c.admin_bind.ToString(), "127.0.0.1:9901");
  EXPECT_EQ(c.workers, 1u);
  EXPECT_TRUE(c.dns.servers.empty());
  EXPECT_EQ(c.dns.timeout, Millis(2000));
  EXPECT_EQ(c.drain_timeout, Millis(20000));
  EXPECT_EQ(c.drain_quiet, Millis(2000));
  EXPECT_EQ(c.listeners[0].protocol, Protocol::kTcp);
  EXPECT_EQ(c.listeners[0].limits.max_connections, 10000u);
  EXPECT_EQ(c.listeners[0].timeouts.idle, Millis(300000));
  EXPECT_EQ(c.services[0].ordinal_start, 0u);
}

TEST(ConfigLoader, DrainQuietIsShorterThanDrainTimeout) {
  const std::string listeners =
      "listeners: [{name: a, bind: '127.0.0.1:1000', service: mydb, route: {ordinal: 1}}]\n";
  EXPECT_EQ(Load(std::string(kService) + "drain_quiet: 500ms\n" + listeners).drain_quiet,
            Millis(500));
  EXPECT_THAT(Errors(std::string(kService) + "drain_timeout: 10s\ndrain_quiet: 30s\n" + listeners),
              ElementsAre("c.yaml:4:14: drain_quiet: must be shorter than drain_timeout "
                          "(10000ms), or every drain runs to its timeout"));
  EXPECT_THAT(Errors(std::string(kService) + "drain_quiet: soon\n" + listeners),
              ElementsAre(::testing::HasSubstr("drain_quiet")));
}

TEST(ConfigLoader, ShardsDefaultToReplicas) {
  Config c = Load(std::string(kService) +
                  "listeners: [{name: a, bind: '127.0.0.1:1000', protocol: http, service: mydb, "
                  "route: {shard_key: {query: k}}}]");
  EXPECT_EQ(c.listeners[0].route.shards, 3u);
  EXPECT_EQ(c.listeners[0].route.shard_key->source, ShardKey::Source::kQuery);
}

TEST(ConfigLoader, StatefulSetDefaultsToFirstLabel) {
  Config c = Load(
      "services: {w: {name: Web.prod.svc.cluster.local., discovery: ordinals, replicas: 2, "
      "port: 80}}\nlisteners: [{name: a, bind: '[::1]:1000', service: w, route: {ordinal: 0}}]");
  EXPECT_EQ(c.services[0].name, "web.prod.svc.cluster.local");
  EXPECT_EQ(c.services[0].statefulset, "web");
  EXPECT_TRUE(c.listeners[0].bind.ipv6);
}

TEST(ConfigLoader, SyntaxErrorHasPosition) {
  EXPECT_THAT(Errors("services: {a: [1, 2\n"), ElementsAre(::testing::StartsWith("c.yaml:2:1: ")));
}

TEST(ConfigLoader, EmptyAndWrongTopLevel) {
  EXPECT_THAT(Errors(""), ElementsAre("c.yaml:1:1: the config is empty"));
  EXPECT_THAT(Errors("- a\n"), ElementsAre("c.yaml:1:1: expected a mapping"));
  EXPECT_THAT(Errors("workers: 1\n"), ElementsAre("c.yaml:1:1: services: missing required key",
                                                  "c.yaml:1:1: listeners: missing required key"));
}

TEST(ConfigLoader, UnknownKeysEverywhere) {
  EXPECT_THAT(Errors(std::string(kService) +
                     "listners: []\nlisteners: [{name: a, bind: "
                     "'127.0.0.1:1', service: mydb, route: {ordinal: 0, ordnial: 1}}]\n"
                     "dns: {server: []}\n"),
              ElementsAre("c.yaml:3:1: listners: unknown key 'listners'",
                          "c.yaml:4:79: listeners[0].route.ordnial: unknown key 'ordnial'",
                          "c.yaml:5:7: dns.server: unknown key 'server'"));
}

TEST(ConfigLoader, ScalarErrors) {
  EXPECT_THAT(
      Errors(std::string(kService) +
             "workers: many\ndrain_timeout: 20\ntimeouts: {connect: 0s, idle: 5h}\n"
             "limits: {max_connections: -1, max_header_bytes: 100}\n"
             "admin: {bind: 'localhost:9901'}\n"
             "listeners: [{name: a, bind: '127.0.0.1:1', service: mydb, route: {ordinal: 0}}]"),
      ElementsAre("c.yaml:3:10: workers: expected a non-negative integer (at most 256)",
                  "c.yaml:4:16: drain_timeout: expected a duration such as 500ms, 2s or 5m",
                  "c.yaml:5:21: timeouts.connect: must be greater than zero",
                  "c.yaml:5:31: timeouts.idle: expected a duration such as 500ms, 2s or 5m",
                  "c.yaml:6:27: limits.max_connections: expected a positive integer (at "
                  "most 10000000)",
                  "c.yaml:6:49: limits.max_header_bytes: must be at least 1024",
                  "c.yaml:7:15: admin.bind: expected IPv4:PORT or [IPv6]:PORT"));
}

TEST(ConfigLoader, DnsErrors) {
  EXPECT_THAT(
      Errors(std::string(kService) +
             "dns: {servers: ['1.2.3.4:99999', 'dns.local', 7], min_refresh: 5s, "
             "max_refresh: 1s}\n"
             "listeners: [{name: a, bind: '127.0.0.1:1', service: mydb, route: {ordinal: 0}}]"),
      ElementsAre("c.yaml:3:17: dns.servers[0]: expected a port between 1 and 65535",
                  "c.yaml:3:34: dns.servers[1]: expected IP, IP:PORT or [IPv6]:PORT",
                  "c.yaml:3:47: dns.servers[2]: expected IP, IP:PORT or [IPv6]:PORT",
                  "c.yaml:3:81: dns.max_refresh: must not be less than min_refresh"));
}

TEST(ConfigLoader, ServiceErrors) {
  EXPECT_THAT(
      Errors("services:\n"
             "  a: {discovery: srv}\n"
             "  b: {name: 'bad name!', discovery: dns, replicas: 0}\n"
             "  c: {name: c.ns, discovery: ordinals}\n"
             "  d: {name: d.ns, discovery: a, ordinal_start: x, port: 0}\n"
             "  e: {name: e.ns, discovery: srv, port_name: 'http.x', statefulset: 'A.b'}\n"
             "listeners: [{name: a, bind: '127.0.0.1:1', service: a, route: {ordinal: 0}}]"),
      ElementsAre(
          "c.yaml:2:6: services.a.name: missing required key",
          "c.yaml:2:6: services.a.port_name: missing required key (discovery: srv needs it)",
          "c.yaml:3:13: services.b.name: expected a DNS name such as "
          "mydb.default.svc.cluster.local",
          "c.yaml:3:37: services.b.discovery: expected one of srv | ordinals | a",
          "c.yaml:3:52: services.b.replicas: expected a positive integer (at most 100000)",
          "c.yaml:4:6: services.c.replicas: missing required key (discovery: ordinals needs it)",
          "c.yaml:4:6: services.c.port: missing required key (discovery: ordinals needs it)",
          "c.yaml:5:48: services.d.ordinal_start: expected a non-negative integer (at most "
          "1000000000)",
          "c.yaml:5:57: services.d.port: expected a positive integer (at most 65535)",
          "c.yaml:6:46: services.e.port_name: expected a port name such as postgres",
          "c.yaml:6:69: services.e.statefulset: expected a StatefulSet name (one DNS label)"));
}

TEST(ConfigLoader, ListenerErrors) {
  EXPECT_THAT(ListenerErrors("{bind: '127.0.0.1', protocol: udp, service: nope}"),
              ElementsAre("c.yaml:4:5: listeners[0].name: missing required key",
                          "c.yaml:4:5: listeners[0].route: missing required key",
                          "c.yaml:4:12: listeners[0].bind: missing port",
                          "c.yaml:4:35: listeners[0].protocol: expected one of tcp | http",
                          "c.yaml:4:49: listeners[0].service: no service named 'nope'"));
  EXPECT_THAT(
      ListenerErrors("{name: 'a b', bind: '1.2.3.4:9-8', service: mydb, route: {ordinal: 0}}"),
      ElementsAre("c.yaml:4:12: listeners[0].name: expected letters, digits, '-' or '_'",
                  "c.yaml:4:25: listeners[0].bind: expected a port range FIRST-LAST with "
                  "1 <= FIRST <= LAST <= 65535"));
  EXPECT_THAT(Errors(std::string(kService) +
                     "listeners:\n"
                     "  - {name: a, bind: '127.0.0.1:10-20', service: mydb, route: {ordinal: 0}}\n"
                     "  - {name: a, bind: '127.0.0.1:20', service: mydb, route: {ordinal: 0}}\n"
                     "  - {name: b, bind: '127.0.0.1:9901', service: mydb, route: {ordinal: 0}}\n"),
              ElementsAre("c.yaml:5:12: listeners[1].name: duplicates the name of listeners[0]",
                          "c.yaml:5:21: listeners[1].bind: overlaps listeners[0].bind",
                          "c.yaml:6:21: listeners[2].bind: overlaps admin.bind"));
  EXPECT_THAT(Errors(std::string(kService) + "listeners: []\n"),
              ElementsAre("c.yaml:3:12: listeners: expected a non-empty list of listeners"));
}

TEST(ConfigLoader, RouteErrors) {
  auto route = [](const std::string& protocol, const std::string& r) {
    return ListenerErrors("{name: a, bind: '127.0.0.1:1', protocol: " + protocol +
                          ", service: mydb, route: " + r + "}");
  };
  EXPECT_THAT(route("tcp", "{ordinal: -1}"),
              ElementsAre("c.yaml:4:83: listeners[0].route.ordinal: expected a non-negative "
                          "integer or port_offset"));
  EXPECT_THAT(route("tcp", "{}"),
              ElementsAre("c.yaml:4:73: listeners[0].route: expected one of ordinal, shard_key, "
                          "ordinal_header, balance"));
  EXPECT_THAT(route("tcp", "{ordinal: 1, shards: 3}"),
              ElementsAre("c.yaml:4:86: listeners[0].route.shards: not allowed with a fixed "
                          "ordinal route"));
  EXPECT_THAT(route("tcp", "{shard_key: {header: x}}"),
              ElementsAre("c.yaml:4:85: listeners[0].route.shard_key: needs protocol: http"));
  EXPECT_THAT(route("tcp", "{balance: maglev}"),
              ElementsAre("c.yaml:4:73: listeners[0].route.shard_key: missing required key "
                          "(balance: maglev hashes it)"));
  EXPECT_THAT(route("http", "{balance: random}"),
              ElementsAre("c.yaml:4:84: listeners[0].route.balance: expected one of maglev | "
                          "round_robin"));
  EXPECT_THAT(route("http", "{shard_key: {header: a, query: b}}"),
              ElementsAre("c.yaml:4:86: listeners[0].route.shard_key: expected exactly one of "
                          "header, query, cookie, path_segment"));
  EXPECT_THAT(
      route("http", "{shard_key: {cookie: 'a;b'}, on_missing_key: drop, fallback: x}"),
      ElementsAre("c.yaml:4:95: listeners[0].route.shard_key.cookie: expected a valid "
                  "cookie name",
                  "c.yaml:4:119: listeners[0].route.on_missing_key: expected one of "
                  "reject | any",
                  "c.yaml:4:135: listeners[0].route.fallback: expected one of none | next"));
  EXPECT_THAT(route("http", "{shard_key: {path_segment: -2}}"),
              ElementsAre("c.yaml:4:101: listeners[0].route.shard_key.path_segment: expected a "
                          "non-negative integer (at most 255)"));
  EXPECT_THAT(route("http", "{ordinal_header: 'x y'}"),
              ElementsAre("c.yaml:4:91: listeners[0].route.ordinal_header: expected a valid "
                          "header name"));
}

TEST(ConfigLoader, ShardsNeedAReplicaCount) {
  EXPECT_THAT(Errors("services: {s: {name: s.ns, discovery: srv, port_name: p}}\n"
                     "listeners: [{name: a, bind: '127.0.0.1:1', protocol: http, service: s, "
                     "route: {shard_key: {header: k}}}]"),
              ElementsAre("c.yaml:2:79: listeners[0].route.shards: missing: set shards here or "
                          "replicas on service 's'"));
}

TEST(ConfigLoader, OrdinalRoutesNeedOrdinals) {
  EXPECT_THAT(
      Errors("services: {s: {name: s.ns, discovery: a, port: 80, ordinal_start: 2}}\n"
             "listeners: [{name: a, bind: '127.0.0.1:1', service: s, route: {ordinal: 0}}]"),
      ElementsAre("c.yaml:2:63: listeners[0].route: service 's' uses discovery: a (pods "
                  "without ordinals); only balance routes can use it",
                  "c.yaml:2:73: listeners[0].route.ordinal: is below the service's "
                  "ordinal_start (2)"));
}

TEST(ConfigLoader, UnreadableFile) {
  LoadResult r = LoadConfigFile("/nonexistent/podrouter.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString(),
            "/nonexistent/podrouter.yaml: cannot read: No such file or directory");
  // Only a regular file of bounded size is read: a directory, a device that never ends, a FIFO
  // that would block the loop until a writer came, each refused unread with the reason.
  EXPECT_EQ(LoadConfigFile("/tmp").errors.at(0).ToString(), "/tmp: is a directory, not a file");
  EXPECT_EQ(LoadConfigFile("/dev/zero").errors.at(0).ToString(),
            "/dev/zero: is not a regular file (a device, pipe or socket)");
  const std::string fifo = testing::TempDir() + "/podrouter-test-fifo";
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_NE(LoadConfigFile(fifo).errors.at(0).ToString().find("not a regular file"),
            std::string::npos);
  ::unlink(fifo.c_str());
  const std::string big = testing::TempDir() + "/podrouter-test-big.yaml";
  {
    std::ofstream out(big);
    out << "# " << std::string(kMaxConfigBytes, 'x') << "\n";
  }
  EXPECT_EQ(LoadConfigFile(big).errors.at(0).message,
            "is " + std::to_string(kMaxConfigBytes + 3) + " bytes, more than the 1 MiB it may be");
  ::unlink(big.c_str());
}

TEST(ConfigValues, Durations) {
  EXPECT_EQ(ParseDuration("250ms"), Millis(250));
  EXPECT_EQ(ParseDuration("2s"), Millis(2000));
  EXPECT_EQ(ParseDuration("1.5s"), Millis(1500));
  EXPECT_EQ(ParseDuration("5m"), Millis(300000));
  for (const char* bad : {"", "5", "s", "1h", "-1s", "1.s", ".5s", "1..2s", "1e3s", "1 s"}) {
    EXPECT_FALSE(ParseDuration(bad).has_value()) << bad;
  }
}

TEST(ConfigValues, Addresses) {
  std::string error;
  auto v6 = ParseBindAddress("[::1]:80-90", true, &error);
  ASSERT_TRUE(v6.has_value());
  EXPECT_TRUE(v6->ipv6);
  EXPECT_EQ(v6->ToString(), "[::1]:80-90");
  EXPECT_FALSE(ParseBindAddress("::1:80", true, &error).has_value());
  EXPECT_FALSE(ParseBindAddress("127.0.0.1:80-90", false, &error).has_value());
  EXPECT_EQ(error, "a port range is not allowed here");
  EXPECT_EQ(ParseDnsServer("::1", &error), std::nullopt);
  EXPECT_EQ(ParseDnsServer("[::1]", &error), "[::1]:53");
  EXPECT_EQ(ParseDnsServer("10.0.0.1", &error), "10.0.0.1:53");
}

}  // namespace
}  // namespace podrouter::config
