#include "sallyport/agent/backoff.hpp"

#include <algorithm>

namespace sallyport::agent {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap, std::uint64_t seed)
    : initial_(initial), cap_(std::max(cap, initial)), random_(seed) {}

std::chrono::milliseconds Backoff::next() {
  const auto shift = std::min(attempt_, 20);
  const auto ceiling = std::min<std::int64_t>(cap_.count(), initial_.count() << shift);
  ++attempt_;
  const auto floor = std::min<std::int64_t>(initial_.count() / 2, ceiling);
  std::uniform_int_distribution<std::int64_t> pick(floor, ceiling);
  return std::chrono::milliseconds(pick(random_));
}

}  // namespace sallyport::agent
