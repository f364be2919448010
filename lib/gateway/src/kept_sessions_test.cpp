#include "sallyport/gateway/kept_sessions.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

namespace sallyport::gateway {
namespace {

KeptSession sample() {
  KeptSession s;
  s.id = "alice-0123456789abcdef0";
  s.channel = 7;
  s.resume_token_sha256 = std::string(64, 'a');
  s.cols = 132;
  s.rows = 43;
  s.bytes_in = 12;
  s.bytes_out = 5'000'000'000;
  s.last_activity = 1'765'000'000'000;
  s.input_frames = 9;
  s.output_frames = 1u << 20;
  return s;
}

TEST(KeptSessions, RoundTripThroughTheFileWhichIsPrivateAndReadOnce) {
  const auto dir = std::filesystem::temp_directory_path() / ("kept-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "kept-sessions.json";
  auto second = sample();
  second.id = "bob-1";
  second.channel = 0x7fffffff;
  ASSERT_TRUE(save_kept_sessions(path, {sample(), second}));
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  const auto taken = take_kept_sessions(path);
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0].id, "alice-0123456789abcdef0");
  EXPECT_EQ(taken[0].channel, 7u);
  EXPECT_EQ(taken[0].cols, 132);
  EXPECT_EQ(taken[0].rows, 43);
  EXPECT_EQ(taken[0].bytes_out, 5'000'000'000);
  EXPECT_EQ(taken[0].last_activity, 1'765'000'000'000);
  EXPECT_EQ(taken[0].input_frames, 9u);
  EXPECT_EQ(taken[0].output_frames, 1u << 20);
  EXPECT_EQ(taken[1].channel, 0x7fffffffu);
  EXPECT_FALSE(std::filesystem::exists(path));  // taken: a second start does not take them again
  EXPECT_TRUE(take_kept_sessions(path).empty());
  std::ofstream(path) << "{\"format\": 1, \"sessions\": [";
  EXPECT_TRUE(take_kept_sessions(path).empty());  // damaged: none, and the file is gone
  EXPECT_FALSE(std::filesystem::exists(path));
  std::filesystem::remove_all(dir);
}

TEST(KeptSessions, MalformedListsAreRefusedWithTheReason) {
  std::string error;
  EXPECT_FALSE(parse_kept_sessions("[]", error));
  EXPECT_EQ(error, "not a JSON object");
  EXPECT_FALSE(parse_kept_sessions("{\"format\": 2, \"sessions\": []}", error));
  EXPECT_EQ(error, "unknown format");
  EXPECT_FALSE(parse_kept_sessions(std::string(kMaxKeptSessionsFileBytes + 1, ' '), error));
  const auto with = [](const char* field, nlohmann::json value) {
    auto document = nlohmann::json::parse(encode_kept_sessions({sample()}));
    document["sessions"][0][field] = std::move(value);
    return document.dump();
  };
  for (const auto& [field, value] : std::vector<std::pair<const char*, nlohmann::json>>{
           {"channel", 0}, {"channel", 0x80000000u}, {"channel", -1}, {"channel", "7"},
           {"resume_token_sha256", "short"}, {"id", ""}, {"id", std::string(129, 'x')},
           {"input_frames", -3}, {"bytes_in", 1.5}, {"cols", "wide"}}) {
    EXPECT_FALSE(parse_kept_sessions(with(field, value), error)) << field << " = " << value;
    EXPECT_FALSE(error.empty());
  }
  auto missing = nlohmann::json::parse(encode_kept_sessions({sample()}));
  missing["sessions"][0].erase("output_frames");
  EXPECT_FALSE(parse_kept_sessions(missing.dump(), error));
  const auto fine = parse_kept_sessions(encode_kept_sessions({}), error);
  ASSERT_TRUE(fine);
  EXPECT_TRUE(fine->empty());
}

}  // namespace
}  // namespace sallyport::gateway
