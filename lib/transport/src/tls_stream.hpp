#pragma once
// A TLS stream over a Beast tcp_stream that moves up to kTlsBufferBytes of ciphertext per
// socket call. Asio's ssl::stream moves one 16 KiB record per call, which made a bulk transfer
// cost one send, one receive and two event-loop rounds per record on every hop.
//
// OpenSSL runs over a BIO pair, as in Asio; the socket reads straight into the pair's free space
// and sends straight from its pending ciphertext. One operation at a time sends and one
// receives; a read that has data never waits for another operation's send.
#include <openssl/ssl.h>

#include <array>
#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <memory>
#include <optional>
#include <span>

namespace sallyport::transport::impl {

// Ciphertext per socket call: two full records. Measured against 16 and 64 KiB on port
// forwarding, 32 KiB cost the least CPU per byte (and 64 KiB the most).
constexpr std::size_t kTlsBufferBytes = 32 * 1024;

// What the TLS engine needs next to finish an operation.
struct TlsStep {
  enum class Kind { done, input, output, failed } kind = Kind::done;
  std::size_t bytes = 0;
  boost::system::error_code error;
};

// OpenSSL state and the socket; not a template, so OpenSSL calls live in one .cpp.
class TlsCore {
 public:
  TlsCore(boost::beast::tcp_stream next, boost::asio::ssl::context& context);
  ~TlsCore();
  TlsCore(const TlsCore&) = delete;
  TlsCore& operator=(const TlsCore&) = delete;

  TlsStep handshake(boost::asio::ssl::stream_base::handshake_type type);
  TlsStep read(boost::asio::mutable_buffer buffer);
  TlsStep write(std::span<const boost::asio::const_buffer> buffers);
  TlsStep shutdown();

  bool has_output() const;
  boost::asio::const_buffer output() const;  // contiguous pending ciphertext
  void consume_output(std::size_t bytes);
  boost::asio::mutable_buffer input_space() const;
  void commit_input(std::size_t bytes);
  // The error for a socket read that failed; end of stream without close_notify is truncation.
  boost::system::error_code receive_error(boost::system::error_code error) const;

  SSL* ssl() const { return ssl_; }

  boost::beast::tcp_stream next;
  bool sending = false;
  bool receiving = false;
  boost::asio::steady_timer send_done;  // never expires; cancelled when a send ends

 private:
  TlsStep unfinished(int result);  // what a call that did not succeed waits for, or its error

  SSL* ssl_ = nullptr;
  bool handshake_started_ = false;
  BIO* network_bio_ = nullptr;  // our end of the pair: ciphertext out and in
};

// One TLS operation: runs `action` on the engine, sending and receiving ciphertext as it asks.
// must_flush: the operation completes only once what it produced is on the socket.
template <class Action>
class TlsOperation {
 public:
  TlsOperation(TlsCore& core, Action action, bool must_flush)
      : core_(&core), action_(std::move(action)), must_flush_(must_flush) {}

  template <class Self>
  void operator()(Self& self, boost::system::error_code ec = {}, std::size_t transferred = 0) {
    switch (stage_) {
      case Stage::sending:
        core_->sending = false;
        core_->send_done.cancel();
        if (ec) return self.complete(ec, 0);
        core_->consume_output(transferred);
        break;
      case Stage::receiving:
        core_->receiving = false;
        if (ec) return self.complete(core_->receive_error(ec), 0);
        core_->commit_input(transferred);
        step_.reset();
        break;
      case Stage::posted:
        return self.complete(result_.error, result_.bytes);
      case Stage::starting:
      case Stage::waiting:
        break;
    }
    const bool first_call = stage_ == Stage::starting;
    for (;;) {
      if (!step_) step_ = action_(*core_);
      if (core_->has_output() && !core_->sending) {
        if (step_->kind == TlsStep::Kind::output) step_.reset();  // retry once there is room
        core_->sending = true;
        stage_ = Stage::sending;
        return core_->next.async_write_some(core_->output(), std::move(self));
      }
      switch (step_->kind) {
        case TlsStep::Kind::failed:
          return finish(self, first_call, step_->error, 0);
        case TlsStep::Kind::done:
          if (!must_flush_ || !core_->has_output()) return finish(self, first_call, {}, step_->bytes);
          return wait_for_send(self);
        case TlsStep::Kind::output:
          step_.reset();
          return wait_for_send(self);
        case TlsStep::Kind::input:
          if (core_->receiving) return finish(self, first_call, boost::asio::error::in_progress, 0);
          if (core_->input_space().size() == 0) return finish(self, first_call, boost::asio::error::no_buffer_space, 0);
          core_->receiving = true;
          stage_ = Stage::receiving;
          return core_->next.async_read_some(core_->input_space(), std::move(self));
      }
    }
  }

