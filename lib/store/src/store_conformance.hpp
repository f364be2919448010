#pragma once
// The behaviour every Store backend must share, as one value-parameterised GoogleTest suite.
// The tests live in store_conformance.cpp; a backend's test binary compiles that file and
// instantiates the suite with its own factory:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance,
//                            ::testing::Values(StoreBackend{"Sqlite", make, cleanup}),
//                            backend_name);
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "sallyport/store/store.hpp"

namespace sallyport::store::conformance {

// Produces a fresh, empty store. Called once per test.
using StoreFactory = std::function<std::unique_ptr<Store>()>;

struct StoreBackend {
  std::string name;  // suffix of the test names, e.g. "Sqlite"
  StoreFactory make;
  // Optional: runs after each test once its store is destroyed (e.g. remove a temporary file
  // or drop a scratch schema).
  std::function<void()> cleanup;
};

inline void PrintTo(const StoreBackend& backend, std::ostream* out) { *out << backend.name; }

inline std::string backend_name(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

class StoreConformance : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    store_ = GetParam().make();
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    store_.reset();
    if (GetParam().cleanup) GetParam().cleanup();
  }

  Store& store() { return *store_; }

  std::unique_ptr<Store> store_;
};

}  // namespace sallyport::store::conformance
