// Pickers: pure functions from a request's key to a pod, with no I/O. The shard mapping is part of
// the contract (an application can compute the owner itself): key → XXH64(key, seed 0) → Lamping &
// Veach jump consistent hash over `shards` → ordinal_start + bucket.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "discovery/endpoint_set.h"

namespace podrouter {

// Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm" (2014).
int32_t JumpConsistentHash(uint64_t key, int32_t buckets);

uint64_t HashKey(std::string_view key);  // XXH64, seed 0

// The ordinal that owns `key`.
uint32_t ShardOrdinal(std::string_view key, uint32_t shards, uint32_t ordinal_start);

// The next present ordinal after `ordinal` within [start, start + span), cyclically; nullptr when
// none is present but `ordinal` itself.
const Endpoint* NextPresent(const EndpointSet& pods, uint32_t ordinal, uint32_t start,
                            uint32_t span);

// Maglev (Eisenbud et al., NSDI 2016) over the pods present now, hashing pod *names*: a pod that
// returns with a new IP gets its keys back, and adding or removing one pod moves about 1/N of the
// keys. Built once per endpoint set.
class MaglevTable {
 public:
  // The table size is a prime, at least 65537 and above 100 × the pods.
  explicit MaglevTable(const EndpointSet& pods);
  // Index into pods.all(); -1 when there are no pods.
  int Pick(uint64_t key_hash) const;
  size_t size() const { return table_.size(); }

  static uint64_t TableSizeFor(size_t pods);

 private:
  std::vector<int32_t> table_;
};

// The Maglev table of a published endpoint snapshot: built once — by the resolver as it publishes
// the snapshot (app/server.cc), or else by the first worker to ask — and shared read-only by all
// workers while the snapshot lives. Thread-safe; the build runs outside the registry's lock.
std::shared_ptr<const MaglevTable> MaglevFor(const EndpointSnapshot& pods);

}  // namespace podrouter
