#pragma once
// One clock for everything that reads the time, so tests can set it (token expiry, activation
// expiry, rate-limit windows) instead of sleeping.
#include <atomic>
#include <cstdint>

namespace sallyport::util {

using Millis = std::int64_t;  // milliseconds since the Unix epoch, UTC

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Millis now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  Millis now_ms() const override;
  static const SystemClock& instance();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(Millis start) : now_(start) {}
  Millis now_ms() const override { return now_.load(); }
  void advance(Millis delta) { now_ += delta; }
  void set(Millis value) { now_ = value; }

 private:
  std::atomic<Millis> now_;
};

}  // namespace sallyport::util
