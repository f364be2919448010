#include "sallyport/gateway/preferences.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

using namespace sallyport;
using namespace sallyport::gateway;

TEST(Preferences, ValidatesEachKeyWithItsRange) {
  EXPECT_EQ(validate_preference("idle_timeout_minutes", "1"), "");
  EXPECT_EQ(validate_preference("idle_timeout_minutes", "60"), "");
  EXPECT_EQ(validate_preference("idle_timeout_minutes", "0"), "idle_timeout_minutes must be an integer from 1 to 60");
  EXPECT_NE(validate_preference("idle_timeout_minutes", "61"), "");
  EXPECT_NE(validate_preference("idle_timeout_minutes", " 5"), "");
  EXPECT_NE(validate_preference("idle_timeout_minutes", "5m"), "");
  EXPECT_NE(validate_preference("idle_timeout_minutes", ""), "");
  EXPECT_NE(validate_preference("idle_timeout_minutes", "99999999999999999999"), "");
  EXPECT_EQ(validate_preference("idle_timeout_seconds", "0"), "");
  EXPECT_EQ(validate_preference("idle_timeout_seconds", "5"), "");
  EXPECT_EQ(validate_preference("idle_timeout_seconds", "3600"), "");
  EXPECT_EQ(validate_preference("idle_timeout_seconds", "4"), "idle_timeout_seconds must be 0 or an integer from 5 to 3600");
  EXPECT_EQ(validate_preference("max_session_duration_minutes", "0"), "");
  EXPECT_EQ(validate_preference("max_session_duration_minutes", "1440"), "");
  EXPECT_NE(validate_preference("max_session_duration_minutes", "-1"), "");
  EXPECT_NE(validate_preference("max_session_duration_minutes", "1441"), "");
  EXPECT_EQ(validate_preference("reconnect_grace_seconds", "0"), "");
  EXPECT_EQ(validate_preference("reconnect_grace_seconds", "3600"), "");
  EXPECT_EQ(validate_preference("reconnect_grace_seconds", "3601"), "reconnect_grace_seconds must be 0 or an integer from 1 to 3600");
  EXPECT_EQ(validate_preference("shell_profile", ""), "");
  EXPECT_EQ(validate_preference("shell_profile", std::string(4096, 'x')), "");
  EXPECT_NE(validate_preference("shell_profile", std::string(4097, 'x')), "");
  EXPECT_NE(validate_preference("shell_profile", std::string("a\0b", 3)), "");
  EXPECT_EQ(validate_preference("recording_s3_required", "true"), "");
  EXPECT_EQ(validate_preference("syslog_required", "false"), "");
  EXPECT_NE(validate_preference("recording_local_required", "yes"), "");
  const auto unknown = validate_preference("colour", "blue");
  EXPECT_NE(unknown.find("unknown preference 'colour'"), std::string::npos);
  EXPECT_NE(unknown.find("idle_timeout_minutes"), std::string::npos);
}

TEST(Preferences, RunAsMustBeAPosixUserName) {
  for (const char* good : {"sallyport-user", "_svc", "a", "deploy_2", "x2345678901234567890123456789012"}) {
    EXPECT_TRUE(valid_posix_user_name(good)) << good;
    EXPECT_EQ(validate_preference("default_run_as", good), "") << good;
  }
  for (const char* bad : {"", "Root", "2fa", "-x", "a b", "a.b", "x23456789012345678901234567890123", "root;id"}) {
    EXPECT_FALSE(valid_posix_user_name(bad)) << bad;
    EXPECT_NE(validate_preference("default_run_as", bad), "") << bad;
  }
}

TEST(Preferences, LoadsDefaultsStoredValuesAndIgnoresInvalidOnes) {
  const auto dir = std::filesystem::temp_directory_path() / ("sp-prefs-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    auto store = store::open_sqlite((dir / "state.db").string());
    auto prefs = load_preferences(*store);
    EXPECT_EQ(prefs.idle_timeout_minutes, 20);
    EXPECT_EQ(prefs.idle_timeout_seconds, 0);
    EXPECT_EQ(prefs.idle_timeout_in_seconds(), 1200);
    EXPECT_EQ(prefs.max_session_duration_minutes, 0);
    EXPECT_EQ(prefs.default_run_as, "sallyport-user");
    EXPECT_EQ(prefs.shell_profile, "");
    EXPECT_EQ(prefs.reconnect_grace_seconds, 60);

    store->set_preference("idle_timeout_minutes", "7");
    store->set_preference("reconnect_grace_seconds", "0");
    store->set_preference("max_session_duration_minutes", "120");
    store->set_preference("default_run_as", "BAD NAME");  // as if written by hand
    store->set_preference("shell_profile", "umask 027\n");
    store->set_preference("something_else", "x");
    prefs = load_preferences(*store);
    EXPECT_EQ(prefs.idle_timeout_minutes, 7);
    EXPECT_EQ(prefs.idle_timeout_in_seconds(), 420);
    EXPECT_EQ(prefs.max_session_duration_minutes, 120);
    EXPECT_EQ(prefs.reconnect_grace_seconds, 0);
    EXPECT_EQ(prefs.default_run_as, "sallyport-user");
    EXPECT_EQ(prefs.shell_profile, "umask 027\n");
    store->set_preference("idle_timeout_seconds", "30");
    EXPECT_EQ(load_preferences(*store).idle_timeout_in_seconds(), 30);
  }
  std::filesystem::remove_all(dir);
}
