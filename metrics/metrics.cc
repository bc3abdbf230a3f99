// Metric families and their per-label handles.
#include "metrics/metrics.h"

#include <prometheus/text_serializer.h>

namespace podrouter::metrics {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

const Histogram::BucketBoundaries& LatencyBuckets() {
  static const Histogram::BucketBoundaries buckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return buckets;
}

}  // namespace

const char* ToString(RouteFailure r) {
  switch (r) {
    case RouteFailure::kNoEndpoint:
      return "no_endpoint";
    case RouteFailure::kMaxConnections:
      return "max_connections";
    case RouteFailure::kConnectFailed:
      return "connect_failed";
    case RouteFailure::kAcceptError:
      return "accept_error";
    case RouteFailure::kBadRequest:
      return "bad_request";
    case RouteFailure::kHeadersTooLarge:
      return "headers_too_large";
    case RouteFailure::kMissingKey:
      return "missing_key";
    case RouteFailure::kBadOrdinal:
      return "bad_ordinal";
    case RouteFailure::kUpstreamReset:
      return "upstream_reset";
    case RouteFailure::kUpstreamTimeout:
      return "upstream_timeout";
    case RouteFailure::kUpstreamBadResponse:
      return "upstream_bad_response";
    case RouteFailure::kUnsupportedTransferCoding:
      return "unsupported_transfer_coding";
    case RouteFailure::kGrpcNeedsHttp2:
      return "grpc_needs_http2_pods";
    case RouteFailure::kCount:
      break;
  }
  return "unknown";
}

Metrics::Metrics(const std::string& version)
    : registry_(std::make_shared<prometheus::Registry>()),
      listener_connections_total_(BuildCounter()
                                      .Name("podrouter_listener_connections_total")
                                      .Help("Downstream connections accepted, per listener.")
                                      .Register(*registry_)),
      listener_connections_active_(BuildGauge()
                                       .Name("podrouter_listener_connections_active")
                                       .Help("Downstream connections open now, per listener.")
                                       .Register(*registry_)),
      route_failures_total_(
          BuildCounter()
              .Name("podrouter_route_failures_total")
              .Help("Connections or requests that could not be routed to their pod, by reason.")
              .Register(*registry_)),
      http_request_duration_(BuildHistogram()
                                 .Name("podrouter_http_request_duration_seconds")
                                 .Help("HTTP request duration from first byte to response end.")
                                 .Register(*registry_)),
      http_requests_total_(BuildCounter()
                               .Name("podrouter_http_requests_total")
                               .Help("HTTP requests answered, by listener, pod and status code.")
                               .Register(*registry_)),
      upstream_connections_total_(BuildCounter()
                                      .Name("podrouter_upstream_connections_total")
                                      .Help("Connections opened to a pod.")
                                      .Register(*registry_)),
      upstream_connect_failures_total_(BuildCounter()
                                           .Name("podrouter_upstream_connect_failures_total")
                                           .Help("Connection attempts to a pod that failed.")
                                           .Register(*registry_)),
      upstream_bytes_sent_total_(BuildCounter()
                                     .Name("podrouter_upstream_bytes_sent_total")
                                     .Help("Bytes written to a pod.")
                                     .Register(*registry_)),
      upstream_bytes_received_total_(BuildCounter()
                                         .Name("podrouter_upstream_bytes_received_total")
                                         .Help("Bytes read from a pod.")
                                         .Register(*registry_)),
      dns_resolutions_total_(BuildCounter()
                                 .Name("podrouter_dns_resolutions_total")
                                 .Help("Service resolutions by result (ok, empty, error).")
                                 .Register(*registry_)),
      dns_resolution_duration_(BuildHistogram()
                                   .Name("podrouter_dns_resolution_duration_seconds")
                                   .Help("Time to resolve a service's pods.")
                                   .Register(*registry_)),
      service_endpoints_(BuildGauge()
                             .Name("podrouter_service_endpoints")
                             .Help("Pods currently known for a service.")
                             .Register(*registry_)),
      upstream_retries_total_(
          BuildCounter()
              .Name("podrouter_upstream_retries_total")
              .Help("Requests sent again, on a fresh connection, after a pooled connection to "
                    "the pod closed before answering (idempotent methods only).")
              .Register(*registry_)),
      dns_targets_without_ordinal_total_(
          BuildCounter()
              .Name("podrouter_dns_targets_without_ordinal_total")
              .Help("DNS targets whose first label is not <statefulset>-<ordinal> (first seen; "
                    "such pods serve balance routes only).")
              .Register(*registry_)),
      grpc_requests_total_(BuildCounter()
                               .Name("podrouter_grpc_requests_total")
                               .Help("gRPC calls answered, by listener, pod and grpc-status.")
                               .Register(*registry_)),
      http2_streams_active_(BuildGauge()
                                .Name("podrouter_http2_streams_active")
                                .Help("Client HTTP/2 streams open now, per listener.")
                                .Register(*registry_)),
      http2_client_resets_total_(
          BuildCounter()
              .Name("podrouter_http2_client_resets_total")
              .Help("Streams a client reset (RST_STREAM), e.g. cancelled gRPC calls.")
              .Register(*registry_)),
      upstream_http2_connections_(BuildGauge()
                                      .Name("podrouter_upstream_http2_connections")
                                      .Help("HTTP/2 connections to a pod open now.")
                                      .Register(*registry_)),
      upstream_http2_goaways_total_(BuildCounter()
                                        .Name("podrouter_upstream_http2_goaways_total")
                                        .Help("GOAWAY frames received from a pod.")
                                        .Register(*registry_)),
      upstream_http2_resets_total_(
          BuildCounter()
              .Name("podrouter_upstream_http2_resets_total")
              .Help("Streams a pod reset (RST_STREAM other than REFUSED_STREAM).")
              .Register(*registry_)) {
  BuildGauge()
      .Name("podrouter_build_info")
      .Help("Always 1; the version label names the build.")
      .Register(*registry_)
      .Add({{"version", version}})
      .Set(1);
  auto& reloads = BuildCounter()
                      .Name("podrouter_config_reloads_total")
                      .Help("Config reloads (SIGHUP or a changed config file) by result.")
                      .Register(*registry_);
  reload_ok_ = &reloads.Add({{"result", "ok"}});
  reload_error_ = &reloads.Add({{"result", "error"}});
  worker_connections_active_ = &BuildGauge()
                                    .Name("podrouter_worker_connections_active")
                                    .Help("Client connections each worker (event loop) serves now.")
                                    .Register(*registry_);
}

