#include <gtest/gtest.h>

#include "error.hpp"
#include "sallyport/cli/exit_codes.hpp"

namespace sallyport::cli {
namespace {

TEST(ExitCodes, MapsHttpStatuses) {
  EXPECT_EQ(exit_code_for_status(200), kExitOk);
  EXPECT_EQ(exit_code_for_status(201), kExitOk);
  EXPECT_EQ(exit_code_for_status(400), kExitBadRequest);
  EXPECT_EQ(exit_code_for_status(401), kExitNotLoggedIn);
  EXPECT_EQ(exit_code_for_status(403), kExitForbidden);
  EXPECT_EQ(exit_code_for_status(404), kExitNotFound);
  EXPECT_EQ(exit_code_for_status(409), kExitConflict);
  EXPECT_EQ(exit_code_for_status(429), kExitRateLimited);
  EXPECT_EQ(exit_code_for_status(405), kExitError);
  EXPECT_EQ(exit_code_for_status(500), kExitError);
  EXPECT_EQ(exit_code_for_status(503), kExitError);
}

TEST(ExitCodes, ValuesAreTheDocumentedOnes) {
  EXPECT_EQ(kExitOk, 0);
  EXPECT_EQ(kExitError, 1);
  EXPECT_EQ(kExitUsage, 2);
  EXPECT_EQ(kExitNotLoggedIn, 3);
  EXPECT_EQ(kExitForbidden, 4);
  EXPECT_EQ(kExitNotFound, 5);
  EXPECT_EQ(kExitUnreachable, 6);
  EXPECT_EQ(kExitConflict, 7);
  EXPECT_EQ(kExitRateLimited, 8);
  EXPECT_EQ(kExitBadRequest, 9);
}

TEST(ExitCodes, HelpListsEveryCode) {
  const std::string help = exit_codes_help();
  for (int code = 0; code <= 9; ++code) {
    EXPECT_NE(help.find("  " + std::to_string(code) + "  "), std::string::npos) << code;
  }
  EXPECT_NE(help.find("cannot reach or trust the gateway"), std::string::npos);
}

TEST(ExitCodes, CliErrorCarriesItsCode) {
  const CliError error(kExitConflict, "user bob already exists");
  EXPECT_EQ(error.exit_code(), kExitConflict);
  EXPECT_STREQ(error.what(), "user bob already exists");
  EXPECT_EQ(usage_error("x").exit_code(), kExitUsage);
}

}  // namespace
}  // namespace sallyport::cli
