#pragma once
// Capped exponential back-off with full jitter between reconnect attempts: the n-th wait is
// uniform in [initial/2, min(cap, initial * 2^n)], so a fleet of agents does not reconnect in
// lock step after a gateway restart.
#include <chrono>
#include <cstdint>
#include <random>

namespace sallyport::agent {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap, std::uint64_t seed);
  std::chrono::milliseconds next();
  void reset() { attempt_ = 0; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  int attempt_ = 0;
  std::mt19937_64 random_;
};

}  // namespace sallyport::agent
