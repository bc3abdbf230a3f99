// Google Benchmark micro-benchmarks: the pickers (jump hash over XXH64, Maglev lookup and build)
// and the HTTP front end (parsing a request head, serialising it for the pod).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "discovery/endpoint_set.h"
#include "http/http_head.h"
#include "http/http_parser.h"
#include "routing/pickers.h"
#include "routing/shard_key.h"

namespace podrouter {
namespace {

std::vector<std::string> Keys(size_t n) {
  std::vector<std::string> keys;
  for (size_t i = 0; i < n; ++i) keys.push_back("user-" + std::to_string(i * 7919));
  return keys;
}

EndpointSet Pods(int n) {
  std::vector<Endpoint> endpoints;
  for (int i = 0; i < n; ++i) {
    Endpoint e;
    MakeEndpoint(static_cast<uint32_t>(i), "db-" + std::to_string(i),
                 "10.0." + std::to_string(i / 250) + "." + std::to_string(1 + i % 250), 80, &e);
    endpoints.push_back(std::move(e));
  }
  return EndpointSet(std::move(endpoints));
}

void BM_ShardOrdinal(benchmark::State& state) {
  auto keys = Keys(1024);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        ShardOrdinal(keys[i++ & 1023], static_cast<uint32_t>(state.range(0)), 0));
  }
}
BENCHMARK(BM_ShardOrdinal)->Arg(3)->Arg(100)->Arg(1000);

void BM_MaglevPick(benchmark::State& state) {
  EndpointSet pods = Pods(static_cast<int>(state.range(0)));
  MaglevTable table(pods);
  auto keys = Keys(1024);
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(table.Pick(HashKey(keys[i++ & 1023])));
}
BENCHMARK(BM_MaglevPick)->Arg(3)->Arg(100);

void BM_MaglevBuild(benchmark::State& state) {
  EndpointSet pods = Pods(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    MaglevTable table(pods);
    benchmark::DoNotOptimize(table.size());
  }
}
BENCHMARK(BM_MaglevBuild)->Arg(3)->Arg(100)->Unit(benchmark::kMicrosecond);

class Sink : public HttpParser::Delegate {
 public:
  bool OnHead(HttpHead& head, std::string*) override {
    benchmark::DoNotOptimize(head.headers().size());
    return true;
  }
  void OnBody(const char*, size_t) override {}
  void OnMessageComplete() override {}
};

constexpr char kRequest[] =
    "GET /api/items/42?expand=true HTTP/1.1\r\nHost: localhost:18080\r\n"
    "User-Agent: legacy-app/1.0\r\nAccept: application/json\r\nX-Shard-Key: user-1234567\r\n"
    "X-Request-Id: 7f0c2a9e-1d3b-4c55-9a41-0b6f1e2d3c4a\r\nConnection: keep-alive\r\n\r\n";

void BM_ParseRequestHead(benchmark::State& state) {
  Sink sink;
  HttpParser parser(HttpParser::Kind::kRequest, &sink, 65536);
  const size_t len = sizeof(kRequest) - 1;
  for (auto _ : state) benchmark::DoNotOptimize(parser.Feed(kRequest, len));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * len));
}
BENCHMARK(BM_ParseRequestHead);

void BM_SerializeRequestHead(benchmark::State& state) {
  Sink sink;
  HttpParser parser(HttpParser::Kind::kRequest, &sink, 65536);
  parser.Feed(kRequest, sizeof(kRequest) - 1);
  const HttpHead& head = parser.head();
  std::string out;
  for (auto _ : state) {
    SerializeRequestHead(head, BodyFraming::kNone, false, &out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_SerializeRequestHead);

void BM_ExtractShardKey(benchmark::State& state) {
  Sink sink;
  HttpParser parser(HttpParser::Kind::kRequest, &sink, 65536);
  parser.Feed(kRequest, sizeof(kRequest) - 1);
  config::ShardKey key;
  key.source = static_cast<config::ShardKey::Source>(state.range(0));
  key.name = key.source == config::ShardKey::Source::kHeader ? "x-shard-key" : "expand";
  key.segment = 2;
  std::string scratch;
  for (auto _ : state) benchmark::DoNotOptimize(ExtractShardKey(parser.head(), key, &scratch));
}
BENCHMARK(BM_ExtractShardKey)->Arg(0)->Arg(1)->Arg(3);  // header, query, path segment

}  // namespace
}  // namespace podrouter

BENCHMARK_MAIN();
