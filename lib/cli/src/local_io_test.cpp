#include "local_io.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>

namespace sallyport::cli::local_io {
namespace {

// Credit goes back for the session's output only: a notice of the CLI's own (reconnecting,
// reconnected, the gateway's warnings) is written but never counted, or the node would be
// credited more than it sent and the next resume would be refused ("output counts do not match").
TEST(OutputWriter, CreditsSessionOutputButNotTheCliSOwnNotices) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  std::atomic<std::size_t> credited{0};
  {
    OutputWriter writer([&](std::size_t bytes) { credited += bytes; });
    writer.push(pipe_fds[1], "output-1\n");
    writer.push_notice(pipe_fds[1], "[sallyport] reconnecting...\n");
    writer.push(pipe_fds[1], "output-2\n");
    writer.finish();
  }
  ::close(pipe_fds[1]);
  std::string written(256, '\0');
  written.resize(static_cast<std::size_t>(::read(pipe_fds[0], written.data(), written.size())));
  ::close(pipe_fds[0]);
  EXPECT_EQ(written, "output-1\n[sallyport] reconnecting...\noutput-2\n");
  EXPECT_EQ(credited.load(), std::string("output-1\noutput-2\n").size());
}

}  // namespace
}  // namespace sallyport::cli::local_io
