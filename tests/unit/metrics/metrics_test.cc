// The metric table: every family of the contract (SPEC "Metrics") is declared with its labels,
// handles are stable per label set, and every route-failure reason has its own series.
#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace podrouter::metrics {
namespace {

TEST(Metrics, ContractFamiliesAndLabels) {
  Metrics m("1.2.3");
  ListenerMetrics& l = m.ForListener("web");
  PodMetrics& pod = m.ForPod("mydb", "mydb-0");
  ServiceMetrics& svc = m.ForService("mydb");
  pod.retries->Increment();
  svc.pods_without_ordinal->Increment(3);
  m.HttpRequests(l, &pod, 200).Increment();
  m.HttpRequests(l, nullptr, 503).Increment();
  l.http_request_duration->Observe(0.002);
  const std::string text = m.Serialize();
  for (const char* family :
       {"podrouter_build_info", "podrouter_listener_connections_total",
        "podrouter_listener_connections_active", "podrouter_upstream_connections_total",
        "podrouter_upstream_connect_failures_total", "podrouter_upstream_bytes_sent_total",
        "podrouter_upstream_bytes_received_total", "podrouter_http_requests_total",
        "podrouter_http_request_duration_seconds", "podrouter_route_failures_total",
        "podrouter_dns_resolutions_total", "podrouter_dns_resolution_duration_seconds",
        "podrouter_service_endpoints", "podrouter_config_reloads_total",
        "podrouter_upstream_retries_total", "podrouter_dns_targets_without_ordinal_total"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  }
  EXPECT_NE(text.find("podrouter_build_info{version=\"1.2.3\"} 1"), std::string::npos);
  EXPECT_NE(text.find("podrouter_upstream_retries_total{pod=\"mydb-0\",service=\"mydb\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("podrouter_dns_targets_without_ordinal_total{service=\"mydb\"} 3"),
            std::string::npos);
  EXPECT_NE(
      text.find("podrouter_http_requests_total{code=\"503\",listener=\"web\",pod=\"none\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("podrouter_http_request_duration_seconds_count{listener=\"web\"} 1"),
            std::string::npos);
}

TEST(Metrics, HandlesAreStableAndEveryReasonHasASeries) {
  Metrics m("test");
  ListenerMetrics& a = m.ForListener("web");
  EXPECT_EQ(&a, &m.ForListener("web"));
  EXPECT_EQ(&m.ForPod("mydb", "mydb-1"), &m.ForPod("mydb", "mydb-1"));
  EXPECT_NE(&m.ForPod("mydb", "mydb-1"), &m.ForPod("other", "mydb-1"));
  const std::string text = m.Serialize();
  for (int r = 0; r < static_cast<int>(RouteFailure::kCount); ++r) {
    const std::string reason = ToString(static_cast<RouteFailure>(r));
    EXPECT_NE(reason, "unknown");
    EXPECT_NE(
        text.find("podrouter_route_failures_total{listener=\"web\",reason=\"" + reason + "\"} 0"),
        std::string::npos)
        << reason;
  }
}

}  // namespace
}  // namespace podrouter::metrics
