#pragma once
// The agent's session registry: it owns every session's process and descriptors for one link.
// Output is read only while the gateway has granted credit, so a reader that stops reading
// stops the process (the PTY or pipe fills) instead of growing a buffer here.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <map>
#include <memory>
#include <string>

#include "sallyport/pty/process.hpp"
#include "sallyport/wire/frame.hpp"

namespace sallyport::agent {

class AgentSession;

class SessionManager : public std::enable_shared_from_this<SessionManager> {
 public:
  using Send = std::function<boost::asio::awaitable<bool>(std::string frame)>;

  SessionManager(boost::asio::any_io_executor executor, Send send, pty::CreateUser create_users);
  ~SessionManager();

  void start();  // begins reaping children (SIGCHLD)
  // Handles one frame the gateway sent on a session channel.
  boost::asio::awaitable<void> on_frame(wire::Frame frame);
  // The link is gone: hang up every session.
  void close_all();
  std::size_t size() const { return sessions_.size(); }

 private:
  friend class AgentSession;
  boost::asio::awaitable<void> open(std::uint32_t channel, const nlohmann::json& request);
  void reap();
  void forget(std::uint32_t channel);

  boost::asio::any_io_executor executor_;
  Send send_;
  pty::CreateUser create_users_;
  std::map<std::uint32_t, std::shared_ptr<AgentSession>> sessions_;
  struct Reaper;
  std::unique_ptr<Reaper> reaper_;
};

}  // namespace sallyport::agent
