#include "tls_stream.hpp"

#include <openssl/err.h>

#include <algorithm>
#include <boost/asio/ssl/error.hpp>
#include <climits>
#include <cstring>

namespace sallyport::transport::impl {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

constexpr std::size_t kRecordBytes = 16 * 1024;         // TLS's largest plaintext record
constexpr std::size_t kRecordRoom = kRecordBytes + 256;  // with header, tag and padding
// One more record than the buffer holds, so a frame header and a full buffer go out together.
constexpr std::size_t kPairBytes = (kTlsBufferBytes / kRecordBytes + 1) * kRecordRoom;

error_code ssl_error(unsigned long code) {
  return error_code(static_cast<int>(code), asio::error::get_ssl_category());
}

}  // namespace

TlsCore::TlsCore(boost::beast::tcp_stream next_stream, asio::ssl::context& context)
    : next(std::move(next_stream)), send_done(next.get_executor()) {
  send_done.expires_at(asio::steady_timer::time_point::max());
  ssl_ = SSL_new(context.native_handle());
  BIO* ssl_bio = nullptr;
  if (ssl_ == nullptr || BIO_new_bio_pair(&ssl_bio, kPairBytes, &network_bio_, kPairBytes) != 1) {
    const auto error = ssl_error(ERR_get_error());
    SSL_free(ssl_);
    throw boost::system::system_error(error, "cannot create a TLS connection");
  }
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  SSL_set_options(ssl_, SSL_OP_NO_RENEGOTIATION);
  SSL_set_bio(ssl_, ssl_bio, ssl_bio);
}

TlsCore::~TlsCore() {
  SSL_free(ssl_);
  BIO_free(network_bio_);
}

TlsStep TlsCore::handshake(asio::ssl::stream_base::handshake_type type) {
  if (!handshake_started_) {
    handshake_started_ = true;
    if (type == asio::ssl::stream_base::client) SSL_set_connect_state(ssl_);
    else SSL_set_accept_state(ssl_);
  }
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl_);
  if (result == 1) return {};
  return unfinished(result);
}

TlsStep TlsCore::read(asio::mutable_buffer buffer) {
  auto* data = static_cast<char*>(buffer.data());
  std::size_t filled = 0;
  // Drain every record already received, up to the caller's buffer.
  while (filled < buffer.size()) {
    ERR_clear_error();
    const auto want = static_cast<int>(std::min<std::size_t>(buffer.size() - filled, INT_MAX));
    const int result = SSL_read(ssl_, data + filled, want);
    if (result > 0) {
      filled += static_cast<std::size_t>(result);
      continue;
    }
    // Data first; an error or the end is reported by the next read, which meets it again.
    if (filled > 0) break;
    return unfinished(result);
  }
  ERR_clear_error();
  return {TlsStep::Kind::done, filled, {}};
}

TlsStep TlsCore::write(std::span<const asio::const_buffer> buffers) {
  thread_local std::array<char, kRecordBytes> staging;  // joins small buffers into one record
  std::size_t accepted = 0;
  std::size_t index = 0;
  std::size_t offset = 0;  // into buffers[index]
  while (index < buffers.size()) {
    // Whole records only: a record SSL could not finish would bind the next call to its bytes.
    if (BIO_ctrl_get_write_guarantee(SSL_get_wbio(ssl_)) < kRecordRoom) break;
    const char* chunk = static_cast<const char*>(buffers[index].data()) + offset;
    std::size_t chunk_bytes = buffers[index].size() - offset;
    if (chunk_bytes < kRecordBytes && index + 1 < buffers.size()) {
      // Small pieces (a frame header, HTTP fields) go out joined in one record.
      std::size_t staged = 0;
      for (std::size_t i = index, at = offset; i < buffers.size() && staged < staging.size(); ++i, at = 0) {
        const std::size_t take = std::min(buffers[i].size() - at, staging.size() - staged);
        std::memcpy(staging.data() + staged, static_cast<const char*>(buffers[i].data()) + at, take);
        staged += take;
      }
      chunk = staging.data();
      chunk_bytes = staged;
    }
    chunk_bytes = std::min(chunk_bytes, kRecordBytes);
    ERR_clear_error();
    const int result = SSL_write(ssl_, chunk, static_cast<int>(chunk_bytes));
    if (result <= 0) {
      if (accepted > 0) break;
      return unfinished(result);
    }
    auto written = static_cast<std::size_t>(result);
    accepted += written;
    while (written > 0 && index < buffers.size()) {
      const std::size_t step = std::min(written, buffers[index].size() - offset);
      written -= step;
      offset += step;
      if (offset == buffers[index].size()) {
        ++index;
        offset = 0;
      }
    }
  }
  if (accepted == 0 && index < buffers.size()) return {TlsStep::Kind::output, 0, {}};  // room first
  return {TlsStep::Kind::done, accepted, {}};
}

TlsStep TlsCore::shutdown() {
  ERR_clear_error();
  int result = SSL_shutdown(ssl_);
  if (result == 0) {
    ERR_clear_error();
    result = SSL_shutdown(ssl_);  // ours is queued; now the peer's close_notify
  }
  if (result == 1) return {};
  return unfinished(result);
}

TlsStep TlsCore::unfinished(int result) {
  switch (SSL_get_error(ssl_, result)) {
    case SSL_ERROR_WANT_READ:
      return {TlsStep::Kind::input, 0, {}};
    case SSL_ERROR_WANT_WRITE:
      return {TlsStep::Kind::output, 0, {}};
    case SSL_ERROR_ZERO_RETURN:
      return {TlsStep::Kind::failed, 0, asio::error::eof};
    case SSL_ERROR_SSL:
    case SSL_ERROR_SYSCALL: {
      // A connection that failed before fails again on the next call, maybe with nothing left
      // in the error queue: never report that as success.
      const unsigned long code = ERR_get_error();
      return {TlsStep::Kind::failed, 0,
              code != 0 ? ssl_error(code) : error_code(asio::ssl::error::unspecified_system_error)};
    }
    default:
      return {TlsStep::Kind::failed, 0, asio::ssl::error::unexpected_result};
  }
}

bool TlsCore::has_output() const { return BIO_ctrl_pending(network_bio_) > 0; }

asio::const_buffer TlsCore::output() const {
  char* data = nullptr;
  const int bytes = BIO_nread0(network_bio_, &data);
  return bytes > 0 ? asio::const_buffer(data, static_cast<std::size_t>(bytes)) : asio::const_buffer();
}

void TlsCore::consume_output(std::size_t bytes) {
  char* ignored = nullptr;
  BIO_nread(network_bio_, &ignored, static_cast<int>(bytes));
}

asio::mutable_buffer TlsCore::input_space() const {
  char* data = nullptr;
  const int bytes = BIO_nwrite0(network_bio_, &data);
  return bytes > 0 ? asio::mutable_buffer(data, static_cast<std::size_t>(bytes)) : asio::mutable_buffer();
}

void TlsCore::commit_input(std::size_t bytes) {
  char* ignored = nullptr;
  BIO_nwrite(network_bio_, &ignored, static_cast<int>(bytes));
}

error_code TlsCore::receive_error(error_code error) const {
  if (error != asio::error::eof) return error;
  if ((SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) != 0) return error;
  return asio::ssl::error::stream_truncated;
}

}  // namespace sallyport::transport::impl
