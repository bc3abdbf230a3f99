// ServiceResolver + DnsClient on a real libuv loop against an in-process DNS server: discovery
// modes, absolute names, TTL-driven refresh, last known good, partial failures, empty answers.
#include "discovery/service_resolver.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "tests/unit/dns/fake_dns_server.h"

namespace podrouter {
namespace {

using config::Millis;
using testing::A;
using testing::AAAA;
using testing::FakeAnswer;
using testing::FakeDnsServer;
using testing::SRV;

constexpr char kName[] = "mydb.default.svc.cluster.local";
constexpr char kSrv[] = "_pg._tcp.mydb.default.svc.cluster.local";

std::string Pod(int i) { return "mydb-" + std::to_string(i) + "." + kName; }

class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    server_ = std::make_unique<FakeDnsServer>(&loop_);
    dns_config_.servers = {"127.0.0.1:" + std::to_string(server_->port())};
    dns_config_.timeout = Millis(300);
    dns_config_.min_refresh = Millis(50);
    dns_config_.max_refresh = Millis(10000);
    std::string error;
    client_ = DnsClient::Create(&loop_, dns_config_, &error);
    ASSERT_TRUE(client_) << error;
  }

  void TearDown() override {
    if (resolver_) ServiceResolver::Close(std::move(resolver_));
    DnsClient::Close(std::move(client_));
    server_->Close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }

  config::Service Srv() {
    config::Service s;
    s.id = "mydb";
    s.name = kName;
    s.discovery = config::Discovery::kSrv;
    s.port_name = "pg";
    s.statefulset = "mydb";
    return s;
  }

  ServiceResolver& Start(config::Service s) {
    resolver_ = std::make_unique<ServiceResolver>(&loop_, client_.get(), s, dns_config_, &metrics_,
                                                  nullptr);
    resolver_->Start();
    return *resolver_;
  }

  // Runs the loop until `done` holds; false after `timeout_ms` of waiting.
  bool RunUntil(std::function<bool()> done, int timeout_ms = 5000) {
    uv_timer_t timer;
    uv_timer_init(&loop_, &timer);
    struct State {
      std::function<bool()> done;
      uint64_t deadline;
      bool ok = false;
    } state{std::move(done), uv_now(&loop_) + static_cast<uint64_t>(timeout_ms)};
    timer.data = &state;
    uv_timer_start(
        &timer,
        [](uv_timer_t* t) {
          auto* s = static_cast<State*>(t->data);
          if (s->done()) s->ok = true;
          if (s->ok || uv_now(t->loop) >= s->deadline) uv_stop(t->loop);
        },
        0, 2);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
    return state.ok;
  }

  void RunFor(int ms) {
    RunUntil([] { return false; }, ms);
  }

  std::vector<std::string> Pods() {
    std::vector<std::string> out;
    for (const auto& e : resolver_->snapshot()->all()) {
      out.push_back(e.pod + "=" + (e.ordinal ? std::to_string(*e.ordinal) : "-") + "@" + e.address +
                    ":" + std::to_string(e.port));
    }
    return out;
  }

  uv_loop_t loop_;
  metrics::Metrics metrics_{"test"};
  config::Dns dns_config_;
  std::unique_ptr<FakeDnsServer> server_;
  std::unique_ptr<DnsClient> client_;
  std::unique_ptr<ServiceResolver> resolver_;
};

FakeAnswer ThreePodsWithAdditional(uint32_t ttl = 30) {
  return {
      0,
      {SRV(kSrv, 5432, Pod(0), ttl), SRV(kSrv, 5432, Pod(1), ttl), SRV(kSrv, 5432, Pod(2), ttl)},
      {A(Pod(0), "10.1.0.1", ttl), A(Pod(1), "10.1.0.2", ttl), A(Pod(2), "10.1.0.3", ttl)}};
}