 private:
  enum class Stage { starting, sending, receiving, waiting, posted };

  template <class Self>
  void wait_for_send(Self& self) {
    stage_ = Stage::waiting;
    core_->send_done.async_wait(std::move(self));
  }

  // Completion never runs inside the initiating call.
  template <class Self>
  void finish(Self& self, bool first_call, boost::system::error_code ec, std::size_t bytes) {
    if (!first_call) return self.complete(ec, bytes);
    result_ = TlsStep{TlsStep::Kind::done, bytes, ec};
    stage_ = Stage::posted;
    boost::asio::post(std::move(self));
  }

  TlsCore* core_;
  Action action_;
  bool must_flush_;
  Stage stage_ = Stage::starting;
  std::optional<TlsStep> step_;
  TlsStep result_;
};

class TlsStream {
 public:
  using next_layer_type = boost::beast::tcp_stream;
  using executor_type = next_layer_type::executor_type;

  TlsStream(boost::beast::tcp_stream next, boost::asio::ssl::context& context)
      : core_(std::make_unique<TlsCore>(std::move(next), context)) {}
  TlsStream(const executor_type& executor, boost::asio::ssl::context& context)
      : TlsStream(boost::beast::tcp_stream(executor), context) {}

  executor_type get_executor() noexcept { return core_->next.get_executor(); }
  next_layer_type& next_layer() noexcept { return core_->next; }
  const next_layer_type& next_layer() const noexcept { return core_->next; }
  SSL* native_handle() noexcept { return core_->ssl(); }

  template <class Token>
  auto async_handshake(boost::asio::ssl::stream_base::handshake_type type, Token&& token) {
    return start([type](TlsCore& core) { return core.handshake(type); }, true, std::forward<Token>(token));
  }

  template <class Token>
  auto async_shutdown(Token&& token) {
    return start([](TlsCore& core) { return core.shutdown(); }, true, std::forward<Token>(token));
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    boost::asio::mutable_buffer first;
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
      const boost::asio::mutable_buffer buffer = *it;
      if (buffer.size() == 0) continue;
      first = buffer;
      break;
    }
    return start([first](TlsCore& core) { return core.read(first); }, false, std::forward<Token>(token));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    Gathered gathered;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && gathered.count < gathered.buffers.size(); ++it) {
      const boost::asio::const_buffer buffer = *it;
      if (buffer.size() != 0) gathered.buffers[gathered.count++] = buffer;
    }
    return start([gathered](TlsCore& core) { return core.write({gathered.buffers.data(), gathered.count}); }, true,
                 std::forward<Token>(token));
  }

 private:
  struct Gathered {
    std::array<boost::asio::const_buffer, 16> buffers;
    std::size_t count = 0;
  };

  template <class Action, class Token>
  auto start(Action action, bool must_flush, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        TlsOperation<Action>(*core_, std::move(action), must_flush), token, core_->next);
  }

  std::unique_ptr<TlsCore> core_;
};

// Beast's WebSocket close ends with this: close_notify both ways; Beast then closes the socket.
template <class Handler>
void async_teardown(boost::beast::role_type, TlsStream& stream, Handler&& handler) {
  boost::asio::async_compose<Handler, void(boost::system::error_code)>(
      [&stream, started = false](auto& self, boost::system::error_code ec = {}, std::size_t = 0) mutable {
        if (started) return self.complete(ec);
        started = true;
        stream.async_shutdown(std::move(self));
      },
      handler, stream.next_layer());
}

}  // namespace sallyport::transport::impl
