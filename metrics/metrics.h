// The metric table of the contract, declared once, with label handles resolved ahead of use so the
// data path never looks a metric up by name.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace podrouter::metrics {

using prometheus::Counter;
using prometheus::Gauge;
using prometheus::Histogram;

// Why a listener could not route a connection or request (the `reason` label).
enum class RouteFailure {
  kNoEndpoint,                 // the target ordinal has no pod now
  kMaxConnections,             // the listener is at limits.max_connections
  kConnectFailed,              // the pod refused, reset or timed out on connect
  kAcceptError,                // accept() failed (e.g. out of file descriptors)
  kBadRequest,                 // malformed HTTP (400)
  kHeadersTooLarge,            // request head over limits.max_header_bytes (431)
  kMissingKey,                 // the route's shard key is absent (400)
  kBadOrdinal,                 // the ordinal header is absent or not a number (400)
  kUpstreamReset,              // the pod closed or reset before a response (502)
  kUpstreamTimeout,            // no response head within timeouts.request (504)
  kUpstreamBadResponse,        // the pod's response was not valid HTTP, or not framed surely (502)
  kUnsupportedTransferCoding,  // a request's transfer coding other than chunked (501)
  kGrpcNeedsHttp2,             // a gRPC call on a listener whose pods speak HTTP/1.1 (501)
  kCount
};
const char* ToString(RouteFailure r);

struct PodMetrics;

struct ListenerMetrics {
  std::string name;
  Counter* connections_total;
  Gauge* connections_active;
  Counter* route_failures[static_cast<int>(RouteFailure::kCount)];
  Histogram* http_request_duration;
  Gauge* http2_streams_active;   // client HTTP/2 streams open now
  Counter* http2_client_resets;  // RST_STREAM received from clients (cancelled calls)

  Counter& Failure(RouteFailure r) { return *route_failures[static_cast<int>(r)]; }
};

struct PodMetrics {
  std::string pod;
  Counter* connections_total;
  Counter* connect_failures;
  Counter* bytes_sent;
  Counter* bytes_received;
  Counter* retries;       // requests sent again on a fresh connection after a stale pooled one
  Gauge* h2_connections;  // HTTP/2 connections to the pod open now
  Counter* h2_goaways;    // GOAWAY frames received from the pod
  Counter* h2_resets;     // streams the pod reset (RST_STREAM other than REFUSED_STREAM)
};

struct ServiceMetrics {
  Counter* resolutions_ok;
  Counter* resolutions_empty;
  Counter* resolutions_error;
  Histogram* resolution_duration;
  Gauge* endpoints;
  // DNS targets that are not `<statefulset>-<ordinal>`: routed by balance routes only.
  Counter* pods_without_ordinal;
};

class Metrics {
 public:
  explicit Metrics(const std::string& version);

  // Stable for the process's life: pods and listeners that go away keep their series.
  ListenerMetrics& ForListener(const std::string& listener);
  ServiceMetrics& ForService(const std::string& service);
  PodMetrics& ForPod(const std::string& service, const std::string& pod);
  Counter& ConfigReload(bool ok) { return ok ? *reload_ok_ : *reload_error_; }
  // podrouter_worker_connections_active{worker}: how the workers share the client connections.
  Gauge& WorkerConnections(uint32_t worker);
  // podrouter_http_requests_total{listener, pod, code}; pod may be null ("none": podrouter itself
  // answered). Looks the series up by its labels: each worker caches the result.
  Counter& HttpRequests(const ListenerMetrics& listener, const PodMetrics* pod, int code);

  // podrouter_grpc_requests_total{listener, pod, grpc_status}; as HttpRequests.
  Counter& GrpcRequests(const ListenerMetrics& listener, const PodMetrics* pod, int grpc_status);

  // Prometheus text exposition format 0.0.4.
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<Counter>& listener_connections_total_;
  prometheus::Family<Gauge>& listener_connections_active_;
  prometheus::Family<Counter>& route_failures_total_;
  prometheus::Family<Histogram>& http_request_duration_;
  prometheus::Family<Counter>& http_requests_total_;
  prometheus::Family<Counter>& upstream_connections_total_;
  prometheus::Family<Counter>& upstream_connect_failures_total_;
  prometheus::Family<Counter>& upstream_bytes_sent_total_;
  prometheus::Family<Counter>& upstream_bytes_received_total_;
  prometheus::Family<Counter>& dns_resolutions_total_;
  prometheus::Family<Histogram>& dns_resolution_duration_;
  prometheus::Family<Gauge>& service_endpoints_;
  prometheus::Family<Counter>& upstream_retries_total_;
  prometheus::Family<Counter>& dns_targets_without_ordinal_total_;
  prometheus::Family<Counter>& grpc_requests_total_;
  prometheus::Family<Gauge>& http2_streams_active_;
  prometheus::Family<Counter>& http2_client_resets_total_;
  prometheus::Family<Gauge>& upstream_http2_connections_;
  prometheus::Family<Counter>& upstream_http2_goaways_total_;
  prometheus::Family<Counter>& upstream_http2_resets_total_;
  prometheus::Family<Gauge>* worker_connections_active_;
  Counter* reload_ok_;
  Counter* reload_error_;

  std::mutex mu_;  // guards the caches below (workers resolve handles at start-up and on reload)
  std::map<std::string, std::unique_ptr<ListenerMetrics>> listeners_;
  std::map<std::string, std::unique_ptr<ServiceMetrics>> services_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<PodMetrics>> pods_;
};

}  // namespace podrouter::metrics
