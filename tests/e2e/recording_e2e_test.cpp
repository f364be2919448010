// End-to-end tests of session recordings and log streaming (issue 4): the real gateway, agent
// and CLI on loopback, plus the real outside programs the issue names: Debian's asciinema,
// rsyslogd and s3cmd, and the npm package s3rver as the S3-compatible store.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "harness.hpp"
#include "sallyport/agent/identity.hpp"
#include "sallyport/crypto/crypto.hpp"
#include "sallyport/recording/asciicast.hpp"
#include "sallyport/util/version.hpp"
#include "sallyport/wire/control.hpp"
#include "sallyport/wire/frame.hpp"

namespace sallyport::e2e {
namespace {

const char* kUserPassword = "e2e-user-Pa55word";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string session_id_in(const std::string& text) {
  static const std::regex pattern(R"(SessionId: (\S+))");
  std::smatch match;
  return std::regex_search(text, match, pattern) ? match[1].str() : "";
}

// Concatenated data of the events with this code; fails the test on a line that does not parse.
std::string cast_stream(const std::string& cast, const std::string& code) {
  std::istringstream lines(cast);
  std::string line, out;
  std::getline(lines, line);
  EXPECT_EQ(json::parse(line, nullptr, false).value("version", 0), 2) << line;
  while (std::getline(lines, line)) {
    const auto event = recording::parse_event(line);
    EXPECT_TRUE(event) << "unparsable recording line: " << line.substr(0, 200);
    if (event && event->code == code) out += event->data;
  }
  return out;
}

std::string banner(const std::string& id) { return "Starting session with SessionId: " + id + "\n\n"; }
std::string goodbye(const std::string& id) { return "Exiting session with sessionId: " + id + ".\n\n"; }

std::string find_program(const std::vector<std::string>& candidates) {
  for (const auto& path : candidates) {
    if (fs::exists(path)) return path;
  }
  return "";
}

std::string s3rver_program() {
  return find_program({std::string(SALLYPORT_E2E_SOURCE_DIR) + "/s3rver/node_modules/.bin/s3rver"});
}

// An agent written out by hand over its own TLS connection, so a test can put several frames
// into one write: the real agent cannot be made to. Speaks the link framing (4-byte header:
// kind, 24-bit length) and the agent handshake; blocking, on the test's thread.
class ScriptedAgent {
 public:
  ScriptedAgent(const TestGateway& gateway, const agent::Identity& identity)
      : tls_(boost::asio::ssl::context::tls_client), stream_(io_, tls_) {
    tls_.add_certificate_authority(boost::asio::buffer(identity.ca_pem));
    tls_.set_verify_mode(boost::asio::ssl::verify_peer);
    boost::asio::ip::tcp::resolver resolver(io_);
    boost::asio::connect(stream_.next_layer(), resolver.resolve("127.0.0.1", std::to_string(gateway.port())));
    stream_.handshake(boost::asio::ssl::stream_base::client);
    const std::string upgrade = "GET /v1/agent/connect HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                                "Upgrade: sallyport-link/1\r\n\r\n";
    boost::asio::write(stream_, boost::asio::buffer(upgrade));
    boost::asio::read_until(stream_, received_, "\r\n\r\n");
    std::string head(boost::asio::buffers_begin(received_.data()), boost::asio::buffers_end(received_.data()));
    head = head.substr(0, head.find("\r\n\r\n") + 4);
    received_.consume(head.size());
    if (head.find(" 101 ") == std::string::npos) throw E2eError("link upgrade refused: " + head);
    const json challenge = next_control();
    const std::string nonce = challenge.value("nonce", "");
    const std::string signature = identity.key.sign(wire::hello_signing_input(nonce, identity.node_id));
    send({control(0, {{"type", wire::msg::kHello}, {"protocol", wire::kProtocolVersion}, {"node_id", identity.node_id},
                      {"signature", crypto::base64url_encode(signature)}, {"agent_version", kVersion}})});
    if (next_control().value("type", "") != wire::msg::kWelcome) throw E2eError("no welcome");
  }

  static std::string control(std::uint32_t channel, const json& message) {
    return wire::encode(wire::FrameType::kControl, channel, message.dump());
  }

  // Link messages (wire frames), all in one TLS write.
  void send(const std::vector<std::string>& messages) {
    std::string bytes;
    for (const auto& message : messages) {
      const std::size_t n = message.size();
      bytes += {'\0', static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n)};
      bytes += message;
    }
    boost::asio::write(stream_, boost::asio::buffer(bytes));
  }

  // The next wire frame; pings are answered on the way.
  wire::Frame next_frame() {
    for (;;) {
      const std::string header = take(4);
      const std::size_t length = static_cast<std::size_t>(static_cast<unsigned char>(header[1])) << 16 |
                                 static_cast<std::size_t>(static_cast<unsigned char>(header[2])) << 8 |
                                 static_cast<unsigned char>(header[3]);
      const std::string payload = take(length);
      if (header[0] == 1) {  // ping
        std::string pong = {'\2', '\0', '\0', static_cast<char>(payload.size())};
        boost::asio::write(stream_, boost::asio::buffer(pong + payload));
        continue;
      }
      if (header[0] != 0) throw E2eError("the gateway closed the link");
      const auto decoded = wire::decode_one(payload);
      if (!decoded.frame) throw E2eError("undecodable frame from the gateway");
      return *decoded.frame;
    }
  }

