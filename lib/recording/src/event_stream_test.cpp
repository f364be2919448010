#include "sallyport/recording/event_stream.hpp"

#include "sallyport/recording/asciicast.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

namespace sallyport::recording {
namespace {

// A syslog server stand-in: a bound loopback UDP socket with a 5 s receive timeout.
struct UdpReceiver {
  UdpReceiver() {
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~UdpReceiver() { ::close(fd); }
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in address{};
};

TEST(Syslog, TargetsParse) {
  const auto udp = parse_syslog_target("udp://127.0.0.1:5514");
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->protocol, SyslogTarget::Protocol::kUdp);
  EXPECT_EQ(udp->port, 5514);
  const auto tcp = parse_syslog_target("tcp://[::1]:601");
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->host, "::1");
  EXPECT_TRUE(parse_syslog_target("unix:///dev/log"));
  EXPECT_FALSE(parse_syslog_target("unix://relative"));
  EXPECT_FALSE(parse_syslog_target("http://x:1"));
  EXPECT_FALSE(parse_syslog_target("udp://x"));
  EXPECT_FALSE(parse_syslog_target("udp://x:0"));
  EXPECT_FALSE(parse_syslog_target("udp://x:99999"));
}

TEST(Syslog, Rfc5424Format) {
  EXPECT_EQ(format_rfc5424(134, "2024-01-01T00:00:00.000Z", "gw", "sallyport-gateway", 42, "audit", "{}"),
            "<134>1 2024-01-01T00:00:00.000Z gw sallyport-gateway 42 audit - {}");
}

TEST(EventStream, WritesJsonLinesAndSendsDatagrams) {
  UdpReceiver udp;
  const int receiver = udp.fd;
  const sockaddr_in address = udp.address;

  const auto file = std::filesystem::temp_directory_path() / ("events-" + std::to_string(::getpid()) + ".log");
  {
    EventStreamOptions options;
    options.file = file;
    options.syslog = parse_syslog_target("udp://127.0.0.1:" + std::to_string(ntohs(address.sin_port)));
    EventStream stream(options);
    stream.session_output(EventStream::output_source("alice-1", "alice", "mi-1"), "o", "hello\\n");
    stream.session_output(EventStream::output_source("alice-1", "alice", "mi-1"), "e", "AAE=", true);
    stream.audit({{"actor", "alice"}, {"action", "session:Start"}});
    char buffer[65536];
    const auto n = ::recv(receiver, buffer, sizeof buffer, 0);
    ASSERT_GT(n, 0);
    const std::string message(buffer, static_cast<std::size_t>(n));
    EXPECT_EQ(message.rfind("<134>1 ", 0), 0u) << message;
    EXPECT_NE(message.find(" session - {"), std::string::npos) << message;
    EXPECT_NE(message.find("\"data\":\"hello\\n\""), std::string::npos) << message;
  }
  std::ifstream in(file);
  std::string first, binary, second;
  std::getline(in, first);
  std::getline(in, binary);
  std::getline(in, second);
  EXPECT_EQ(nlohmann::json::parse(first)["type"], "session_output");
  EXPECT_FALSE(nlohmann::json::parse(first).contains("encoding"));
  EXPECT_EQ(nlohmann::json::parse(binary)["encoding"], "base64");
  EXPECT_EQ(nlohmann::json::parse(binary)["stream"], "e");
  EXPECT_EQ(nlohmann::json::parse(second)["type"], "audit");
  // RFC 3339 in UTC with milliseconds, close to now.
  const std::string time = nlohmann::json::parse(first)["time"];
  EXPECT_TRUE(std::regex_match(time, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"))) << time;
  std::tm parsed{};
  ASSERT_NE(::strptime(time.c_str(), "%Y-%m-%dT%H:%M:%S", &parsed), nullptr);
  const auto written = std::chrono::system_clock::from_time_t(::timegm(&parsed));
  EXPECT_LT(std::chrono::abs(std::chrono::system_clock::now() - written), std::chrono::seconds(30));
  std::filesystem::remove(file);
}

std::vector<nlohmann::json> read_lines(const std::filesystem::path& file) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(EventStream, ReopenAfterARenameStartsANewFileAndLosesNothing) {
  const auto folder = std::filesystem::temp_directory_path() / ("events-rotate-" + std::to_string(::getpid()));
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  const auto file = folder / "events.log";
  const auto rotated = folder / "events.log.1";
  {
    EventStreamOptions options;
    options.file = file;
    EventStream stream(options);
    stream.session_output(EventStream::output_source("alice-1", "alice", "mi-1"), "o", "before");  // buffered, not yet written
    std::filesystem::rename(file, rotated);                                // what logrotate does
    stream.session_output(EventStream::output_source("alice-1", "alice", "mi-1"), "o", "still-before");
    EXPECT_EQ(stream.reopen(), "");
    stream.session_output(EventStream::output_source("alice-1", "alice", "mi-1"), "o", "after");
    stream.audit({{"actor", "alice"}, {"action", "session:Start"}});
  }
  const auto old_lines = read_lines(rotated);
  ASSERT_EQ(old_lines.size(), 2u);
  EXPECT_EQ(old_lines[0]["data"], "before");
  EXPECT_EQ(old_lines[1]["data"], "still-before");
  const auto new_lines = read_lines(file);
  ASSERT_EQ(new_lines.size(), 2u);
  EXPECT_EQ(new_lines[0]["data"], "after");
  EXPECT_EQ(new_lines[1]["type"], "audit");
  EXPECT_EQ(std::filesystem::status(file).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::filesystem::remove_all(folder);
}

TEST(EventStream, AReopenThatCannotOpenKeepsWritingTheOldFile) {
  const auto folder = std::filesystem::temp_directory_path() / ("events-gone-" + std::to_string(::getpid()));
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder / "logs");
  const auto file = folder / "logs" / "events.log";
  {
    EventStreamOptions options;
    options.file = file;
    EventStream stream(options);
    stream.session_output(EventStream::output_source("alice-1", "alice", "mi-1"), "o", "one");
    std::filesystem::rename(folder / "logs", folder / "moved");  // the folder itself is gone
    const std::string why = stream.reopen();
    EXPECT_NE(why.find("cannot open the event log"), std::string::npos) << why;
    EXPECT_NE(why.find(file.string()), std::string::npos) << why;
    stream.session_output(EventStream::output_source("alice-1", "alice", "mi-1"), "o", "two");
  }
  const auto lines = read_lines(folder / "moved" / "events.log");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["data"], "one");
  EXPECT_EQ(lines[1]["data"], "two");
  std::filesystem::remove_all(folder);
}

TEST(EventStream, RequiredTcpSyslogThatIsDownRefusesSessions) {
  EventStreamOptions options;
  options.syslog = parse_syslog_target("tcp://127.0.0.1:1");
  EventStream stream(options);
  EXPECT_NE(stream.refusal(true), "");
  EXPECT_EQ(stream.refusal(false), "");
}


TEST(EventStream, LongOutputIsCutIntoWholeJsonMessages) {
  UdpReceiver udp;
  const int receiver = udp.fd;
  const sockaddr_in address = udp.address;
  std::string bytes;
  for (int i = 0; i < 3000; ++i) bytes += i % 3 == 0 ? "\xc3\xa9" : (i % 3 == 1 ? "\n\"" : "x\\");
  std::string escaped;
  append_json_bytes(escaped, bytes, true);
  EventStreamOptions options;
  options.syslog = parse_syslog_target("udp://127.0.0.1:" + std::to_string(ntohs(address.sin_port)));
  EventStream stream(options);
  stream.session_output(EventStream::output_source("s", "u", "n"), "o", escaped);
  std::string joined;
  while (joined.size() < bytes.size()) {
    char buffer[65536];
    const auto n = ::recv(receiver, buffer, sizeof buffer, 0);
    ASSERT_GT(n, 0);
    const std::string message(buffer, static_cast<std::size_t>(n));
    const auto value = nlohmann::json::parse(message.substr(message.find(" session - ") + 11));
    joined += value["data"].get<std::string>();
  }
  EXPECT_EQ(joined, bytes);
}

}  // namespace
}  // namespace sallyport::recording
