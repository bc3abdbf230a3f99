#include "dataplane/http_exchange.h"

#include "dataplane/worker_context.h"

namespace podrouter {

HttpExchangePool::~HttpExchangePool() {
  for (HttpExchange* x : free_) delete x;
}

std::unique_ptr<HttpExchange> HttpExchangePool::Take() {
  if (free_.empty()) return nullptr;
  std::unique_ptr<HttpExchange> x(free_.back());
  free_.pop_back();
  return x;
}

void HttpExchangePool::Give(std::unique_ptr<HttpExchange> exchange) {
  if (free_.size() < max_free_) free_.push_back(exchange.release());
}

}  // namespace podrouter