  json next_control() {
    for (;;) {
      const auto frame = next_frame();
      if (frame.type == wire::FrameType::kControl) return json::parse(frame.payload);
    }
  }

 private:
  std::string take(std::size_t bytes) {
    if (received_.size() < bytes) boost::asio::read(stream_, received_, boost::asio::transfer_exactly(bytes - received_.size()));
    std::string out(boost::asio::buffers_begin(received_.data()), boost::asio::buffers_begin(received_.data()) + static_cast<std::ptrdiff_t>(bytes));
    received_.consume(bytes);
    return out;
  }

  boost::asio::io_context io_;
  boost::asio::ssl::context tls_;
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
  boost::asio::streambuf received_;
};

class Recording : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { crypto::initialize(); }

  void TearDown() override {
    if (gateway_) gateway_->stop(SIGTERM, 5s);
    if (HasFailure()) std::cerr << sandbox_.tails() << std::flush;
    gateway_.reset();
  }

  // A gateway with one agent ("box") whose sessions run as root (the test runs as root).
  TestGateway& start(std::vector<std::string> extra_args = {}) {
    if (!Binaries::have_cli()) throw E2eError("the sallyport CLI is not built");
    GatewayOptions options;
    options.extra_args = std::move(extra_args);
    gateway_ = std::make_unique<TestGateway>(sandbox_, options);
    gateway_->start();
    gateway_->api_json("PUT", "/v1/preferences", {{"default_run_as", "root"}});
    agent_ = add_agent(*gateway_, "box");
    if (!wait_for_status(*gateway_, "box", "Online", 15s)) throw E2eError("agent did not come online");
    return *gateway_;
  }

  void add_user(const std::string& name) {
    gateway_->api_json("POST", "/v1/users",
                       {{"name", name}, {"password", kUserPassword}, {"policies", json::array({"SessionUser"})}}, 201);
    const auto login = gateway_->cli_login(name, kUserPassword);
    ASSERT_EQ(login.exit_code, 0) << login.describe();
  }

  std::string download(const std::string& id, const std::string& user = "admin") {
    const fs::path file = sandbox_.root() / (id + "-" + user + ".cast");
    const auto result = gateway_->cli({"sessions", "recording", id, "-o", file.string()}, user);
    EXPECT_EQ(result.exit_code, 0) << result.describe();
    return fs::exists(file) ? read_text(file) : "";
  }

  std::vector<std::string> multipart_calls_with_failing_part(int part_failures, bool restart_after_failure = false);

  Sandbox sandbox_;
  std::unique_ptr<TestGateway> gateway_;
  TestAgent agent_;
};

TEST_F(Recording, CommandSessionRecordingIsByteExactForStdinStdoutAndStderr) {
  auto& gw = start();
  // Binary output (every byte value, split UTF-8, invalid sequences) and separate stderr.
  std::string input = "typed input: caf\xc3\xa9 \xe2\x9c\x93\n";
  for (int i = 0; i < 256; ++i) input += static_cast<char>(i);
  // The words go to the run-as user's shell, as with ssh.
  const auto run = gw.cli({"start-session", "--target", "box", "--",
                           "cat; head -c 300000 /dev/urandom; printf 'to stderr \\377\\n' >&2"},
                          "admin", {}, input);
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  const std::string id = session_id_in(run.err);
  ASSERT_FALSE(id.empty()) << run.describe();
  ASSERT_EQ(run.out.size(), input.size() + 300000);
  const auto cast = download(id);
  EXPECT_TRUE(cast_stream(cast, "o") == run.out) << "stdout differs from the recording";
  EXPECT_EQ(banner(id) + cast_stream(cast, "e") + goodbye(id), run.err);
  EXPECT_TRUE(cast_stream(cast, "i") == input) << "stdin differs from the recording";
  // Binary chunks are base64, not six-byte escapes: the recording stays near what it holds.
  EXPECT_LT(cast.size(), (run.out.size() + input.size()) * 14 / 10 + 4096) << "recording size " << cast.size();
  const auto header = json::parse(cast.substr(0, cast.find('\n')));
  EXPECT_EQ(header["sallyport"]["session_id"], id);
  EXPECT_EQ(header["sallyport"]["user"], "admin");
  EXPECT_EQ(header["sallyport"]["node_id"], agent_.node_id);
  EXPECT_EQ(header["sallyport"]["run_as"], "root");
  EXPECT_EQ(header["sallyport"]["kind"], "command");
}

