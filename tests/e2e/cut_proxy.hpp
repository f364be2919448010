#pragma once
// A TCP relay on loopback that a test puts between the CLI and the gateway and then cuts, as a
// network failure would: every connection through it is reset (RST, not an orderly close), and
// while it is down new connections are reset as soon as they arrive. It can also go silent
// first, so that whatever is in flight when it breaks is lost.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>

namespace sallyport::e2e {

class CutProxy {
 public:
  explicit CutProxy(std::uint16_t target_port);
  ~CutProxy();
  CutProxy(const CutProxy&) = delete;
  CutProxy& operator=(const CutProxy&) = delete;

  std::uint16_t port() const { return port_; }
  // Resets every connection now; with down, keeps resetting new ones until up() is called.
  void cut(bool down = false);
  void up();
  // Stops relaying until the next cut, as a network that goes silent before it breaks: what
  // either side sends meanwhile is lost with the connection.
  void freeze();
  int cuts() const { return cuts_; }  // connections reset so far

 private:
  void run();
  void wake();

  std::uint16_t target_port_;
  std::uint16_t port_ = 0;
  int listener_ = -1;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::atomic<int> cut_requests_{0};
  std::atomic<bool> down_{false};
  std::atomic<bool> frozen_{false};
  std::atomic<int> cuts_{0};
  std::thread thread_;
};

}  // namespace sallyport::e2e
