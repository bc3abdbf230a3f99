// YAML → Config. Walks the document once, reports every problem (unknown keys are typos), and only
// returns a Config when there were none.
#include "config/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>

#include "base/file.h"
#include "config/node_reader.h"
#include "config/values.h"

namespace podrouter::config {
namespace {

class Loader : public NodeReader {
 public:
  using NodeReader::NodeReader;

  void LoadTimeouts(const YAML::Node& n, const std::string& path, Timeouts* t) {
    if (!CheckMap(n, path, {"connect", "request", "idle"})) return;
    PositiveDuration(n, path, "connect", &t->connect);
    PositiveDuration(n, path, "request", &t->request);
    PositiveDuration(n, path, "idle", &t->idle);
  }

  void LoadLimits(const YAML::Node& n, const std::string& path, Limits* l) {
    if (!CheckMap(n, path, {"max_connections", "max_header_bytes"})) return;
    if (auto v = n["max_connections"]) {
      if (auto x = Unsigned(v, Join(path, "max_connections"), 10'000'000, true)) {
        l->max_connections = static_cast<uint32_t>(*x);
      }
    }
    if (auto v = n["max_header_bytes"]) {
      if (auto x = Unsigned(v, Join(path, "max_header_bytes"), 16 << 20, true)) {
        if (*x < 1024) {
          Error(v, Join(path, "max_header_bytes"), "must be at least 1024");
        } else {
          l->max_header_bytes = static_cast<uint32_t>(*x);
        }
      }
    }
  }

  void LoadDns(const YAML::Node& n, const std::string& path, Dns* dns) {
    if (!CheckMap(n, path, {"servers", "timeout", "min_refresh", "max_refresh"})) return;
    if (auto servers = n["servers"]) {
      if (!servers.IsSequence()) {
        Error(servers, Join(path, "servers"), "expected a list of \"IP[:port]\"");
      } else {
        for (size_t i = 0; i < servers.size(); ++i) {
          std::string p = Join(path, "servers") + "[" + std::to_string(i) + "]";
          std::string error = "expected IP, IP:PORT or [IPv6]:PORT";
          std::optional<std::string> s;
          if (servers[i].IsScalar()) s = ParseDnsServer(servers[i].Scalar(), &error);
          if (s) {
            dns->servers.push_back(*s);
          } else {
            Error(servers[i], p, error);
          }
        }
      }
    }
    PositiveDuration(n, path, "timeout", &dns->timeout);
    PositiveDuration(n, path, "min_refresh", &dns->min_refresh);
    PositiveDuration(n, path, "max_refresh", &dns->max_refresh);
    if (dns->min_refresh > dns->max_refresh) {
      Error(n["max_refresh"] ? n["max_refresh"] : n, Join(path, "max_refresh"),
            "must not be less than min_refresh");
    }
  }