TEST_F(Recording, ShellSessionRecordingMatchesTheTranscriptAndAsciinemaPlaysIt) {
  const std::string asciinema = find_program({"/usr/bin/asciinema"});
  if (asciinema.empty()) GTEST_SKIP() << "needs Debian's asciinema (scripts/install-deps.sh test)";
  auto& gw = start();
  const std::string input = "stty -echo; echo marker-$((6*7)) 'gr\xc3\xbc\xc3\x9f\x65'; exit 3\n";
  const auto run = gw.cli({"start-session", "--target", "box"}, "admin", {}, input);
  ASSERT_EQ(run.exit_code, 3) << run.describe();
  const std::string id = session_id_in(run.out);
  ASSERT_FALSE(id.empty()) << run.describe();
  const auto cast = download(id);
  const std::string output = cast_stream(cast, "o");
  EXPECT_EQ("\n" + banner(id) + output + "\n" + goodbye(id), run.out);
  EXPECT_EQ(cast_stream(cast, "i"), input);
  EXPECT_TRUE(contains(output, "marker-42 grüße")) << output;

  const fs::path file = sandbox_.root() / "shell.cast";
  std::ofstream(file, std::ios::binary) << cast;
  const auto played = sandbox_.run("asciinema", {asciinema, "play", "-i", "0.2", file.string()}, {{"TERM", "xterm"}});
  EXPECT_EQ(played.exit_code, 0) << played.describe();
  EXPECT_TRUE(contains(played.out, "marker-42 grüße")) << played.describe();

  // The CLI's own player shows the same output.
  const auto replay = gw.cli({"sessions", "play", id, "--speed", "100", "--max-idle", "0.1"});
  EXPECT_EQ(replay.exit_code, 0) << replay.describe();
  EXPECT_EQ(replay.out, output);
}

// The agent's session_opened and the session's first output in one read: the gateway must
// have begun the session (recording included) before it handles the output.
TEST_F(Recording, OutputArrivingWithTheAgentsSessionOpenedIsRecorded) {
  auto& gw = start();
  const fs::path state = sandbox_.dir("agent-scripted");
  const auto registered = register_agent(gw, gw.create_activation(), state, "scripted");
  ASSERT_EQ(registered.exit_code, 0) << registered.describe();
  ScriptedAgent agent(gw, agent::load_identity(state));
  ASSERT_TRUE(wait_for_status(gw, "scripted", "Online", 15s));
  std::atomic<bool> answered{false};
  std::thread script([&] {
    try {
      for (;;) {
        const auto frame = agent.next_frame();
        if (frame.type != wire::FrameType::kControl) continue;
        if (json::parse(frame.payload).value("type", "") != wire::msg::kSessionOpen) continue;
        agent.send({ScriptedAgent::control(frame.channel, {{"type", wire::msg::kSessionOpened}}),
                    wire::encode(wire::FrameType::kData, frame.channel, "first-output\n"),
                    ScriptedAgent::control(frame.channel, {{"type", wire::msg::kExit}, {"exit_code", 0}})});
        answered = true;
        return;
      }
    } catch (const std::exception& error) {
      std::cerr << "scripted agent: " << error.what() << "\n";
    }
  });
  const auto run = gw.cli({"start-session", "--target", "scripted", "--", "anything"});
  if (!answered) gw.stop(SIGTERM, 5s);  // ends the link, and the script's read with it
  script.join();
  ASSERT_TRUE(answered) << run.describe();
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  EXPECT_EQ(run.out, "first-output\n") << run.describe();
  EXPECT_EQ(cast_stream(download(session_id_in(run.err)), "o"), "first-output\n");
}

TEST_F(Recording, RecordingSurvivesSigkillOfTheGatewayAndIsFinishedOnRestart) {
  auto& gw = start();
  auto& client = sandbox_.spawn("cli-long", {Binaries::cli(), "start-session", "--target", "box", "--",
                                             "echo before-the-kill; sleep 30"},
                                {{"SALLYPORT_CONFIG_DIR", gw.cli_config_dir().string()}});
  const fs::path live = gw.data_dir() / "recordings" / "live";
  fs::path recording_file;
  // Flushed within a second of the output, while the session still runs.
  ASSERT_TRUE(wait_until([&] {
    for (const auto& entry : fs::directory_iterator(live)) {
      if (contains(read_text(entry.path()), "\"o\", \"before-the-kill")) {
        recording_file = entry.path();
        return true;
      }
    }
    return false;
  }, 10s)) << "no flushed recording in " << live;
  const std::string id = recording_file.stem().string();
  gw.stop(SIGKILL);
  client.kill_group();
  gw.start();
  const fs::path finished = gw.data_dir() / "recordings" / (id + ".cast");
  ASSERT_TRUE(wait_until([&] { return fs::exists(finished); }, 10s));
  EXPECT_FALSE(fs::exists(recording_file));
  const auto cast = download(id);
  EXPECT_EQ(cast_stream(cast, "o"), "before-the-kill\n");
  const auto session = gw.api_json("GET", "/v1/sessions/" + id);
  EXPECT_EQ(session["status"], "Failed");
}

