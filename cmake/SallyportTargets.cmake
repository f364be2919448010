# sallyport_library(NAME SOURCES ... DEPS ...): a static library for one layer with a public
# include/ folder; the target is called sallyport_<NAME> with the alias sallyport::<NAME>.
function(sallyport_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  set(target sallyport_${name})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(sallyport::${name} ALIAS ${target})
  target_include_directories(${target} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                       PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_compile_options(${target} PRIVATE ${SALLYPORT_WARNINGS})
  target_link_libraries(${target} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# sallyport_test(NAME SOURCES ... DEPS ... [LABELS ...] [TIMEOUT s]): a GoogleTest binary,
# registered with ctest as one test.
function(sallyport_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${SALLYPORT_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main Threads::Threads)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
endfunction()

# sallyport_fuzz_target(NAME SOURCES ... DEPS ... CORPUS dir): a libFuzzer entry point
# (LLVMFuzzerTestOneInput). With SALLYPORT_FUZZ it links libFuzzer (fuzz_<NAME>); otherwise it
# links a small driver that replays every file in the corpus, registered as a ctest so the
# checked-in corpus always runs under the normal and sanitizer builds.
function(sallyport_fuzz_target name)
  cmake_parse_arguments(ARG "" "CORPUS" "SOURCES;DEPS" ${ARGN})
  set(target fuzz_${name})
  add_executable(${target} ${ARG_SOURCES})
  target_compile_options(${target} PRIVATE ${SALLYPORT_WARNINGS})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS})
  if(SALLYPORT_FUZZ)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  else()
    target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/fuzz/replay_driver.cpp)
  endif()
  add_test(NAME ${target}_corpus COMMAND ${target} ${ARG_CORPUS})
  set_tests_properties(${target}_corpus PROPERTIES LABELS fuzz TIMEOUT 120)
  set_property(GLOBAL APPEND PROPERTY SALLYPORT_FUZZ_TARGETS "${target}|${ARG_CORPUS}")
endfunction()
