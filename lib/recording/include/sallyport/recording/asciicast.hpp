#pragma once
// asciicast v2 (the asciinema format), byte-exact: a header line, then one JSON array per
// event, [seconds, code, data]. Codes: "o" output, "i" input, "r" resize ("COLSxROWS"), and
// Sallyport's own: "e" for a command's stderr, and "c" for a forwarded connection's event
// (port forwarding records connections, never their payload), whose data is one JSON object
// as text: {"event":"open"|"failed"|"close","connection":N,"remote":"host:port",
// "client":"addr:port"} plus "bytes_in"/"bytes_out" on close and "reason" when not clean.
// Players skip codes they do not know, so `asciinema play` shows a port forward as empty.
//
// A command's streams are often not text (tar, gzip, images), where escapes would make the
// recording up to six times the bytes it holds. Such a chunk is written as base64 under the
// stream's code with kBase64Suffix ("o64", "i64", "e64"): a third larger, never more.
// parse_event() returns it under the plain code with the bytes decoded. Terminal sessions
// always use the plain codes, so players show everything the user saw.
//
// JSON strings hold Unicode text, but a session carries bytes. So that a recording is exactly
// what the client received, an incomplete UTF-8 sequence at the end of a chunk is carried over
// to the next event of the same stream, and a byte that is not part of valid UTF-8 is written
// as a lone surrogate escape \udcXX (Python's "surrogateescape"), which parse_event() turns
// back into the byte. Pure: no I/O.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sallyport::recording {

inline constexpr std::size_t kMaxEventLineBytes = 4 << 20;  // parse_event refuses longer lines
inline constexpr const char* kConnectionCode = "c";

struct Header {
  int width = 80;
  int height = 24;
  std::int64_t timestamp = 0;  // Unix seconds
  std::string title;
  std::map<std::string, std::string> env;  // SHELL, TERM
  // Sallyport's own fields (top-level "sallyport" object).
  std::string session_id, user, node_id, run_as, kind, command;
};

std::string encode_header(const Header& header);  // one line with '\n'

// Appends `bytes` to `out` as the inside of a JSON string (no quotes), escaping per above.
// Returns how many trailing bytes were left out because they may start a UTF-8 sequence that
// the next chunk completes (0-3); the caller passes them again in front of the next chunk.
std::size_t append_json_bytes(std::string& out, std::string_view bytes, bool final_chunk);

// The same, but gives up (nullopt, `out` as it was) as soon as the text runs more than a third
// longer than the bytes read so far (64 bytes of slack), where base64 would be smaller. Binary
// input is found within its first few dozen bytes, so trying costs little.
std::optional<std::size_t> append_json_bytes_compact(std::string& out, std::string_view bytes, bool final_chunk);

inline constexpr std::string_view kBase64Suffix = "64";
void append_base64(std::string& out, std::string_view bytes);
std::size_t base64_size(std::size_t bytes);  // what append_base64 adds

// The encoders append_base64 chooses from by what the CPU supports (AVX2 where it has it),
// each callable for tests: false when this CPU lacks it.
enum class Base64Kernel { kScalar, kAvx2 };
bool append_base64_with(Base64Kernel kernel, std::string& out, std::string_view bytes);

// One event line: [seconds, "code", "escaped data"] with '\n'. `escaped` comes from
// append_json_bytes.
std::string encode_event(double seconds, std::string_view code, std::string_view escaped);

struct Event {
  double time = 0;
  std::string code;
  std::string data;  // bytes, surrogate escapes restored
};

// Parses one event line (without or with its '\n'); nullopt when it is not a well-formed
// event. Bounded by kMaxEventLineBytes.
std::optional<Event> parse_event(std::string_view line);

}  // namespace sallyport::recording
