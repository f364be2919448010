#include "local_io.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
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

// A pipe on stdin or stdout gets room for a whole data chunk; a file is left as it is.
TEST(EnlargeIfPipe, GivesAPipeRoomForAWholeChunkAndLeavesFilesAlone) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  ASSERT_LT(::fcntl(pipe_fds[1], F_GETPIPE_SZ), static_cast<int>(wire::kDataChunkBytes));
  enlarge_if_pipe(pipe_fds[1]);
  EXPECT_EQ(::fcntl(pipe_fds[0], F_GETPIPE_SZ), static_cast<int>(wire::kDataChunkBytes));
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);

  char path[] = "/tmp/sallyport-enlarge-XXXXXX";
  const int file = ::mkstemp(path);
  ASSERT_GE(file, 0);
  enlarge_if_pipe(file);  // not a pipe: nothing happens, nothing fails
  EXPECT_EQ(::write(file, "x", 1), 1);
  ::close(file);
  ::unlink(path);
}

}  // namespace
}  // namespace sallyport::cli::local_io
