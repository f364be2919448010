#pragma once
// The agent's session registry: it owns every session's process and descriptors, across links.
// Output is read only while the gateway has granted credit, so a reader that stops reading
// stops the process (the PTY or pipe fills) instead of growing a buffer here.
//
// When the link breaks, sessions wait for the next one for the grace the gateway gave in
// session_open: each keeps the output the gateway has not credited (at most one window) and
// offers itself with session_reattach on the next link, then sends again what the gateway did
// not receive. A session the gateway no longer has is hung up; so is one whose grace runs out.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sallyport/pty/process.hpp"
#include "sallyport/transport/message_socket.hpp"
#include "sallyport/wire/frame.hpp"

namespace sallyport::agent {

class AgentSession;

class SessionManager : public std::enable_shared_from_this<SessionManager> {
 public:
  SessionManager(boost::asio::any_io_executor executor, pty::CreateUser create_users);
  ~SessionManager();

  void start();  // begins reaping children (SIGCHLD)
  // A link is up: kept sessions offer themselves to the gateway on it.
  void attach(std::shared_ptr<transport::MessageSocket> link);
  // The link broke: sessions wait for the next one (or end, with no grace).
  void detach();
  // Handles one frame the gateway sent on a session channel.
  boost::asio::awaitable<void> on_frame(wire::Frame frame);
  // The agent stops: hang up every session.
  void close_all();
  std::size_t size() const { return sessions_.size(); }
  // The sessions kept for the gateway, by ID (at most a hello's worth).
  std::vector<std::string> session_ids() const;

 private:
  friend class AgentSession;
  boost::asio::awaitable<void> open(std::uint32_t channel, const nlohmann::json& request);
  // Sends on the current link; false when there is none or it is closed.
  boost::asio::awaitable<bool> send(std::string frame);
  void reap();
  void forget(std::uint32_t channel, const AgentSession* session);

  boost::asio::any_io_executor executor_;
  pty::CreateUser create_users_;
  std::shared_ptr<transport::MessageSocket> link_;
  bool stopping_ = false;  // close_all() ran: the agent is stopping
  std::map<std::uint32_t, std::shared_ptr<AgentSession>> sessions_;
  std::vector<std::shared_ptr<AgentSession>> leaving_;  // hung up after a new session took the channel
  struct Reaper;
  std::unique_ptr<Reaper> reaper_;
};

}  // namespace sallyport::agent
