// Jump consistent hash, key hashing and the Maglev lookup table.
#include "routing/pickers.h"

#include <xxhash.h>

#include <mutex>

namespace podrouter {

int32_t JumpConsistentHash(uint64_t key, int32_t buckets) {
  int64_t b = -1, j = 0;
  while (j < buckets) {
    b = j;
    key = key * 2862933555777941757ULL + 1;
    j = static_cast<int64_t>(static_cast<double>(b + 1) * (static_cast<double>(1LL << 31) /
                                                           static_cast<double>((key >> 33) + 1)));
  }
  return static_cast<int32_t>(b);
}

uint64_t HashKey(std::string_view key) { return XXH64(key.data(), key.size(), 0); }

uint32_t ShardOrdinal(std::string_view key, uint32_t shards, uint32_t ordinal_start) {
  return ordinal_start +
         static_cast<uint32_t>(JumpConsistentHash(HashKey(key), static_cast<int32_t>(shards)));
}

const Endpoint* NextPresent(const EndpointSet& pods, uint32_t ordinal, uint32_t start,
                            uint32_t span) {
  for (uint32_t step = 1; step < span; ++step) {
    uint32_t candidate = start + (ordinal - start + step) % span;
    if (const Endpoint* e = pods.ByOrdinal(candidate)) return e;
  }
  return nullptr;
}

uint64_t MaglevTable::TableSizeFor(size_t pods) {
  // Never below 65537 (Envoy's default): small tables move noticeably more keys on a change.
  static const uint64_t kPrimes[] = {65537, 262139, 1048573, 4194301};
  for (uint64_t p : kPrimes) {
    if (p >= pods * 100) return p;
  }
  return kPrimes[sizeof(kPrimes) / sizeof(kPrimes[0]) - 1];
}

MaglevTable::MaglevTable(const EndpointSet& pods) {
  const size_t n = pods.size();
  if (n == 0) return;
  const uint64_t m = TableSizeFor(n);
  std::vector<uint64_t> offset(n), skip(n), next(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const std::string& name = pods.all()[i].pod;
    offset[i] = XXH64(name.data(), name.size(), 0) % m;
    skip[i] = XXH64(name.data(), name.size(), 1) % (m - 1) + 1;
  }
  table_.assign(m, -1);
  uint64_t filled = 0;
  // Each pod in turn takes its next preferred free slot, until every slot is taken.
  while (true) {
    for (size_t i = 0; i < n; ++i) {
      uint64_t slot = (offset[i] + next[i] * skip[i]) % m;
      while (table_[slot] >= 0) {
        ++next[i];
        slot = (offset[i] + next[i] * skip[i]) % m;
      }
      table_[slot] = static_cast<int32_t>(i);
      ++next[i];
      if (++filled == m) return;
    }
  }
}

int MaglevTable::Pick(uint64_t key_hash) const {
  if (table_.empty()) return -1;
  return table_[key_hash % table_.size()];
}

std::shared_ptr<const MaglevTable> MaglevFor(const EndpointSnapshot& pods) {
  using Entry = std::pair<std::weak_ptr<const EndpointSet>, std::shared_ptr<const MaglevTable>>;
  static std::mutex mu;
  static std::vector<Entry> tables;  // a few live snapshots at a time; expired ones are dropped
  auto find = [&]() -> std::shared_ptr<const MaglevTable> {
    std::erase_if(tables, [](const Entry& e) { return e.first.expired(); });
    for (const auto& [set, table] : tables) {
      if (set.lock() == pods) return table;
    }
    return nullptr;
  };
  {
    std::lock_guard lock(mu);
    if (auto table = find()) return table;
  }
  // Built outside the lock: other services' lookups do not wait for it. Two builders of the same
  // snapshot (rare: the resolver builds at publish time) keep the first table.
  auto built = std::make_shared<const MaglevTable>(*pods);
  std::lock_guard lock(mu);
  if (auto table = find()) return table;
  tables.emplace_back(pods, built);
  return built;
}

}  // namespace podrouter
