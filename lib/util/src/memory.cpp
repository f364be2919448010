#include "sallyport/util/memory.hpp"

#include <malloc.h>

namespace sallyport::util {

void keep_freed_message_memory() {
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 8 << 20);
}

}  // namespace sallyport::util