  void LoadService(const std::string& id, const YAML::Node& key, const YAML::Node& n,
                   const std::string& path, Config* config) {
    if (!CheckMap(n, path,
                  {"name", "discovery", "port_name", "port", "statefulset", "replicas",
                   "ordinal_start"})) {
      return;
    }
    Service s;
    s.id = id;
    if (!IsToken(id)) Error(key, path, "service ids are letters, digits, '-' and '_'");
    if (auto v = n["name"]) {
      if (auto name = String(v, Join(path, "name"))) {
        std::string trimmed = *name;
        if (!trimmed.empty() && trimmed.back() == '.') trimmed.pop_back();
        if (!IsDnsName(trimmed)) {
          Error(v, Join(path, "name"),
                "expected a DNS name such as mydb.default.svc.cluster.local");
        }
        s.name = Lower(trimmed);
      }
    } else {
      Error(n, Join(path, "name"), "missing required key");
    }
    bool discovery_known = false;  // an invalid mode gets one error, not its follow-ups
    if (auto v = n["discovery"]) {
      if (auto d = Enum(v, Join(path, "discovery"), {"srv", "ordinals", "a"})) {
        s.discovery = static_cast<Discovery>(*d);
        discovery_known = true;
      }
    } else {
      Error(n, Join(path, "discovery"), "missing required key (srv | ordinals | a)");
    }
    if (auto v = n["port_name"]) {
      if (auto p = String(v, Join(path, "port_name"))) {
        if (!IsDnsName(*p) || p->find('.') != std::string::npos) {
          Error(v, Join(path, "port_name"), "expected a port name such as postgres");
        }
        s.port_name = *p;
      }
    }
    if (auto v = n["port"]) {
      if (auto p = Unsigned(v, Join(path, "port"), 65535, true)) s.port = static_cast<uint16_t>(*p);
    }
    if (auto v = n["statefulset"]) {
      if (auto p = String(v, Join(path, "statefulset"))) {
        if (!IsDnsName(*p) || p->find('.') != std::string::npos) {
          Error(v, Join(path, "statefulset"), "expected a StatefulSet name (one DNS label)");
        }
        s.statefulset = Lower(*p);
      }
    } else {
      s.statefulset = s.name.substr(0, s.name.find('.'));
    }
    if (auto v = n["replicas"]) {
      if (auto r = Unsigned(v, Join(path, "replicas"), 100000, true)) {
        s.replicas = static_cast<uint32_t>(*r);
      }
    }
    if (auto v = n["ordinal_start"]) {
      if (auto o = Unsigned(v, Join(path, "ordinal_start"), 1'000'000'000)) {
        s.ordinal_start = static_cast<uint32_t>(*o);
      }
    }
    switch (s.discovery) {
      case Discovery::kSrv:
        if (!n["port_name"] && discovery_known) {
          Error(n, Join(path, "port_name"), "missing required key (discovery: srv needs it)");
        }
        break;
      case Discovery::kOrdinals:
        if (!n["replicas"] && discovery_known) {
          Error(n, Join(path, "replicas"), "missing required key (discovery: ordinals needs it)");
        }
        [[fallthrough]];
      case Discovery::kA:
        if (!n["port"] && discovery_known) {
          Error(n, Join(path, "port"),
                std::string("missing required key (discovery: ") + ToString(s.discovery) +
                    " needs it)");
        }
        break;
    }
    config->services.push_back(std::move(s));
  }

  std::optional<ShardKey> LoadShardKey(const YAML::Node& n, const std::string& path) {
    if (!CheckMap(n, path, {"header", "query", "cookie", "path_segment"})) return std::nullopt;
    if (n.size() != 1) {
      Error(n, path, "expected exactly one of header, query, cookie, path_segment");
      return std::nullopt;
    }
    ShardKey key;
    if (auto v = n["path_segment"]) {
      auto i = Unsigned(v, Join(path, "path_segment"), 255);
      if (!i) return std::nullopt;
      key.source = ShardKey::Source::kPathSegment;
      key.segment = static_cast<uint32_t>(*i);
      return key;
    }
    const char* source = n["header"] ? "header" : n["query"] ? "query" : "cookie";
    auto name = String(n[source], Join(path, source));
    if (!name) return std::nullopt;
    if (!IsToken(*name)) {
      Error(n[source], Join(path, source), "expected a valid " + std::string(source) + " name");
      return std::nullopt;
    }
    key.source = n["header"]  ? ShardKey::Source::kHeader
                 : n["query"] ? ShardKey::Source::kQuery
                              : ShardKey::Source::kCookie;
    key.name = key.source == ShardKey::Source::kHeader ? Lower(*name) : *name;
    return key;
  }

  void LoadRoute(const YAML::Node& n, const std::string& path, Listener* l, const Service* svc) {
    if (!CheckMap(n, path,
                  {"ordinal", "shard_key", "shards", "on_missing_key", "fallback", "ordinal_header",
                   "balance"})) {
      return;
    }
    Route& r = l->route;
    const bool http = l->protocol == Protocol::kHttp;
    // Which keys each kind of route takes besides its own.
    auto only = [&](std::initializer_list<const char*> allowed, const char* kind) {
      for (const auto& kv : n) {
        std::string key = kv.first.Scalar();
        bool ok = false;
        for (const char* a : allowed) ok = ok || key == a;
        bool known = key == "ordinal" || key == "shard_key" || key == "shards" ||
                     key == "on_missing_key" || key == "fallback" || key == "ordinal_header" ||
                     key == "balance";
        if (!ok && known) {
          Error(kv.first, Join(path, key), "not allowed with a " + std::string(kind) + " route");
        }
      }
    };
    auto need_http = [&](const char* key) {
      if (!http) Error(n[key], Join(path, key), "needs protocol: http");
    };
    if (n["balance"]) {
      r.kind = Route::Kind::kBalance;
      only({"balance", "shard_key", "on_missing_key"}, "balance");
      if (auto b = Enum(n["balance"], Join(path, "balance"), {"maglev", "round_robin"})) {
        r.balance = *b == 0 ? Route::Balance::kMaglev : Route::Balance::kRoundRobin;
        if (r.balance == Route::Balance::kMaglev && !n["shard_key"]) {
          Error(n, Join(path, "shard_key"), "missing required key (balance: maglev hashes it)");
        }
      }
      if (n["shard_key"]) {
        need_http("shard_key");
        r.shard_key = LoadShardKey(n["shard_key"], Join(path, "shard_key"));
      }
    } else if (n["ordinal"]) {
      only({"ordinal"}, "fixed ordinal");
      const YAML::Node& v = n["ordinal"];
      if (v.IsScalar() && v.Scalar() == "port_offset") {
        r.kind = Route::Kind::kPortOffset;
      } else {
        r.kind = Route::Kind::kOrdinal;
        if (v.IsScalar() && v.Scalar() != "" &&
            v.Scalar().find_first_not_of("0123456789") != std::string::npos) {
          Error(v, Join(path, "ordinal"), "expected a non-negative integer or port_offset");
        } else if (auto o = Unsigned(v, Join(path, "ordinal"), 1'100'000'000)) {
          r.ordinal = static_cast<uint32_t>(*o);
          if (svc && r.ordinal < svc->ordinal_start) {
            Error(v, Join(path, "ordinal"),
                  "is below the service's ordinal_start (" + std::to_string(svc->ordinal_start) +
                      ")");
          }
        }
      }
    } else if (n["shard_key"]) {
      r.kind = Route::Kind::kShardKey;
      only({"shard_key", "shards", "on_missing_key", "fallback"}, "shard_key");
      need_http("shard_key");
      r.shard_key = LoadShardKey(n["shard_key"], Join(path, "shard_key"));
      if (auto v = n["shards"]) {
        if (auto s = Unsigned(v, Join(path, "shards"), 100000, true)) {
          r.shards = static_cast<uint32_t>(*s);
        }
      } else if (svc && svc->replicas) {
        r.shards = *svc->replicas;
      } else if (svc) {
        Error(n, Join(path, "shards"),
              "missing: set shards here or replicas on service '" + svc->id + "'");
      }
    } else if (n["ordinal_header"]) {
      r.kind = Route::Kind::kOrdinalHeader;
      only({"ordinal_header", "fallback"}, "ordinal_header");
      need_http("ordinal_header");
      if (auto h = String(n["ordinal_header"], Join(path, "ordinal_header"))) {
        if (!IsToken(*h))
          Error(n["ordinal_header"], Join(path, "ordinal_header"), "expected a valid header name");
        r.ordinal_header = Lower(*h);
      }
    } else {
      Error(n, path, "expected one of ordinal, shard_key, ordinal_header, balance");
      return;
    }
    if (auto v = n["on_missing_key"]) {
      need_http("on_missing_key");
      if (auto m = Enum(v, Join(path, "on_missing_key"), {"reject", "any"})) {
        r.missing_key_any = *m == 1;
      }
    }
    if (auto v = n["fallback"]) {
      if (auto f = Enum(v, Join(path, "fallback"), {"none", "next"})) r.fallback_next = *f == 1;
    }
    if (svc && svc->discovery == Discovery::kA && r.kind != Route::Kind::kBalance) {
      Error(n, path,
            "service '" + svc->id +
                "' uses discovery: a (pods without ordinals); only balance routes can use it");
    }
  }

  void LoadListener(const YAML::Node& n, const std::string& path, const Config& config,
                    Listener* l) {
    if (!CheckMap(n, path,
                  {"name", "bind", "protocol", "upstream_protocol", "service", "route", "timeouts",
                   "limits"})) {
      return;
    }
    l->timeouts = config.timeouts;
    l->limits = config.limits;
    if (auto v = n["name"]) {
      if (auto name = String(v, Join(path, "name"))) {
        if (!IsToken(*name)) Error(v, Join(path, "name"), "expected letters, digits, '-' or '_'");
        l->name = *name;
      }
    } else {
      Error(n, Join(path, "name"), "missing required key");
    }
    if (auto v = n["bind"]) {
      if (auto b = Bind(v, Join(path, "bind"), true)) l->bind = *b;
    } else {
      Error(n, Join(path, "bind"), "missing required key");
    }
    if (auto v = n["protocol"]) {
      if (auto p = Enum(v, Join(path, "protocol"), {"tcp", "http"})) {
        l->protocol = *p == 0 ? Protocol::kTcp : Protocol::kHttp;
      }
    }
    if (auto v = n["upstream_protocol"]) {
      if (auto p = Enum(v, Join(path, "upstream_protocol"), {"http1", "http2"})) {
        l->upstream_protocol = *p == 0 ? UpstreamProtocol::kHttp1 : UpstreamProtocol::kHttp2;
        if (l->protocol != Protocol::kHttp) {
          Error(v, Join(path, "upstream_protocol"), "needs protocol: http");
        }
      }
    }
    const Service* svc = nullptr;
    if (auto v = n["service"]) {
      if (auto s = String(v, Join(path, "service"))) {
        l->service = *s;
        svc = config.FindService(*s);
        if (!svc) Error(v, Join(path, "service"), "no service named '" + *s + "'");
      }
    } else {
      Error(n, Join(path, "service"), "missing required key");
    }
    if (auto v = n["route"]) {
      LoadRoute(v, Join(path, "route"), l, svc);
    } else {
      Error(n, Join(path, "route"), "missing required key");
    }
    if (auto v = n["timeouts"]) LoadTimeouts(v, Join(path, "timeouts"), &l->timeouts);
    if (auto v = n["limits"]) LoadLimits(v, Join(path, "limits"), &l->limits);
  }

  void LoadRoot(const YAML::Node& root, Config* config) {
    if (!CheckMap(root, "",
                  {"admin", "workers", "dns", "drain_timeout", "drain_quiet", "timeouts", "limits",
                   "services", "listeners"})) {
      return;
    }
    if (auto admin = root["admin"]) {
      if (CheckMap(admin, "admin", {"bind"}) && admin["bind"]) {
        if (auto b = Bind(admin["bind"], "admin.bind", false)) config->admin_bind = *b;
      }
    }
    if (auto v = root["workers"]) {
      if (auto w = Unsigned(v, "workers", 256)) config->workers = static_cast<uint32_t>(*w);
    }
    if (auto v = root["dns"]) LoadDns(v, "dns", &config->dns);
    if (auto v = root["drain_timeout"]) {
      if (auto d = Duration(v, "drain_timeout")) config->drain_timeout = *d;
    }
    if (auto v = root["drain_quiet"]) {
      if (auto d = Duration(v, "drain_quiet")) config->drain_quiet = *d;
      if (config->drain_quiet >= config->drain_timeout) {
        Error(v, "drain_quiet",
              "must be shorter than drain_timeout (" +
                  std::to_string(config->drain_timeout.count()) +
                  "ms), or every drain runs to its timeout");
      }
    }
    // Defaults first: listeners copy them.
    if (auto v = root["timeouts"]) LoadTimeouts(v, "timeouts", &config->timeouts);
    if (auto v = root["limits"]) LoadLimits(v, "limits", &config->limits);
    if (auto services = root["services"]) {
      if (!services.IsMap() || services.size() == 0) {
        Error(services, "services", "expected a mapping of service id to service");
      } else {
        for (const auto& kv : services) {
          std::string id = kv.first.IsScalar() ? kv.first.Scalar() : "";
          LoadService(id, kv.first, kv.second, "services." + id, config);
        }
      }
    } else {
      Error(root, "services", "missing required key");
    }
    auto listeners = root["listeners"];
    if (!listeners) {
      Error(root, "listeners", "missing required key");
      return;
    }
    if (!listeners.IsSequence() || listeners.size() == 0) {
      Error(listeners, "listeners", "expected a non-empty list of listeners");
      return;
    }
    for (size_t i = 0; i < listeners.size(); ++i) {
      Listener l;
      std::string path = "listeners[" + std::to_string(i) + "]";
      LoadListener(listeners[i], path, *config, &l);
      for (size_t j = 0; j < config->listeners.size(); ++j) {
        const Listener& other = config->listeners[j];
        std::string where = "listeners[" + std::to_string(j) + "]";
        if (!l.name.empty() && l.name == other.name) {
          Error(listeners[i]["name"], path + ".name", "duplicates the name of " + where);
        }
        if (l.bind.port_first && l.bind.ip == other.bind.ip &&
            l.bind.port_first <= other.bind.port_last &&
            other.bind.port_first <= l.bind.port_last) {
          Error(listeners[i]["bind"], path + ".bind", "overlaps " + where + ".bind");
        }
      }
      const BindAddress& a = config->admin_bind;
      if (l.bind.port_first && l.bind.ip == a.ip && l.bind.port_first <= a.port_first &&
          a.port_first <= l.bind.port_last) {
        Error(listeners[i]["bind"], path + ".bind", "overlaps admin.bind");
      }
      config->listeners.push_back(std::move(l));
    }
  }
};

}  // namespace

std::string ConfigError::ToString() const {
  std::ostringstream out;
  out << file << ":";
  if (line > 0) out << line << ":" << column << ":";
  out << " ";
  if (!path.empty()) out << path << ": ";
  out << message;
  return out.str();
}

LoadResult LoadConfigString(const std::string& text, const std::string& file_name) {
  LoadResult result;
  Loader loader(file_name);
  Config config;
  try {
    YAML::Node root = YAML::Load(text);
    if (!root || root.IsNull()) {
      result.errors.push_back({file_name, 1, 1, "", "the config is empty"});
      return result;
    }
    loader.LoadRoot(root, &config);
  } catch (const YAML::Exception& e) {
    // Parse errors carry the position of the offending character.
    bool known = e.mark.line >= 0;
    loader.errors().push_back(
        {file_name, known ? e.mark.line + 1 : 0, known ? e.mark.column + 1 : 0, "", e.msg});
  }
  result.errors = std::move(loader.errors());
  // In file order, as a reader fixes them.
  std::stable_sort(result.errors.begin(), result.errors.end(), [](const auto& a, const auto& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

LoadResult LoadConfigFile(const std::string& path) {
  std::string text, error;
  if (!ReadRegularFile(path, kMaxConfigBytes, &text, &error)) {
    LoadResult result;
    result.errors.push_back({path, 0, 0, "", error});
    return result;
  }
  return LoadConfigString(text, path);
}

}  // namespace podrouter::config