TEST_F(ResolverTest, SrvWithAdditionalSectionNeedsOneAbsoluteQuery) {
  std::vector<std::string> asked;
  server_->set_handler([&](const std::string& q, uint16_t type) {
    asked.push_back(q + "/" + std::to_string(type));
    return ThreePodsWithAdditional();
  });
  ServiceResolver& r = Start(Srv());
  ASSERT_TRUE(RunUntil([&] { return r.ready(); }));
  EXPECT_EQ(Pods(), (std::vector<std::string>{"mydb-0=0@10.1.0.1:5432", "mydb-1=1@10.1.0.2:5432",
                                              "mydb-2=2@10.1.0.3:5432"}));
  // No search-list suffixes: the name was asked as given, once.
  EXPECT_EQ(asked, (std::vector<std::string>{std::string(kSrv) + "/33"}));
  EXPECT_EQ(r.status().result, ServiceResolver::Result::kOk);
  EXPECT_EQ(metrics_.ForService("mydb").resolutions_ok->Value(), 1);
  EXPECT_EQ(metrics_.ForService("mydb").endpoints->Value(), 3);
}

TEST_F(ResolverTest, SrvTargetsWithoutAddressesAreLookedUp) {
  server_->set_handler([&](const std::string& q, uint16_t type) -> FakeAnswer {
    if (type == 33) return {0, {SRV(kSrv, 80, Pod(0)), SRV(kSrv, 80, Pod(4))}, {}};
    if (q == Pod(0) && type == 1) return {0, {A(Pod(0), "10.1.0.1")}, {}};
    if (q == Pod(4) && type == 28) return {0, {AAAA(Pod(4), "fd00::4")}, {}};
    return {0, {}, {}};  // NOERROR, no records
  });
  config::Service s = Srv();
  s.port = 9000;  // overrides the SRV port
  ServiceResolver& r = Start(s);
  ASSERT_TRUE(RunUntil([&] { return r.ready(); }));
  EXPECT_EQ(Pods(), (std::vector<std::string>{"mydb-0=0@10.1.0.1:9000", "mydb-4=4@fd00::4:9000"}));
}

TEST_F(ResolverTest, TargetWithoutOrdinalIsKeptWithoutOne) {
  server_->set_handler([&](const std::string&, uint16_t) -> FakeAnswer {
    std::string odd = std::string("primary.") + kName;
    return {0,
            {SRV(kSrv, 80, odd), SRV(kSrv, 80, Pod(1))},
            {A(odd, "10.1.0.9"), A(Pod(1), "10.1.0.2")}};
  });
  ServiceResolver& r = Start(Srv());
  ASSERT_TRUE(RunUntil([&] { return r.ready(); }));
  EXPECT_EQ(Pods(), (std::vector<std::string>{"mydb-1=1@10.1.0.2:80", "primary=-@10.1.0.9:80"}));
  EXPECT_EQ(r.snapshot()->ByOrdinal(1)->pod, "mydb-1");
}

TEST_F(ResolverTest, RefreshFollowsTheTtlWithinBounds) {
  server_->set_handler([&](const std::string&, uint16_t) { return ThreePodsWithAdditional(3600); });
  ServiceResolver& r = Start(Srv());
  ASSERT_TRUE(RunUntil([&] { return r.ready(); }));
  RunFor(300);
  EXPECT_EQ(server_->queries(), 1);  // TTL 3600 clamped to max_refresh 10 s: no query yet

  server_->set_handler([&](const std::string&, uint16_t) { return ThreePodsWithAdditional(0); });
  ServiceResolver::Close(std::move(resolver_));
  ServiceResolver& fast = Start(Srv());  // TTL 0 → min_refresh (50 ms)
  int before = server_->queries();
  ASSERT_TRUE(RunUntil([&] { return server_->queries() >= before + 3; }));
  EXPECT_TRUE(fast.ready());
}