// A graceful restart of the gateway (SIGTERM, then a new start: an upgrade) keeps a running
// command session: the CLI and the agent reconnect to the new gateway, which takes the session
// back. Every byte arrives once, and the recording stays one file holding exactly what the
// client received and sent, although both sides sent again what was in flight.
TEST_F(Recording, ASessionGoesOnAcrossAGracefulGatewayRestartAndItsRecordingStaysExact) {
  auto& gw = start();
  // 8 MiB of random bytes through a copy on the node. The client stops (SIGSTOP) before the
  // restart and goes on after it: the gateway had recorded a window of output that never reached
  // the client, and input was queued towards the node. Both are sent again after the restart,
  // and must be recorded once.
  std::string input(8 << 20, '\0');
  std::mt19937_64 random(17);
  for (auto& byte : input) byte = static_cast<char>(random());
  const fs::path input_file = sandbox_.root() / "restart-input.bin";
  const fs::path output_file = sandbox_.root() / "restart-output.bin";
  std::ofstream(input_file, std::ios::binary) << input;
  // On the node, a copy paced at 64 KiB per 20 ms: the 8 MiB take three seconds or more.
  const std::string paced_copy =
      "python3 -c 'import sys, time\n"
      "while chunk := sys.stdin.buffer.read1(65536):\n"
      "    sys.stdout.buffer.write(chunk)\n"
      "    sys.stdout.flush()\n"
      "    time.sleep(0.02)\n'";
  auto& client = sandbox_.spawn(
      "through-restart",
      {"/bin/sh", "-c", "exec \"$0\" start-session --target box -- \"$3\" < \"$1\" > \"$2\"", Binaries::cli(),
       input_file.string(), output_file.string(), paced_copy},
      {{"SALLYPORT_CONFIG_DIR", gw.cli_config_dir().string()}});
  ASSERT_TRUE(wait_until([&] { return !gw.api_json("GET", "/v1/sessions?state=active")["sessions"].empty(); }, 15s));
  std::this_thread::sleep_for(1000ms);  // the copy runs, and output flows
  client.signal(SIGSTOP);
  std::this_thread::sleep_for(500ms);  // the client's socket fills, then the gateway's queue
  gw.restart();
  client.signal(SIGCONT);
  const auto status = client.wait_for(120s);
  ASSERT_TRUE(status.has_value()) << sandbox_.tails();
  EXPECT_EQ(*status, 0) << client.stderr_text();
  const std::string out = read_text(output_file);
  EXPECT_EQ(out.size(), input.size()) << client.stderr_text();
  EXPECT_TRUE(out == input) << "output or input lost, repeated or reordered";
  const std::string err = client.stderr_text();
  EXPECT_TRUE(contains(err, "reconnecting")) << err;
  EXPECT_TRUE(contains(err, "reconnected")) << err;
  EXPECT_TRUE(contains(gw.process().stderr_text(), "taken back after the gateway restart")) << gw.process().stderr_text();
  const std::string id = session_id_in(err);
  ASSERT_FALSE(id.empty()) << err;
  const auto session = gw.api_json("GET", "/v1/sessions/" + id);
  EXPECT_EQ(session["status"], "Terminated");
  EXPECT_EQ(session["reason"], "exited with status 0");
  EXPECT_EQ(session["bytes_out"], static_cast<std::int64_t>(input.size())) << "frames sent again were counted twice";
  EXPECT_EQ(session["bytes_in"], static_cast<std::int64_t>(input.size()));
  ASSERT_TRUE(wait_until([&] { return fs::exists(gw.data_dir() / "recordings" / (id + ".cast")); }, 10s));
  EXPECT_FALSE(fs::exists(gw.data_dir() / "recordings" / "live" / (id + ".cast")));
  const auto cast = download(id);
  EXPECT_EQ(cast_stream(cast, "o").size(), input.size());
  EXPECT_TRUE(cast_stream(cast, "o") == input) << "the recording's output differs from what the client received";
  EXPECT_EQ(cast_stream(cast, "i").size(), input.size());
  EXPECT_TRUE(cast_stream(cast, "i") == input) << "the recording's input differs from what the client sent";
  int taken_back = 0;
  for (const auto& line : gw.audit_log()) {
    if (line.value("action", "") == "session:Resume" && line.value("outcome", "") == "success" &&
        contains(line.value("detail", ""), "gateway restart")) {
      ++taken_back;
    }
  }
  EXPECT_EQ(taken_back, 1);
}

// --recording-keep-days: a finished recording stays while it is young, and once older than the
// retention (here aged by hand while the gateway is stopped) the next start removes it.
TEST_F(Recording, LocalRecordingsOlderThanTheRetentionAreRemoved) {
  auto& gw = start({"--recording-keep-days", "2"});
  const auto ran = gw.cli({"start-session", "--target", "box", "--", "echo kept-for-now"});
  ASSERT_EQ(ran.exit_code, 0) << ran.describe();
  const auto listed = gw.api_json("GET", "/v1/sessions?state=history&limit=1");
  const std::string id = listed["sessions"][0]["id"].get<std::string>();
  const fs::path finished = gw.data_dir() / "recordings" / (id + ".cast");
  ASSERT_TRUE(wait_until([&] { return fs::exists(finished); }, 10s));
  EXPECT_EQ(cast_stream(download(id), "o"), "kept-for-now\n");

  gw.stop(SIGTERM);
  fs::last_write_time(finished, fs::file_time_type::clock::now() - std::chrono::hours(72));
  gw.start();
  EXPECT_TRUE(wait_until([&] { return !fs::exists(finished); }, 10s)) << "an old recording was kept";
  const auto gone = gw.cli({"sessions", "recording", id, "-o", (sandbox_.root() / "gone.cast").string()});
  EXPECT_EQ(gone.exit_code, 5) << gone.describe();
  EXPECT_TRUE(contains(gone.err, "no recording is stored for this session")) << gone.describe();
  EXPECT_TRUE(contains(gw.process().stderr_text() + gw.process().stdout_text(),
                       "removed 1 local recording(s) older than 2 days"));
}

