#include "sallyport/wire/control.hpp"

#include <gtest/gtest.h>

using namespace sallyport::wire;
using nlohmann::json;

TEST(Control, HelloRoundTrips) {
  const json hello = {{"type", "hello"}, {"protocol", 1}, {"node_id", "mi-0123456789abcdef0"},
                      {"signature", "c2ln"}, {"agent_version", "0.1.0"}};
  const auto frame = decode_one(encode_control(hello));
  ASSERT_TRUE(frame.frame.has_value());
  const auto parsed = parse_control(frame.frame->payload);
  ASSERT_TRUE(parsed.error.empty()) << parsed.error;
  EXPECT_EQ(parsed.message, hello);
}

struct BadCase {
  const char* payload;
  const char* expected_error_part;
};

class ControlRefuses : public ::testing::TestWithParam<BadCase> {};

TEST_P(ControlRefuses, WithClearError) {
  const auto parsed = parse_control(GetParam().payload);
  EXPECT_NE(parsed.error.find(GetParam().expected_error_part), std::string::npos) << parsed.error;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ControlRefuses,
    ::testing::Values(BadCase{"not json", "not valid JSON"}, BadCase{"[1,2]", "not a JSON object"},
                      BadCase{R"({"x":1})", "no type"}, BadCase{R"({"type":"launch"})", "unknown control message type"},
                      BadCase{R"({"type":"error","code":"x"})", "missing field 'message'"},
                      BadCase{R"({"type":"error","code":1,"message":"m"})", "must be a string"},
                      BadCase{R"({"type":"heartbeat","extra":1})", "unknown field 'extra'"},
                      BadCase{R"({"type":"welcome","heartbeat_seconds":-1,"gateway_id":"g"})", "out of range"},
                      BadCase{R"({"type":"inventory","hostname":"h","platform_name":"p","platform_version":"v","kernel":"k","architecture":"a","agent_version":"1","ip_addresses":[1]})", "must hold strings"},
                      BadCase{R"({"a":[[[[[[1]]]]]]})", "nested too deeply"}));