TEST_F(ResolverTest, ServfailKeepsLastKnownGoodThenRecovers) {
  bool fail = false;
  server_->set_handler([&](const std::string&, uint16_t) -> FakeAnswer {
    if (fail) return {2, {}, {}};  // SERVFAIL
    return ThreePodsWithAdditional(0);
  });
  ServiceResolver& r = Start(Srv());
  ASSERT_TRUE(RunUntil([&] { return r.ready(); }));
  EndpointSnapshot good = r.snapshot();
  fail = true;
  ASSERT_TRUE(RunUntil([&] { return r.status().result == ServiceResolver::Result::kError; }));
  EXPECT_EQ(r.snapshot(), good);  // the very same set, not a copy
  EXPECT_TRUE(r.status().stale);
  EXPECT_NE(r.status().error.find("SRV"), std::string::npos) << r.status().error;
  EXPECT_GE(metrics_.ForService("mydb").resolutions_error->Value(), 1);
  fail = false;
  ASSERT_TRUE(RunUntil([&] { return r.status().result == ServiceResolver::Result::kOk; }));
  EXPECT_FALSE(r.status().stale);
}

TEST_F(ResolverTest, TimeoutKeepsLastKnownGood) {
  bool drop = false;
  server_->set_handler([&](const std::string&, uint16_t) -> FakeAnswer {
    if (drop) return {0, {}, {}, true};
    return ThreePodsWithAdditional(0);
  });
  ServiceResolver& r = Start(Srv());
  ASSERT_TRUE(RunUntil([&] { return r.ready(); }));
  drop = true;
  ASSERT_TRUE(RunUntil([&] { return r.status().result == ServiceResolver::Result::kError; }));
  EXPECT_EQ(r.snapshot()->size(), 3u);
  EXPECT_NE(r.status().error.find("timeout"), std::string::npos) << r.status().error;
}

TEST_F(ResolverTest, GarbageAnswerIsAnErrorNotAnEmptySet) {
  bool garbage = false;
  server_->set_handler([&](const std::string&, uint16_t) -> FakeAnswer {
    if (!garbage) return ThreePodsWithAdditional(0);
    FakeAnswer a;
    a.raw = {0, 0, 0x81, 0x80, 0, 1, 0, 5, 0, 0, 0, 0, 3, 'x'};  // claims 5 answers, has none
    return a;
  });
  ServiceResolver& r = Start(Srv());
  ASSERT_TRUE(RunUntil([&] { return r.ready(); }));
  garbage = true;
  ASSERT_TRUE(RunUntil([&] { return r.status().result == ServiceResolver::Result::kError; }));
  EXPECT_EQ(r.snapshot()->size(), 3u);
}

TEST_F(ResolverTest, NxdomainEmptiesTheSet) {
  bool gone = false;
  server_->set_handler([&](const std::string&, uint16_t) -> FakeAnswer {
    if (gone) return {3, {}, {}};
    return ThreePodsWithAdditional(0);
  });
  ServiceResolver& r = Start(Srv());
  ASSERT_TRUE(RunUntil([&] { return r.ready(); }));
  gone = true;
  ASSERT_TRUE(RunUntil([&] { return r.snapshot()->empty(); }));
  EXPECT_EQ(r.status().result, ServiceResolver::Result::kEmpty);
  EXPECT_EQ(metrics_.ForService("mydb").endpoints->Value(), 0);
  EXPECT_TRUE(r.ready());  // empty is an answer
}

TEST_F(ResolverTest, IpChangeIsPublishedAndRotationIsNot) {
  int round = 0;
  server_->set_handler([&](const std::string& q, uint16_t type) -> FakeAnswer {
    if (type != 1) return {0, {}, {}};
    ++round;
    // The service name answers with its pods' addresses, in rotating order.
    if (round < 4) {
      return round % 2 ? FakeAnswer{0, {A(q, "10.1.0.1", 0), A(q, "10.1.0.2", 0)}, {}}
                       : FakeAnswer{0, {A(q, "10.1.0.2", 0), A(q, "10.1.0.1", 0)}, {}};
    }
    return {0, {A(q, "10.1.0.7", 0), A(q, "10.1.0.1", 0)}, {}};
  });
  config::Service s;
  s.id = "cache";
  s.name = kName;
  s.discovery = config::Discovery::kA;
  s.port = 6379;
  ServiceResolver& r = Start(s);
  ASSERT_TRUE(RunUntil([&] { return r.ready(); }));
  EndpointSnapshot first = r.snapshot();
  ASSERT_TRUE(RunUntil([&] { return round >= 3; }));
  EXPECT_EQ(r.snapshot(), first);  // same pods in another order: nothing published
  ASSERT_TRUE(RunUntil([&] { return r.snapshot()->ByPod("10.1.0.7") != nullptr; }));
  EXPECT_EQ(Pods(),
            (std::vector<std::string>{"10.1.0.1=-@10.1.0.1:6379", "10.1.0.7=-@10.1.0.7:6379"}));
}

