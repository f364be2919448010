#pragma once
// Allocator settings for programs that relay messages.

namespace sallyport::util {

// Every relayed message (up to 512 KiB) is allocated and freed in turn. By default glibc serves
// such sizes with a fresh mmap, or returns the heap's top to the kernel after each free, so
// every message faults in new zeroed pages: 12% of the gateway's CPU when forwarding. With
// fixed thresholds (mmap only above 1 MiB, trim only above 8 MiB free at the top) the same
// memory is reused. Call first thing in main.
void keep_freed_message_memory();

}  // namespace sallyport::util
