#include "client_opening.hpp"

#include <gtest/gtest.h>

#include "sallyport/wire/control.hpp"
#include "sallyport/wire/frame.hpp"

namespace sallyport::gateway {
namespace {

using nlohmann::json;

// Encoded without validation, as a client could send anything.
std::string control(const json& message) {
  return wire::encode(wire::FrameType::kControl, wire::kClientChannel, message.dump());
}

const json kForward = {{"type", wire::msg::kForwardStart}, {"protocol", wire::kProtocolVersion}, {"target", "web-1"},
                       {"remote_host", "localhost"}, {"remote_port", 5432}};

TEST(ClientOpening, AcceptsTheExpectedMessageInThisProtocolVersion) {
  const auto opening = read_client_opening(control(kForward), wire::msg::kForwardStart);
  EXPECT_EQ(opening.problem, "");
  EXPECT_EQ(opening.message["target"], "web-1");
}

TEST(ClientOpening, ASecondTypeIsAcceptedOnlyWhereGiven) {
  const json resume = {{"type", wire::msg::kSessionResume}, {"protocol", wire::kProtocolVersion},
                       {"session_id", "alice-1"}, {"resume_token", "t"}, {"output_frames", 3}, {"output_credit", 0}};
  EXPECT_EQ(read_client_opening(control(resume), wire::msg::kSessionStart, {wire::msg::kSessionResume}).problem, "");
  EXPECT_EQ(read_client_opening(control(resume), wire::msg::kSessionStart).problem, "expected a session_start message");
  EXPECT_EQ(read_client_opening(control(kForward), wire::msg::kSessionStart, {wire::msg::kSessionResume}).problem,
            "expected a session_start message");
  const json watch = {{"type", wire::msg::kSessionWatch}, {"protocol", wire::kProtocolVersion}, {"session_id", "alice-1"}};
  const std::initializer_list<std::string_view> both = {wire::msg::kSessionResume, wire::msg::kSessionWatch};
  EXPECT_EQ(read_client_opening(control(watch), wire::msg::kSessionStart, both).problem, "");
  EXPECT_EQ(read_client_opening(control(resume), wire::msg::kSessionStart, both).problem, "");
  EXPECT_EQ(read_client_opening(control(watch), wire::msg::kSessionStart, {wire::msg::kSessionResume}).problem,
            "expected a session_start message");
}

TEST(ClientOpening, RefusesEverythingElseWithAReason) {
  EXPECT_EQ(read_client_opening(std::nullopt, wire::msg::kForwardStart).problem, "expected a forward_start message");
  EXPECT_EQ(read_client_opening(std::string("\x01\x02"), wire::msg::kForwardStart).problem,
            "expected a forward_start message");
  EXPECT_EQ(read_client_opening(wire::encode(wire::FrameType::kData, 0, "hi"), wire::msg::kForwardStart).problem,
            "expected a forward_start message");
  EXPECT_EQ(read_client_opening(control(kForward), wire::msg::kSessionStart).problem, "expected a session_start message");
  json old = kForward;
  old["protocol"] = 1;
  EXPECT_EQ(read_client_opening(control(old), wire::msg::kForwardStart).problem,
            "unsupported protocol version 1; this gateway speaks " + std::to_string(wire::kProtocolVersion));
  json unknown_field = kForward;
  unknown_field["launch"] = true;
  EXPECT_NE(read_client_opening(control(unknown_field), wire::msg::kForwardStart).problem, "");
}

}  // namespace
}  // namespace sallyport::gateway
