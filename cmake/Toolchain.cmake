# Compiler cache, warnings and sanitizers shared by every target.
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
endif()

if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "" FORCE)
endif()

# After the build type's -g on the command line, so it wins. Full debug info of Asio/Beast
# templates was a third of the compile time of their translation units.
if(SALLYPORT_LINE_TABLES)
  add_compile_options(-g1)
endif()

set(SALLYPORT_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Wunused -Woverloaded-virtual -Wdouble-promotion -Wformat=2
    -Wimplicit-fallthrough)
if(SALLYPORT_WERROR)
  list(APPEND SALLYPORT_WARNINGS -Werror)
endif()

if(SALLYPORT_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(SALLYPORT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SALLYPORT_FUZZ needs clang (libFuzzer)")
  endif()
  # clang 14 cannot emit -fsanitize=function checks in coroutine frames ("Cannot represent a
  # difference across sections"); the rest of UBSan stays on.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=function
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# GCC 12 at -O2 reports Asio's coroutine frame allocator as mismatched new/delete (a false
# positive in awaitable_frame_base); only targets with coroutines take this exception.
set(SALLYPORT_COROUTINE_FLAGS "")
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  set(SALLYPORT_COROUTINE_FLAGS -Wno-mismatched-new-delete)
endif()
