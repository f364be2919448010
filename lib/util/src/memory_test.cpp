#include "sallyport/util/memory.hpp"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace sallyport::util {
namespace {

#if defined(__SANITIZE_ADDRESS__)
TEST(Memory, MessagesComeFromTheHeap) { GTEST_SKIP() << "AddressSanitizer brings its own allocator"; }
#else
TEST(Memory, MessagesComeFromTheHeap) {
  keep_freed_message_memory();
  // A message at the link's limit is not given its own mapping...
  const auto mapped_before = ::mallinfo2().hblkhd;
  void* message = std::malloc(512 * 1024);
  ASSERT_NE(message, nullptr);
  std::memset(message, 1, 512 * 1024);
  EXPECT_EQ(::mallinfo2().hblkhd, mapped_before);
  // ...and once freed, its memory stays for the next one instead of going back to the kernel.
  const auto heap_before_free = ::mallinfo2().arena;
  std::free(message);
  EXPECT_EQ(::mallinfo2().arena, heap_before_free);
}
#endif

}  // namespace
}  // namespace sallyport::util