TEST_F(ResolverTest, OrdinalsModeQueriesEachPodAndKeepsAFailedOne) {
  bool fail_pod2 = false;
  std::set<std::string> asked;
  server_->set_handler([&](const std::string& q, uint16_t type) -> FakeAnswer {
    asked.insert(q);
    if (type != 1) return {0, {}, {}};
    std::string p5 = "web-5.web.prod", p6 = "web-6.web.prod", p7 = "web-7.web.prod";
    if (q == p5) return {0, {A(q, "10.2.0.5", 0)}, {}};
    if (q == p6)
      return fail_pod2 ? FakeAnswer{2, {}, {}} : FakeAnswer{0, {A(q, "10.2.0.6", 0)}, {}};
    return {3, {}, {}};  // web-7: NXDOMAIN
  });
  config::Service s;
  s.id = "web";
  s.name = "web.prod";
  s.discovery = config::Discovery::kOrdinals;
  s.statefulset = "web";
  s.replicas = 3;
  s.ordinal_start = 5;
  s.port = 8080;
  ServiceResolver& r = Start(s);
  ASSERT_TRUE(RunUntil([&] { return r.ready(); }));
  EXPECT_EQ(asked, (std::set<std::string>{"web-5.web.prod", "web-6.web.prod", "web-7.web.prod"}));
  EXPECT_EQ(Pods(), (std::vector<std::string>{"web-5=5@10.2.0.5:8080", "web-6=6@10.2.0.6:8080"}));
  fail_pod2 = true;
  ASSERT_TRUE(RunUntil([&] { return r.status().result == ServiceResolver::Result::kError; }));
  // web-6's lookup failed: it is kept as it was, web-5 is fresh, web-7 still absent.
  EXPECT_EQ(Pods(), (std::vector<std::string>{"web-5=5@10.2.0.5:8080", "web-6=6@10.2.0.6:8080"}));
}

TEST_F(ResolverTest, ReloadSeedCountsAsResolvedAndSurvivesAFailedLookup) {
  // A resolver rebuilt on reload starts from the pods its predecessor knew: ready at once, and
  // a lookup that fails keeps them.
  Endpoint known;
  ASSERT_TRUE(MakeEndpoint(0, "mydb-0", "10.1.0.1", 5432, &known));
  auto seed = std::make_shared<const EndpointSet>(std::vector<Endpoint>{known});
  int queries = 0;
  server_->set_handler([&](const std::string&, uint16_t) {
    ++queries;
    return FakeAnswer{2, {}, {}};  // SERVFAIL
  });
  resolver_ =
      std::make_unique<ServiceResolver>(&loop_, client_.get(), Srv(), dns_config_, &metrics_, seed);
  EXPECT_TRUE(resolver_->ready());
  EXPECT_EQ(resolver_->snapshot(), seed);
  resolver_->Start();
  ASSERT_TRUE(
      RunUntil([&] { return resolver_->status().result == ServiceResolver::Result::kError; }));
  EXPECT_GT(queries, 0);
  EXPECT_NE(resolver_->status().error.find("SERVFAIL"), std::string::npos)
      << resolver_->status().error;
  EXPECT_EQ(resolver_->snapshot(), seed);
}

}  // namespace
}  // namespace podrouter
