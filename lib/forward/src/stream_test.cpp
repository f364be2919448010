// Two streams joined back to back (each one's frames go to the other's on_frame), with
// socketpairs as their local ends: what one local end writes the other reads, in both
// directions, with half-close and the credit windows in play.
#include "sallyport/forward/stream.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <thread>
#include <vector>

#include "sallyport/wire/control.hpp"

namespace sallyport::forward {
namespace {

namespace asio = boost::asio;

struct Pair {
  int local = -1;   // the test's side
  int stream = -1;  // handed to the stream
};

Pair socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) throw std::runtime_error("socketpair");
  return {fds[0], fds[1]};
}

void write_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    ASSERT_GT(n, 0);
    done += static_cast<std::size_t>(n);
  }
}

std::string read_all(int fd) {
  std::string out;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

struct Joined {
  asio::io_context io;
  std::shared_ptr<Stream> a, b;
  std::string a_reason = "running", b_reason = "running";
  StreamTotals a_totals, b_totals;

  Joined(int a_fd, int b_fd) {
    auto deliver = [this](std::shared_ptr<Stream>* to) {
      return [this, to](std::string frame) -> asio::awaitable<bool> {
        const auto header = wire::peek_header(frame);
        if (!header) throw std::runtime_error("stream sent a malformed frame");
        if (*to) (*to)->on_frame(std::move(frame), *header);
        co_return true;
      };
    };
    a = Stream::from_socket(io.get_executor(), a_fd, 7, deliver(&b), [this](const std::string& reason, const StreamTotals& t) {
      a_reason = reason;
      a_totals = t;
    });
    b = Stream::from_socket(io.get_executor(), b_fd, 7, deliver(&a), [this](const std::string& reason, const StreamTotals& t) {
      b_reason = reason;
      b_totals = t;
    });
    a->start();
    b->start();
  }
};

TEST(Stream, CarriesBothDirectionsWithHalfCloseAndEndsCleanly) {
  auto client = socket_pair();
  auto server = socket_pair();
  Joined joined(client.stream, server.stream);
  std::string request(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < request.size(); ++i) request[i] = static_cast<char>(i * 31 + 7);
  std::string received_by_server, received_by_client;
  std::thread client_thread([&] {
    write_all(client.local, request);
    ::shutdown(client.local, SHUT_WR);  // half-close: the answer must still arrive
    received_by_client = read_all(client.local);
  });
  std::thread server_thread([&] {
    received_by_server = read_all(server.local);  // ends at the client's half-close
    write_all(server.local, "answer after eof");
    ::shutdown(server.local, SHUT_WR);
  });
  joined.io.run_for(std::chrono::seconds(20));
  client_thread.join();
  server_thread.join();
  EXPECT_EQ(received_by_server.size(), request.size());
  EXPECT_TRUE(received_by_server == request);
  EXPECT_EQ(received_by_client, "answer after eof");
  EXPECT_EQ(joined.a_reason, "");
  EXPECT_EQ(joined.b_reason, "");
  EXPECT_EQ(joined.a_totals.bytes_sent, request.size());
  EXPECT_EQ(joined.b_totals.bytes_received, request.size());
  EXPECT_TRUE(joined.a->done() && joined.b->done());
  ::close(client.local);
  ::close(server.local);
}

TEST(Stream, ReadsInSmallFramesUntilItsSocketKeepsItBusy) {
  auto local = socket_pair();
  asio::io_context io;
  std::vector<std::size_t> payloads;
  std::size_t received = 0;
  auto stream = Stream::from_socket(
      io.get_executor(), local.stream, 3,
      [&](std::string frame) -> asio::awaitable<bool> {
        if (frame[0] == static_cast<char>(wire::FrameType::kData)) {
          payloads.push_back(frame.size() - wire::kHeaderBytes);
          received += payloads.back();
        }
        co_return true;
      },
      [](const std::string&, const StreamTotals&) {});
  stream->start();
  const std::size_t total = 2 << 20;
  std::thread writer([&] { write_all(local.local, std::string(total, 'z')); });
  for (int i = 0; i < 200 && received < total; ++i) io.run_for(std::chrono::milliseconds(10));
  writer.join();
  ASSERT_EQ(received, total);
  EXPECT_LE(payloads.front(), 16u * 1024);  // an idle connection holds a small buffer
  EXPECT_GT(*std::max_element(payloads.begin(), payloads.end()), 64u * 1024);  // a busy one reads large
  stream->abort("test over");
  io.run_for(std::chrono::milliseconds(20));
  ::close(local.local);
}

TEST(Stream, ReturnsCreditInBatchesNotForEverySmallMessage) {
  auto local = socket_pair();
  asio::io_context io;
  std::vector<std::uint32_t> credits;
  auto stream = Stream::from_socket(
      io.get_executor(), local.stream, 3,
      [&](std::string frame) -> asio::awaitable<bool> {
        if (frame[0] == static_cast<char>(wire::FrameType::kCredit)) {
          credits.push_back(*wire::decode_credit(std::string_view(frame).substr(wire::kHeaderBytes)));
        }
        co_return true;
      },
      [](const std::string&, const StreamTotals&) {});
  stream->start();
  std::string received;
  auto deliver = [&](const std::string& payload) {
    std::string frame = wire::encode(wire::FrameType::kData, 3, payload);
    stream->on_frame(frame, *wire::peek_header(frame));
    io.run_for(std::chrono::milliseconds(2));
  };
  // Keystrokes, each written before the next arrives: the window is far larger than a batch,
  // so none of them costs a credit frame through every hop.
  for (int i = 0; i < 50; ++i) deliver("k");
  char buffer[65536];
  EXPECT_EQ(::read(local.local, buffer, sizeof buffer), 50);
  EXPECT_TRUE(credits.empty());
  // Bulk: the window comes back, a batch at a time.
  std::thread reader([&] {
    std::size_t total = 0;
    while (total < 512 * 1024) {
      const ssize_t n = ::read(local.local, buffer, sizeof buffer);
      if (n <= 0) break;
      total += static_cast<std::size_t>(n);
    }
  });
  for (int i = 0; i < 8; ++i) deliver(std::string(64 * 1024, 'b'));
  for (int i = 0; i < 100 && credits.size() < 4; ++i) io.run_for(std::chrono::milliseconds(10));
  reader.join();
  std::uint64_t returned = 0;
  for (auto credit : credits) returned += credit;
  EXPECT_EQ(credits.size(), 4u);
  EXPECT_EQ(returned, 512u * 1024 + 50);  // everything written, the keystrokes with the first batch
  stream->abort("test over");
  io.run_for(std::chrono::milliseconds(20));
  ::close(local.local);
}

TEST(Stream, StreamsSharingABudgetSendNoMoreThanItAndIdleOnesHoldNone) {
  asio::io_context io;
  auto budget = std::make_shared<SendBudget>(100 * 1024);
  std::size_t sent = 0;
  auto send = [&](std::string frame) -> asio::awaitable<bool> {
    if (frame[0] == static_cast<char>(wire::FrameType::kData)) sent += frame.size() - wire::kHeaderBytes;
    co_return true;
  };
  auto done = [](const std::string&, const StreamTotals&) {};
  std::vector<Pair> locals;
  std::vector<std::shared_ptr<Stream>> streams;
  for (std::uint32_t channel = 2; channel < 5; ++channel) {  // the third stays idle
    locals.push_back(socket_pair());
    streams.push_back(Stream::from_socket(io.get_executor(), locals.back().stream, channel, send, done, budget));
    streams.back()->start();
  }
  io.run_for(std::chrono::milliseconds(20));  // every stream now waits on its socket
  write_all(locals[0].local, std::string(80 * 1024, 'a'));
  write_all(locals[1].local, std::string(80 * 1024, 'b'));
  io.run_for(std::chrono::milliseconds(200));
  EXPECT_EQ(sent, 100u * 1024);
  EXPECT_EQ(budget->available(), 0u);
  budget->give(60 * 1024);  // the rest fits now
  io.run_for(std::chrono::milliseconds(200));
  EXPECT_EQ(sent, 160u * 1024);
  EXPECT_EQ(budget->available(), 0u);
  budget->give(1 << 30);  // never beyond the initial amount
  EXPECT_EQ(budget->available(), 100u * 1024);
  EXPECT_TRUE(budget->full());
  for (auto& stream : streams) stream->abort("test over");
  io.run_for(std::chrono::milliseconds(20));
  for (auto& pair : locals) ::close(pair.local);
}

TEST(Stream, PeerOverrunningTheWindowIsRefused) {
  auto local = socket_pair();
  asio::io_context io;
  std::string sent_close;
  std::string reason = "running";
  auto stream = Stream::from_socket(
      io.get_executor(), local.stream, 3,
      [&](std::string frame) -> asio::awaitable<bool> {
        if (frame[0] == static_cast<char>(wire::FrameType::kControl)) sent_close = frame.substr(wire::kHeaderBytes);
        co_return true;
      },
      [&](const std::string& why, const StreamTotals&) { reason = why; });
  // The local reader never reads, so the window fills; one more frame is an overrun.
  const std::string chunk(wire::kMaxPayloadBytes, 'x');
  for (std::size_t sent = 0; sent <= wire::kStreamWindowBytes; sent += chunk.size()) {
    std::string frame = wire::encode(wire::FrameType::kData, 3, chunk);
    stream->on_frame(frame, *wire::peek_header(frame));
  }
  io.run_for(std::chrono::milliseconds(200));
  EXPECT_EQ(reason, "the peer ignored flow control");
  EXPECT_NE(sent_close.find("stream_close"), std::string::npos);
  ::close(local.local);
}

TEST(Stream, ResetByTheLocalEndSendsStreamClose) {
  auto local = socket_pair();
  asio::io_context io;
  std::string sent;
  std::string reason = "running";
  auto stream = Stream::from_socket(
      io.get_executor(), local.stream, 3,
      [&](std::string frame) -> asio::awaitable<bool> {
        sent += frame.substr(wire::kHeaderBytes);
        co_return true;
      },
      [&](const std::string& why, const StreamTotals&) { reason = why; });
  stream->start();
  std::string close = wire::encode_control({{"type", "stream_close"}, {"reason", "refused by peer"}}, 3);
  io.run_for(std::chrono::milliseconds(50));
  stream->on_frame(close, *wire::peek_header(close));
  io.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(reason, "refused by peer");
  char byte;
  EXPECT_EQ(::read(local.local, &byte, 1), 0);  // the local end sees the close at once
  ::close(local.local);
}

}  // namespace
}  // namespace sallyport::forward