TEST_F(Recording, AnUnwritableRecordingFolderRefusesSessionsWhenRequiredAndAlertsWhenNot) {
  auto& gw = start();
  // A file where the live folder should be: nothing can be created in it, not even by root.
  const fs::path live = gw.data_dir() / "recordings" / "live";
  fs::remove_all(live);
  std::ofstream(live) << "not a folder";
  const auto refused = gw.cli({"start-session", "--target", "box", "--", "echo", "unrecorded"});
  EXPECT_NE(refused.exit_code, 0) << refused.describe();
  EXPECT_TRUE(contains(refused.err, "session refused: the recording folder")) << refused.describe();
  EXPECT_TRUE(contains(refused.err, "cannot be written (required destination)")) << refused.describe();
  EXPECT_FALSE(contains(refused.out, "unrecorded"));

  // Optional: the session goes on and operators are alerted.
  gw.api_json("PUT", "/v1/preferences", {{"recording_local_required", false}});
  const auto allowed = gw.cli({"start-session", "--target", "box", "--", "echo", "went-on"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.describe();
  EXPECT_TRUE(contains(allowed.out, "went-on")) << allowed.describe();
  EXPECT_TRUE(wait_until([&] { return contains(gw.process().stderr_text(), "ALERT session"); }, 5s))
      << gw.process().stderr_text();

  // Writable again, required again: sessions are recorded as before.
  fs::remove(live);
  fs::create_directories(live);
  gw.api_json("PUT", "/v1/preferences", {{"recording_local_required", true}});
  const auto recorded = gw.cli({"start-session", "--target", "box", "--", "echo", "recorded-again"});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.describe();
  EXPECT_TRUE(contains(cast_stream(download(session_id_in(recorded.err)), "o"), "recorded-again"));
}

TEST_F(Recording, RecordingReadIsAuthorisedAndPathTricksAreRefusedAndAudited) {
  auto& gw = start();
  add_user("bob");
  add_user("carol");
  const auto run = gw.cli({"start-session", "--target", "box", "--", "echo", "bob-was-here"}, "bob");
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  const std::string id = session_id_in(run.err);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(cast_stream(download(id, "bob"), "o"), "bob-was-here\n");  // own session: SessionUser allows
  EXPECT_EQ(cast_stream(download(id, "admin"), "o"), "bob-was-here\n");
  const auto denied = gw.cli({"sessions", "recording", id}, "carol");
  EXPECT_EQ(denied.exit_code, 4) << denied.describe();
  EXPECT_FALSE(contains(denied.out, "bob-was-here"));
  const auto played = gw.cli({"sessions", "play", id}, "carol");
  EXPECT_EQ(played.exit_code, 4) << played.describe();

  const std::string carol = gw.api_login("carol", kUserPassword);
  for (const std::string trick : {"/v1/sessions/..%2F..%2Fstate.db/recording", "/v1/sessions/.hidden/recording",
                                  "/v1/sessions/a%2Fb/recording"}) {
    const auto answer = gw.api("GET", trick, "", carol);
    EXPECT_EQ(answer.status, 400u) << trick << " " << answer.body;
  }
  EXPECT_EQ(gw.api("GET", "/v1/sessions/nobody-0000/recording", "", carol).status, 404u);
  // A grant opens others' recordings.
  gw.api_json("POST", "/v1/policies",
              {{"name", "ReadRecordings"},
               {"document", json{{"Version", "2012-10-17"},
                                 {"Statement", json::array({{{"Effect", "Allow"}, {"Action", "recording:Read"},
                                                              {"Resource", "session/*"}}})}}}},
              201);
  gw.api_json("POST", "/v1/policies/ReadRecordings/attach", {{"user", "carol"}});
  EXPECT_EQ(cast_stream(download(id, "carol"), "o"), "bob-was-here\n");

  const auto audit = gw.audit_log();
  const auto count = [&](const std::string& actor, const std::string& outcome) {
    return std::count_if(audit.begin(), audit.end(), [&](const json& event) {
      return event.value("action", "") == "recording:Read" && event.value("actor", "") == actor &&
             event.value("outcome", "") == outcome;
    });
  };
  EXPECT_EQ(count("carol", "denied"), 2 + 3);  // recording + play, then the three path tricks
  EXPECT_EQ(count("bob", "success"), 1);
  EXPECT_EQ(count("carol", "success"), 1);
}

// s3rver from tests/e2e/s3rver (npm ci there; scripts/install-deps.sh test does it).
struct S3Server {
  S3Server(Sandbox& owner, std::uint16_t listen_port) : sandbox(owner), port(listen_port) {}
  void start() {
    process = &sandbox.spawn("s3rver", {s3rver_program(), "--address", "127.0.0.1", "--port", std::to_string(port),
                                        "--directory", sandbox.dir("s3data").string(), "--configure-bucket",
                                        "recordings", "--silent"});
    if (!wait_until([&] { return contains(process->stdout_text() + process->stderr_text(), "listening") ||
                                 ::system(("curl -s -o /dev/null http://127.0.0.1:" + std::to_string(port) + "/").c_str()) == 0; },
                    20s)) {
      throw E2eError("s3rver did not start: " + process->stderr_text());
    }
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port); }
  // The object read back with s3cmd, the way an operator would.
  RunResult get(const std::string& key, const fs::path& to) {
    return sandbox.run("s3cmd", {"/usr/bin/s3cmd", "--access_key=S3RVER", "--secret_key=S3RVER",
                                 "--host=127.0.0.1:" + std::to_string(port), "--host-bucket=127.0.0.1:" + std::to_string(port),
                                 "--no-ssl", "--region=us-east-1", "--config=/dev/null", "get", "--force",
                                 "s3://recordings/" + key, to.string()});
  }
  Sandbox& sandbox;
  std::uint16_t port;
  Process* process = nullptr;
};

// A recording larger than the part size goes up as a multipart upload and comes back whole.
TEST_F(Recording, ALargeRecordingGoesUpInPartsAndComesBackWhole) {
  if (s3rver_program().empty() || !fs::exists("/usr/bin/s3cmd")) {
    GTEST_SKIP() << "needs s3rver (npm ci in tests/e2e/s3rver) and s3cmd (scripts/install-deps.sh test)";
  }
  S3Server s3(sandbox_, free_port());
  s3.start();
  const fs::path key_file = sandbox_.root() / "s3.key";
  std::ofstream(key_file) << "S3RVER:S3RVER\n";
  auto& gw = start({"--s3-endpoint", s3.endpoint(), "--s3-bucket", "recordings", "--s3-prefix", "rec/",
                    "--s3-key-file", key_file.string(), "--s3-part-mib", "5"});
  // 9 MB of random bytes, recorded as base64: a 12 MB recording, three parts.
  const auto run = gw.cli({"start-session", "--target", "box", "--", "head", "-c", "9000000", "/dev/urandom"});
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  ASSERT_EQ(run.out.size(), 9000000u);
  const std::string id = session_id_in(run.err);
  ASSERT_TRUE(wait_until([&] { return fs::exists(gw.data_dir() / "recordings" / (id + ".uploaded")); }, 30s))
      << gw.process().stderr_text();
  const std::string log = gw.process().stderr_text();
  EXPECT_TRUE(contains(log, "recording " + id + " uploaded to s3 bucket recordings in 3 parts")) << log;
  const fs::path local = gw.data_dir() / "recordings" / (id + ".cast");
  const fs::path fetched = sandbox_.root() / "fetched.cast";
  const auto got = s3.get("rec/" + id + ".cast", fetched);
  ASSERT_EQ(got.exit_code, 0) << got.describe();
  EXPECT_GT(fs::file_size(local), std::uintmax_t{10} << 20);
  EXPECT_TRUE(read_text(fetched) == read_text(local));
}

// A store that fails a part: the upload is aborted, and the retry uploads every part again
// and completes. The store is a small Python stand-in that fails part 2 once and logs every
// request (it checks no signatures; s3rver does, in the tests above).
// The requests a 9 MB recording's multipart upload (5 MiB parts) makes of a store that answers
// 500 to part 2 the first `part_failures` times, one line each: "POST start", "PUT part",
// "DELETE", "POST complete-3" (a completion naming three parts, their markup escaped). With
// `restart_after_failure`, the gateway is restarted once the first attempt has failed.
std::vector<std::string> Recording::multipart_calls_with_failing_part(int part_failures, bool restart_after_failure) {
  const fs::path log = sandbox_.root() / "store-requests.log";
  const fs::path script = sandbox_.root() / "flaky_store.py";
  std::ofstream(script) << R"PY(import http.server, sys
log, failures, failed = sys.argv[2], int(sys.argv[3]), []
class Store(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def answer(self, code, body=b"", etag=None):
        self.send_response(code)
        if etag: self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def note(self, body):
        parts, escaped = body.count(b"<Part>"), body.count(b"&amp;x")
        with open(log, "a") as f: f.write("%s %s %d %d %d\n" % (self.command, self.path, len(body), parts, escaped))
    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))
    def do_POST(self):
        body = self.body(); self.note(body)
        if "?uploads" in self.path:
            started = b"<InitiateMultipartUploadResult><UploadId>up-%d</UploadId></InitiateMultipartUploadResult>"
            self.answer(200, started % len(failed))
        else:
            self.answer(200, b"<CompleteMultipartUploadResult><ETag>\"all\"</ETag></CompleteMultipartUploadResult>")
    def do_PUT(self):
        body = self.body(); self.note(body)
        if "partNumber=2&" in self.path and len(failed) < failures:
            failed.append(1)
            return self.answer(500, b"<Error><Code>InternalError</Code></Error>")
        self.answer(200, b"", "\"part-%d&x\"" % len(body))  # markup in an ETag must come back escaped
    def do_DELETE(self):
        self.note(b""); self.answer(204)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Store).serve_forever()
)PY";
  const std::uint16_t port = free_port();
  sandbox_.spawn("flaky-store",
                {"/usr/bin/python3", script.string(), std::to_string(port), log.string(), std::to_string(part_failures)});
  EXPECT_TRUE(wait_until([&] {
    return ::system(("bash -c 'echo > /dev/tcp/127.0.0.1/" + std::to_string(port) + "' 2>/dev/null").c_str()) == 0;
  }, 15s));
  const fs::path key_file = sandbox_.root() / "s3.key";
  std::ofstream(key_file) << "KEY:SECRET\n";
  auto& gw = start({"--s3-endpoint", "http://127.0.0.1:" + std::to_string(port), "--s3-bucket", "recordings",
                         "--s3-key-file", key_file.string(), "--s3-part-mib", "5", "--s3-retry-seconds",
                         restart_after_failure ? "600" : "1"});
  const auto run = gw.cli({"start-session", "--target", "box", "--", "head", "-c", "9000000", "/dev/urandom"});
  EXPECT_EQ(run.exit_code, 0) << run.describe();
  const std::string id = session_id_in(run.err);
  if (restart_after_failure) {
    EXPECT_TRUE(wait_until([&] { return contains(gw.process().stderr_text(), "upload to s3 bucket recordings failed"); }, 30s));
    EXPECT_TRUE(fs::exists(gw.data_dir() / "recordings" / (id + ".upload"))) << "no progress kept";
    gw.stop(SIGTERM);
    gw.start();
  }
  EXPECT_TRUE(wait_until([&] { return fs::exists(gw.data_dir() / "recordings" / (id + ".uploaded")); }, 30s))
      << (fs::exists(log) ? read_text(log) : "(no requests)") << gw.process().stderr_text();
  // Only this recording's requests (not the bucket probe), in order.
  std::vector<std::string> calls;
  std::istringstream lines(read_text(log));
  for (std::string line; std::getline(lines, line);) {
    if (!contains(line, id)) continue;
    calls.push_back(line.substr(0, line.find(' ')) + (contains(line, "partNumber=") ? " part" : "") +
                    (contains(line, "?uploads") ? " start" : "") + (line.ends_with(" 3 3") ? " complete-3" : ""));
  }
  EXPECT_FALSE(fs::exists(gw.data_dir() / "recordings" / (id + ".upload"))) << "progress left after the upload";
  return calls;
}