Gauge& Metrics::WorkerConnections(uint32_t worker) {
  std::lock_guard lock(mu_);
  return worker_connections_active_->Add({{"worker", std::to_string(worker)}});
}

ListenerMetrics& Metrics::ForListener(const std::string& listener) {
  std::lock_guard lock(mu_);
  auto& slot = listeners_[listener];
  if (!slot) {
    slot = std::make_unique<ListenerMetrics>();
    slot->name = listener;
    slot->connections_total = &listener_connections_total_.Add({{"listener", listener}});
    slot->connections_active = &listener_connections_active_.Add({{"listener", listener}});
    for (int r = 0; r < static_cast<int>(RouteFailure::kCount); ++r) {
      slot->route_failures[r] = &route_failures_total_.Add(
          {{"listener", listener}, {"reason", ToString(static_cast<RouteFailure>(r))}});
    }
    slot->http_request_duration =
        &http_request_duration_.Add({{"listener", listener}}, LatencyBuckets());
    slot->http2_streams_active = &http2_streams_active_.Add({{"listener", listener}});
    slot->http2_client_resets = &http2_client_resets_total_.Add({{"listener", listener}});
  }
  return *slot;
}

ServiceMetrics& Metrics::ForService(const std::string& service) {
  std::lock_guard lock(mu_);
  auto& slot = services_[service];
  if (!slot) {
    slot = std::make_unique<ServiceMetrics>();
    slot->resolutions_ok = &dns_resolutions_total_.Add({{"service", service}, {"result", "ok"}});
    slot->resolutions_empty =
        &dns_resolutions_total_.Add({{"service", service}, {"result", "empty"}});
    slot->resolutions_error =
        &dns_resolutions_total_.Add({{"service", service}, {"result", "error"}});
    slot->resolution_duration =
        &dns_resolution_duration_.Add({{"service", service}}, LatencyBuckets());
    slot->endpoints = &service_endpoints_.Add({{"service", service}});
    slot->pods_without_ordinal = &dns_targets_without_ordinal_total_.Add({{"service", service}});
  }
  return *slot;
}

PodMetrics& Metrics::ForPod(const std::string& service, const std::string& pod) {
  std::lock_guard lock(mu_);
  auto& slot = pods_[{service, pod}];
  if (!slot) {
    prometheus::Labels labels{{"service", service}, {"pod", pod}};
    slot = std::make_unique<PodMetrics>();
    slot->pod = pod;
    slot->connections_total = &upstream_connections_total_.Add(labels);
    slot->connect_failures = &upstream_connect_failures_total_.Add(labels);
    slot->bytes_sent = &upstream_bytes_sent_total_.Add(labels);
    slot->bytes_received = &upstream_bytes_received_total_.Add(labels);
    slot->retries = &upstream_retries_total_.Add(labels);
    slot->h2_connections = &upstream_http2_connections_.Add(labels);
    slot->h2_goaways = &upstream_http2_goaways_total_.Add(labels);
    slot->h2_resets = &upstream_http2_resets_total_.Add(labels);
  }
  return *slot;
}

Counter& Metrics::HttpRequests(const ListenerMetrics& listener, const PodMetrics* pod, int code) {
  return http_requests_total_.Add({{"listener", listener.name},
                                   {"pod", pod ? pod->pod : "none"},
                                   {"code", std::to_string(code)}});
}

Counter& Metrics::GrpcRequests(const ListenerMetrics& listener, const PodMetrics* pod,
                               int grpc_status) {
  return grpc_requests_total_.Add({{"listener", listener.name},
                                   {"pod", pod ? pod->pod : "none"},
                                   {"grpc_status", std::to_string(grpc_status)}});
}

std::string Metrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace podrouter::metrics
