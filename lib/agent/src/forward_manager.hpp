#pragma once
// The agent's end of port forwarding: on `stream_connect` it connects to host:port from the
// node (every address the name resolves to, in turn, within kConnectTimeout) and answers
// `stream_opened` or `stream_failed`; then the connection is a forward::Stream on that
// channel until either end closes it. The gateway has authorised host and port already.
// The streams of one forwarding session share one SendBudget (wire::kForwardSessionWindowBytes)
// that the gateway refills with `forward_credit` and drops with `forward_end`; every
// `stream_close` from the gateway is answered with one, whatever state the stream was in.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <set>
#include <string>

#include "sallyport/forward/stream.hpp"
#include "sallyport/wire/frame.hpp"

namespace sallyport::agent {

class ForwardManager : public std::enable_shared_from_this<ForwardManager> {
 public:
  static constexpr std::size_t kMaxStreams = 4096;  // per link

  ForwardManager(boost::asio::any_io_executor executor, forward::SendFrame send);
  // A frame on a stream channel (wire::is_stream_channel), as received.
  void on_frame(std::string frame, const wire::Header& header);
  // The link is gone: close every connection.
  void close_all();
  std::size_t size() const { return streams_.size() + connecting_.size(); }

 private:
  boost::asio::awaitable<void> connect(std::uint32_t channel, std::string host, std::uint16_t port,
                                       std::shared_ptr<forward::SendBudget> budget);
  void on_session_message(const nlohmann::json& message);
  void send_later(std::string frame);

  boost::asio::any_io_executor executor_;
  forward::SendFrame send_;
  std::map<std::uint32_t, std::shared_ptr<forward::Stream>> streams_;
  std::set<std::uint32_t> connecting_;  // removed when the gateway closes the stream meanwhile
  std::map<std::string, std::shared_ptr<forward::SendBudget>> budgets_;  // by forwarding session
  bool closed_ = false;
};

}  // namespace sallyport::agent