TEST_F(Recording, AFailedPartIsSentAgainWithinTheSameUpload) {
  const auto calls = multipart_calls_with_failing_part(1);
  const std::vector<std::string> expected = {"POST start", "PUT part", "PUT part",  // part 2 failed: sent again
                                             "PUT part",   "PUT part", "POST complete-3"};
  EXPECT_EQ(calls, expected);
  EXPECT_TRUE(contains(gateway_->process().stderr_text(), "part 2 failed (HTTP 500")) << "the retry is not logged";
}

TEST_F(Recording, AnUploadWhosePartKeepsFailingGoesOnFromThatPartAtTheNextTry) {
  const auto calls = multipart_calls_with_failing_part(3);
  const std::vector<std::string> expected = {"POST start", "PUT part", "PUT part", "PUT part", "PUT part",
                                             // part 2 failed three times: the upload waits, then goes on
                                             "PUT part", "PUT part", "POST complete-3"};
  EXPECT_EQ(calls, expected);
  EXPECT_TRUE(contains(gateway_->process().stderr_text(), "going on from part 2 of 3"));
}

TEST_F(Recording, AnUploadCutShortGoesOnFromWhereItStoppedAfterAGatewayRestart) {
  const auto calls = multipart_calls_with_failing_part(3, true);
  const std::vector<std::string> expected = {"POST start", "PUT part", "PUT part", "PUT part", "PUT part",
                                             // restarted: no new upload, part 1 not sent again
                                             "PUT part", "PUT part", "POST complete-3"};
  EXPECT_EQ(calls, expected);
}