TEST(Control, BracketsInsideStringsDoNotCountAsNesting) {
  const auto parsed = parse_control(R"({"type":"error","code":"x","message":"[[[[[[{{{{{"})");
  EXPECT_TRUE(parsed.error.empty()) << parsed.error;
}

TEST(Control, RefusesOversized) {
  const std::string big = R"({"type":"error","code":"x","message":")" + std::string(kMaxControlBytes, 'a') + "\"}";
  EXPECT_NE(parse_control(big).error.find("larger"), std::string::npos);
}

TEST(Control, EncodeRefusesOwnMalformedMessage) {
  EXPECT_THROW(encode_control(json{{"type", "hello"}}), std::invalid_argument);
}

TEST(Control, SigningInputSeparatesFields) {
  EXPECT_NE(hello_signing_input("ab", "c"), hello_signing_input("a", "bc"));
}

TEST(Control, ForwardMessagesFollowTheSchema) {
  const json start = {{"type", "forward_start"}, {"protocol", 1}, {"target", "web-1"}, {"remote_host", "localhost"},
                      {"remote_port", 5432}};
  EXPECT_TRUE(parse_control(start.dump()).error.empty());
  json bad_port = start;
  bad_port["remote_port"] = 70000;
  EXPECT_NE(parse_control(bad_port.dump()).error.find("out of range"), std::string::npos);
  EXPECT_TRUE(parse_control(R"({"type":"stream_open"})").error.empty());
  EXPECT_NE(parse_control(R"({"type":"stream_open","host":"evil"})").error.find("unknown field 'host'"), std::string::npos);
  EXPECT_TRUE(parse_control(R"({"type":"stream_connect","session_id":"s","host":"db","port":5432})").error.empty());
  EXPECT_TRUE(parse_control(R"({"type":"stream_failed","code":"refused","message":"m"})").error.empty());
  EXPECT_TRUE(parse_control(R"({"type":"stream_close","reason":"r"})").error.empty());
  // The session window: never more than it back at once, always for a named session.
  const json credit = {{"type", "forward_credit"}, {"session_id", "s"}, {"bytes", kForwardSessionWindowBytes}};
  EXPECT_TRUE(parse_control(credit.dump()).error.empty());
  json too_much = credit;
  too_much["bytes"] = kForwardSessionWindowBytes + 1;
  EXPECT_NE(parse_control(too_much.dump()).error.find("out of range"), std::string::npos);
  EXPECT_NE(parse_control(R"({"type":"forward_credit","bytes":5})").error.find("missing field 'session_id'"), std::string::npos);
  EXPECT_TRUE(parse_control(R"({"type":"forward_end","session_id":"s"})").error.empty());
}

namespace sallyport::wire {
namespace {

TEST(Control, ResumeMessagesFollowTheSchema) {
  const json resume = {{"type", "session_resume"}, {"protocol", kProtocolVersion}, {"session_id", "alice-1"},
                       {"resume_token", "t"}, {"output_frames", 12}, {"output_credit", 4096}};
  EXPECT_TRUE(parse_control(resume.dump()).error.empty());
  json negative = resume;
  negative["output_frames"] = -1;
  EXPECT_NE(parse_control(negative.dump()).error.find("out of range"), std::string::npos);
  json no_token = resume;
  no_token.erase("resume_token");
  EXPECT_NE(parse_control(no_token.dump()).error.find("missing field 'resume_token'"), std::string::npos);
  json no_credit = resume;
  no_credit.erase("output_credit");
  EXPECT_NE(parse_control(no_credit.dump()).error.find("missing field 'output_credit'"), std::string::npos);
  EXPECT_TRUE(parse_control(R"({"type":"session_resumed","session_id":"s","input_frames":0,"input_credit":0})").error.empty());
  EXPECT_NE(parse_control(R"({"type":"session_resumed","session_id":"s","input_frames":0})").error.find("input_credit"),
            std::string::npos);
  EXPECT_NE(parse_control(R"({"type":"session_start","protocol":2,"target":"t","mode":"shell","resumable":1})").error.find("true or false"),
            std::string::npos);
}

TEST(Control, SessionEndedMaySayTheClientMayReconnect) {
  EXPECT_TRUE(parse_control(R"({"type":"session_ended","reason":"r"})").error.empty());
  EXPECT_TRUE(parse_control(R"({"type":"session_ended","reason":"r","reconnect":true})").error.empty());
  EXPECT_NE(parse_control(R"({"type":"session_ended","reason":"r","reconnect":"yes"})").error.find("true or false"),
            std::string::npos);
}

TEST(Control, ReattachMessagesFollowTheSchema) {
  const json reattach = {{"type", "session_reattach"}, {"session_id", "alice-1"}, {"input_frames", 3},
                         {"input_credit", 131072}, {"output_credit", 0}};
  EXPECT_TRUE(parse_control(reattach.dump()).error.empty());
  for (const char* field : {"session_id", "input_frames", "input_credit", "output_credit"}) {
    json missing = reattach;
    missing.erase(field);
    EXPECT_NE(parse_control(missing.dump()).error.find(std::string("missing field '") + field + "'"), std::string::npos)
        << field;
  }
  json huge = reattach;
  huge["input_frames"] = 1e17;
  EXPECT_FALSE(parse_control(huge.dump()).error.empty());
  EXPECT_TRUE(parse_control(R"({"type":"session_reattached","output_frames":7})").error.empty());
  // The sessions an agent kept, named in its hello: bounded in number.
  json hello = {{"type", "hello"}, {"protocol", kProtocolVersion}, {"node_id", "mi-1"}, {"signature", "s"},
                {"agent_version", "1"}, {"kept_sessions", std::vector<std::string>(kMaxKeptSessions, "alice-1")}};
  EXPECT_TRUE(parse_control(hello.dump()).error.empty());
  hello["kept_sessions"].push_back("one-too-many");
  EXPECT_NE(parse_control(hello.dump()).error.find("too many items"), std::string::npos);
  EXPECT_FALSE(parse_control(R"({"type":"session_reattached","output_frames":-7})").error.empty());
  EXPECT_TRUE(parse_control(R"({"type":"session_open","session_id":"s","mode":"shell","run_as":"u","resume_grace_seconds":60})")
                  .error.empty());
  EXPECT_FALSE(parse_control(R"({"type":"session_open","session_id":"s","mode":"shell","run_as":"u","resume_grace_seconds":3601})")
                   .error.empty());
}

}  // namespace
}  // namespace sallyport::wire
