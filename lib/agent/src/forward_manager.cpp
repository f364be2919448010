#include "forward_manager.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "sallyport/wire/control.hpp"

namespace sallyport::agent {

namespace asio = boost::asio;
using nlohmann::json;

namespace {
constexpr auto kConnectTimeout = std::chrono::seconds(10);

std::string failed_frame(std::uint32_t channel, const std::string& code, const std::string& message) {
  return wire::encode_control(json{{"type", wire::msg::kStreamFailed}, {"code", code}, {"message", message.substr(0, 1000)}},
                              channel);
}

std::string failure_code(const boost::system::error_code& ec) {
  if (ec == asio::error::connection_refused) return "connection_refused";
  if (ec == asio::error::operation_aborted || ec == asio::error::timed_out) return "timed_out";
  if (ec == asio::error::host_unreachable || ec == asio::error::network_unreachable) return "unreachable";
  return "connect_failed";
}
}  // namespace

ForwardManager::ForwardManager(asio::any_io_executor executor, forward::SendFrame send)
    : executor_(std::move(executor)), send_(std::move(send)) {}

void ForwardManager::send_later(std::string frame) {
  auto send = send_;
  asio::co_spawn(executor_, [send, frame = std::move(frame)]() mutable -> asio::awaitable<void> {
    co_await send(std::move(frame));
  }, asio::detached);
}

void ForwardManager::on_frame(std::string frame, const wire::Header& header) {
  if (closed_) return;
  const auto it = streams_.find(header.channel);
  const bool live = it != streams_.end();
  if (live && header.type != wire::FrameType::kControl) {
    auto stream = it->second;  // on_frame may end it and erase the entry
    stream->on_frame(std::move(frame), header);
    return;
  }
  if (header.type != wire::FrameType::kControl) return;  // late credit or data of a closed stream
  const auto parsed = wire::parse_control(std::string_view(frame).substr(wire::kHeaderBytes));
  if (!parsed.error.empty()) {
    spdlog::warn("ignoring malformed stream message on channel {}: {}", header.channel, parsed.error);
    return;
  }
  const auto& message = parsed.message;
  if (header.channel == wire::kForwardControlChannel) {
    on_session_message(message);
    return;
  }
  if (live) {
    auto stream = it->second;
    stream->on_frame(std::move(frame), header);
  }
  if (message["type"] == wire::msg::kStreamClose) {
    // The answer is the last frame on this channel: the gateway stops expecting late data.
    connecting_.erase(header.channel);
    send_later(wire::encode_control(json{{"type", wire::msg::kStreamClose}, {"reason", "closed"}}, header.channel));
    return;
  }
  if (message["type"] != wire::msg::kStreamConnect || live || connecting_.count(header.channel)) return;
  const std::string session_id = message["session_id"].get<std::string>();
  if (size() >= kMaxStreams || (budgets_.size() >= kMaxStreams && !budgets_.count(session_id))) {
    send_later(failed_frame(header.channel, "too_many_streams", "the agent holds too many forwarded connections"));
    return;
  }
  auto& budget = budgets_[session_id];
  if (!budget) budget = std::make_shared<forward::SendBudget>(wire::kForwardSessionWindowBytes);
  connecting_.insert(header.channel);
  asio::co_spawn(executor_, connect(header.channel, message["host"].get<std::string>(),
                                    static_cast<std::uint16_t>(message["port"].get<int>()), budget),
                 asio::detached);
}

void ForwardManager::on_session_message(const json& message) {
  const auto it = budgets_.find(message["session_id"].get<std::string>());
  if (it == budgets_.end()) return;  // a session this link no longer has
  if (message["type"] == wire::msg::kForwardCredit) {
    it->second->give(message["bytes"].get<std::uint64_t>());
  } else if (message["type"] == wire::msg::kForwardEnd) {
    budgets_.erase(it);  // its streams were closed before; they keep their pointer until done
  }
}

asio::awaitable<void> ForwardManager::connect(std::uint32_t channel, std::string host, std::uint16_t port,
                                              std::shared_ptr<forward::SendBudget> budget) {
  auto self = shared_from_this();
  const std::string where = host + ":" + std::to_string(port);
  asio::ip::tcp::resolver resolver(executor_);
  asio::ip::tcp::socket socket(executor_);
  asio::steady_timer deadline(executor_, kConnectTimeout);
  bool timed_out = false;
  deadline.async_wait([&](const boost::system::error_code& ec) {
    if (ec) return;
    timed_out = true;
    resolver.cancel();
    boost::system::error_code ignored;
    socket.close(ignored);
  });
  boost::system::error_code ec;
  const auto endpoints =
      co_await resolver.async_resolve(host, std::to_string(port), asio::redirect_error(asio::use_awaitable, ec));
  std::string failure_code_text, failure;
  if (ec) {
    failure_code_text = timed_out ? "timed_out" : "unknown_host";
    failure = "cannot resolve " + host + ": " + ec.message();
  } else {
    co_await asio::async_connect(socket, endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      failure_code_text = timed_out ? "timed_out" : failure_code(ec);
      failure = "cannot connect to " + where + " from the node: " + (timed_out ? "timed out" : ec.message());
    }
  }
  deadline.cancel();
  const bool wanted = connecting_.erase(channel) > 0 && !closed_;
  if (!failure.empty()) {
    spdlog::info("forward on channel {:#x}: {}", channel, failure);
    if (wanted) co_await send_(failed_frame(channel, failure_code_text, failure));
    co_return;
  }
  if (!wanted) co_return;  // the gateway closed the stream meanwhile; the socket closes here
  boost::system::error_code ignored;
  const auto remote = socket.remote_endpoint(ignored);
  const std::string remote_address =
      (remote.address().is_v6() ? "[" + remote.address().to_string() + "]" : remote.address().to_string()) + ":" +
      std::to_string(remote.port());
  std::weak_ptr<ForwardManager> weak = self;
  auto stream = forward::Stream::from_socket(executor_, socket.release(), channel, send_,
                                             [weak, channel](const std::string&, const forward::StreamTotals&) {
                                               if (auto manager = weak.lock()) manager->streams_.erase(channel);
                                             },
                                             std::move(budget));
  streams_[channel] = stream;
  std::string opened = wire::encode_control(json{{"type", wire::msg::kStreamOpened}, {"remote_address", remote_address}}, channel);
  co_await send_(std::move(opened));
  if (!stream->done()) stream->start();
}

void ForwardManager::close_all() {
  closed_ = true;
  auto streams = std::move(streams_);
  streams_.clear();
  connecting_.clear();
  budgets_.clear();
  for (auto& [channel, stream] : streams) stream->abort("the link to the gateway closed");
}

}  // namespace sallyport::agent