TEST_F(Recording, S3RoundTripAndUploadAfterTheStoreComesBack) {
  if (s3rver_program().empty() || !fs::exists("/usr/bin/s3cmd")) {
    GTEST_SKIP() << "needs s3rver (npm ci in tests/e2e/s3rver) and s3cmd (scripts/install-deps.sh test)";
  }
  S3Server s3(sandbox_, free_port());
  const fs::path key_file = sandbox_.root() / "s3.key";
  std::ofstream(key_file) << "S3RVER:S3RVER\n";
  // The store is down at first.
  auto& gw = start({"--s3-endpoint", s3.endpoint(), "--s3-bucket", "recordings", "--s3-prefix", "rec/",
                    "--s3-key-file", key_file.string(), "--s3-retry-seconds", "1", "--recording-compress"});
  const auto run = gw.cli({"start-session", "--target", "box", "--", "echo", "stored-in-s3"});
  ASSERT_EQ(run.exit_code, 0) << run.describe();  // optional destination: sessions go on
  const std::string id = session_id_in(run.err);
  const fs::path local = gw.data_dir() / "recordings" / (id + ".cast.zst");
  ASSERT_TRUE(wait_until([&] { return fs::exists(local); }, 10s));
  std::this_thread::sleep_for(1500ms);
  EXPECT_FALSE(fs::exists(gw.data_dir() / "recordings" / (id + ".uploaded")));

  // Required and down: new sessions are refused with a clear message.
  gw.api_json("PUT", "/v1/preferences", {{"recording_s3_required", true}});
  const auto refused = gw.cli({"start-session", "--target", "box", "--", "true"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_TRUE(contains(refused.err, "session refused: the recording bucket recordings cannot be written")) << refused.describe();

  // The pending upload survives a restart of the gateway.
  gw.restart();
  s3.start();
  ASSERT_TRUE(wait_until([&] { return fs::exists(gw.data_dir() / "recordings" / (id + ".uploaded")); }, 20s))
      << "the recording was not uploaded once the store came back";
  const fs::path fetched = sandbox_.root() / "fetched.cast.zst";
  const auto got = s3.get("rec/" + id + ".cast.zst", fetched);
  ASSERT_EQ(got.exit_code, 0) << got.describe();
  EXPECT_EQ(read_text(fetched), read_text(local));
  const auto unpacked = sandbox_.run("zstd", {"/usr/bin/zstd", "-d", "-c", fetched.string()});
  EXPECT_EQ(cast_stream(unpacked.out, "o"), "stored-in-s3\n");

  // Once the store answers again, required S3 lets sessions start, and they upload on end.
  ASSERT_TRUE(wait_until([&] {
    return gw.cli({"start-session", "--target", "box", "--", "echo", "second"}).exit_code == 0;
  }, 20s));
  // A local copy that is gone is fetched back from the bucket for the API.
  ASSERT_TRUE(wait_until([&] { return fs::exists(gw.data_dir() / "recordings" / (id + ".uploaded")); }, 5s));
  fs::remove(local);
  EXPECT_EQ(cast_stream(download(id), "o"), "stored-in-s3\n");
}

TEST_F(Recording, SessionOutputAndAuditEventsReachRsyslogAndTheEventLog) {
  if (!fs::exists("/usr/sbin/rsyslogd")) GTEST_SKIP() << "needs Debian's rsyslog (scripts/install-deps.sh test)";
  const auto port = free_port();
  const fs::path dir = sandbox_.dir("rsyslog");
  const fs::path received = dir / "received.log";
  std::ofstream(dir / "rsyslog.conf") << "global(workDirectory=\"" << dir.string() << "\")\n"
                                      << "module(load=\"imtcp\")\n"
                                      << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << port << "\")\n"
                                      << "template(name=\"jsonmsg\" type=\"string\" string=\"%app-name% %msgid% %msg%\\n\")\n"
                                      << "*.* action(type=\"omfile\" file=\"" << received.string()
                                      << "\" template=\"jsonmsg\" flushOnTXEnd=\"on\" asyncWriting=\"off\")\n";
  sandbox_.spawn("rsyslogd", {"/usr/sbin/rsyslogd", "-n", "-f", (dir / "rsyslog.conf").string(), "-i",
                              (dir / "rsyslogd.pid").string()});
  ASSERT_TRUE(wait_until([&] { return ::system(("bash -c 'echo > /dev/tcp/127.0.0.1/" + std::to_string(port) + "' 2>/dev/null").c_str()) == 0; }, 15s));
  auto& gw = start({"--syslog", "tcp://127.0.0.1:" + std::to_string(port)});
  const auto run = gw.cli({"start-session", "--target", "box", "--", "echo", "seen-by-the-siem"});
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  const std::string id = session_id_in(run.err);
  ASSERT_TRUE(wait_until([&] {
    const auto text = fs::exists(received) ? read_text(received) : "";
    return contains(text, "seen-by-the-siem") && contains(text, "\"session:End\"");
  }, 15s)) << (fs::exists(received) ? read_text(received) : "(nothing received)");
  bool output_line = false, audit_line = false;
  std::istringstream lines(read_text(received));
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("sallyport-gateway ", 0) != 0) continue;
    const auto space = line.find(' ', 18);
    const auto message = json::parse(line.substr(space + 1), nullptr, false);
    ASSERT_TRUE(message.is_object()) << line;
    if (message.value("type", "") == "session_output" && message.value("session_id", "") == id &&
        message.value("data", "") == "seen-by-the-siem\n") {
      output_line = true;
    }
    if (message.value("type", "") == "audit" && message.value("action", "") == "session:Start") audit_line = true;
  }
  EXPECT_TRUE(output_line);
  EXPECT_TRUE(audit_line);
  // The same JSON lines in the local event log.
  const auto events = read_text(gw.data_dir() / "events.log");
  EXPECT_TRUE(contains(events, "\"data\":\"seen-by-the-siem\\n\""));
  EXPECT_TRUE(contains(events, "\"type\":\"session_end\""));
}

TEST_F(Recording, SighupReopensTheEventLogAndTheGatewayLogAfterARename) {
  const fs::path log = sandbox_.dir("logs") / "gateway.log";
  auto& gw = start({"--log-file", log.string()});
  const fs::path events = gw.data_dir() / "events.log";
  const auto before = gw.cli({"start-session", "--target", "box", "--", "echo", "before-rotation"});
  ASSERT_EQ(before.exit_code, 0) << before.describe();
  ASSERT_TRUE(wait_until([&] { return contains(read_text(events), "before-rotation"); }, 10s));
  // What logrotate does: rename, then signal.
  fs::rename(events, events.string() + ".1");
  fs::rename(log, log.string() + ".1");
  gw.process().signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return fs::exists(log) && contains(read_text(log), "log files reopened"); }, 10s))
      << (fs::exists(log) ? read_text(log) : "(no new gateway log)");
  EXPECT_TRUE(gw.process().running());
  EXPECT_TRUE(gw.healthy());
  const auto after = gw.cli({"start-session", "--target", "box", "--", "echo", "after-rotation"});
  ASSERT_EQ(after.exit_code, 0) << after.describe();
  const std::string id = session_id_in(after.err);
  ASSERT_TRUE(wait_until([&] {
    const auto text = fs::exists(events) ? read_text(events) : "";
    return contains(text, "after-rotation") && contains(text, "\"type\":\"session_end\"");
  }, 10s)) << (fs::exists(events) ? read_text(events) : "(no new event log)");
  EXPECT_TRUE(contains(read_text(events), id));
  const auto rotated = read_text(events.string() + ".1");
  EXPECT_TRUE(contains(rotated, "before-rotation"));
  EXPECT_FALSE(contains(rotated, "after-rotation"));
  EXPECT_FALSE(contains(read_text(log.string() + ".1"), "log files reopened"));
}

}  // namespace
}  // namespace sallyport::e2e
