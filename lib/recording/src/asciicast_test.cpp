#include "sallyport/recording/asciicast.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <vector>

namespace sallyport::recording {
namespace {

std::string round_trip(const std::string& bytes) {
  std::string escaped;
  EXPECT_EQ(append_json_bytes(escaped, bytes, true), 0u);
  const auto event = parse_event(encode_event(1.5, "o", escaped));
  EXPECT_TRUE(event);
  return event ? event->data : "<unparsed>";
}

TEST(Asciicast, HeaderIsVersion2WithSallyportFields) {
  Header header;
  header.width = 120;
  header.height = 40;
  header.timestamp = 1700000000;
  header.env = {{"TERM", "xterm"}};
  header.session_id = "alice-0123";
  header.user = "alice";
  const auto line = encode_header(header);
  ASSERT_EQ(line.back(), '\n');
  const auto value = nlohmann::json::parse(line);
  EXPECT_EQ(value["version"], 2);
  EXPECT_EQ(value["width"], 120);
  EXPECT_EQ(value["height"], 40);
  EXPECT_EQ(value["env"]["TERM"], "xterm");
  EXPECT_EQ(value["sallyport"]["session_id"], "alice-0123");
}

TEST(Asciicast, TextAndControlCharactersRoundTrip) {
  EXPECT_EQ(round_trip("hello \"world\" \\ \r\n\t\x1b[1mbold\x1b[0m\x7f\x01"), "hello \"world\" \\ \r\n\t\x1b[1mbold\x1b[0m\x7f\x01");
  EXPECT_EQ(round_trip("grüße ✓ 😀"), "grüße ✓ 😀");
}

TEST(Asciicast, ValidUtf8IsPlainJsonThatStandardParsersRead) {
  std::string escaped;
  append_json_bytes(escaped, "grüße\n\x1b", true);
  const auto value = nlohmann::json::parse(encode_event(0.25, "o", escaped));
  EXPECT_EQ(value[2], "grüße\n\x1b");
  EXPECT_DOUBLE_EQ(value[0].get<double>(), 0.25);
}

TEST(Asciicast, InvalidBytesBecomeSurrogateEscapesAndComeBack) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  EXPECT_EQ(round_trip(all), all);
  EXPECT_EQ(round_trip("\xed\xa0\x80"), "\xed\xa0\x80");  // an encoded surrogate is not UTF-8
  EXPECT_EQ(round_trip("\xc0\xaf"), "\xc0\xaf");          // overlong
  std::string escaped;
  append_json_bytes(escaped, "\xff", true);
  EXPECT_EQ(escaped, "\\udcff");
}

TEST(Asciicast, IncompleteSequenceAtTheEndIsCarriedOver) {
  const std::string text = "ab✓";  // ✓ is e2 9c 93
  std::string escaped;
  const auto held = append_json_bytes(escaped, text.substr(0, 3), false);
  EXPECT_EQ(held, 1u);
  EXPECT_EQ(escaped, "ab");
  std::string rest;
  EXPECT_EQ(append_json_bytes(rest, text.substr(2), false), 0u);
  EXPECT_EQ(rest, "✓");
  // At the end of the session a dangling lead byte is written as an escape.
  std::string last;
  EXPECT_EQ(append_json_bytes(last, "\xe2\x9c", true), 0u);
  EXPECT_EQ(last, "\\udce2\\udc9c");
}

TEST(Asciicast, ParserRefusesMalformedLines) {
  EXPECT_FALSE(parse_event(""));
  EXPECT_FALSE(parse_event("[1.0, \"o\"]"));
  EXPECT_FALSE(parse_event("[1.0, \"o\", \"x\"] trailing"));
  EXPECT_FALSE(parse_event("[-1, \"o\", \"x\"]"));
  EXPECT_FALSE(parse_event("[1.0, \"o\", \"\\udc00\"]"));  // lone low surrogate outside the byte range
  EXPECT_FALSE(parse_event("[1.0, \"o\", \"\\ud83d\"]"));  // high surrogate without its pair
  EXPECT_FALSE(parse_event("[1.0, \"o\", \"\\q\"]"));
  EXPECT_FALSE(parse_event("{\"version\": 2}"));
  const auto pair = parse_event("[2, \"i\", \"\\ud83d\\ude00\"]");
  ASSERT_TRUE(pair);
  EXPECT_EQ(pair->data, "😀");
  EXPECT_EQ(pair->code, "i");
}

TEST(Asciicast, EverySpecialByteIsFoundWhereverItSitsInALongRun) {
  // The plain-run scan reads sixteen bytes at a time: each special byte at each offset of two
  // blocks and a tail.
  for (const std::string& special : std::vector<std::string>{"\"", "\\", "\n", std::string(1, '\0'), "\x1f", " ", "\xc3\xa9", "\xff", "\x80", "\x7f"}) {
    for (std::size_t at = 0; at < 40; ++at) {
      const std::string text = std::string(at, 'a') + special + std::string(39 - at, 'b');
      EXPECT_EQ(round_trip(text), text) << at;
    }
  }
}

TEST(Asciicast, CompactGivesUpOnBinaryAndLeavesTheOutputAsItWas) {
  std::string out = "kept";
  EXPECT_FALSE(append_json_bytes_compact(out, std::string(300, '\0'), false));
  EXPECT_FALSE(append_json_bytes_compact(out, std::string(4000, 'a') + std::string(4000, '\xff'), false));
  EXPECT_EQ(out, "kept");
  const std::string text = "plain text, a line\nand grüße ✓\n";
  const auto held = append_json_bytes_compact(out, text + text + text, false);
  ASSERT_TRUE(held);
  EXPECT_EQ(*held, 0u);
  EXPECT_EQ(round_trip(text + text + text), text + text + text);
}

TEST(Asciicast, Base64IsTheStandardEncodingAtEveryLengthWithEveryEncoder) {
  // Pseudo-random bytes, then every byte value in order, so that every 6-bit value and every
  // alignment of the vector encoder's 24-byte steps against the tail is met.
  std::string bytes;
  unsigned state = 12345;
  for (int i = 0; i < 300; ++i) {
    state = state * 1103515245u + 12345u;
    bytes += static_cast<char>(state >> 16);
  }
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  const auto openssl = [](std::string_view in) {
    std::string text(base64_size(in.size()) + 1, '\0');
    const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                        reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
    text.resize(static_cast<std::size_t>(written));
    return text;
  };
  int kernels = 0;
  for (const auto kernel : {Base64Kernel::kScalar, Base64Kernel::kAvx2}) {
    std::string probe;
    if (!append_base64_with(kernel, probe, "")) continue;  // this CPU lacks it
    ++kernels;
    for (std::size_t offset = 0; offset < 4; ++offset) {
      for (std::size_t size = 0; offset + size <= bytes.size(); ++size) {
        const auto in = std::string_view(bytes).substr(offset, size);
        std::string ours = "prefix";
        ASSERT_TRUE(append_base64_with(kernel, ours, in));
        ASSERT_EQ(ours, "prefix" + openssl(in)) << "encoder " << static_cast<int>(kernel) << " size " << size;
      }
    }
  }
  EXPECT_GE(kernels, 1);
  // Long inputs, where the vector encoder runs many steps and hands the tail to the scalar one.
  std::string long_bytes;
  for (int i = 0; i < 40000; ++i) {
    state = state * 1103515245u + 12345u;
    long_bytes += static_cast<char>(state >> 16);
  }
  for (const auto kernel : {Base64Kernel::kScalar, Base64Kernel::kAvx2}) {
    for (const std::size_t size : {3071u, 3072u, 3073u, 3074u, 6144u, 6146u, 9215u, 40000u}) {
      const auto in = std::string_view(long_bytes).substr(0, size);
      std::string ours = "prefix";
      if (!append_base64_with(kernel, ours, in)) continue;
      ASSERT_EQ(ours, "prefix" + openssl(in)) << "encoder " << static_cast<int>(kernel) << " size " << size;
    }
  }
  std::string ours;
  append_base64(ours, bytes);
  EXPECT_EQ(ours, openssl(bytes));
  std::string man;
  append_base64(man, "Man is");
  EXPECT_EQ(man, "TWFuIGlz");
}

TEST(Asciicast, Base64EventsComeBackUnderThePlainCode) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (std::size_t size : {0u, 1u, 2u, 3u, 256u}) {
    std::string text;
    append_base64(text, all.substr(0, size));
    EXPECT_EQ(text.size(), base64_size(size));
    const auto event = parse_event(encode_event(2.0, "e64", text));
    ASSERT_TRUE(event) << size;
    EXPECT_EQ(event->code, "e");
    EXPECT_EQ(event->data, all.substr(0, size));
  }
  EXPECT_FALSE(parse_event("[1.0, \"o64\", \"abc\"]"));      // not a multiple of four
  EXPECT_FALSE(parse_event("[1.0, \"o64\", \"ab!d\"]"));     // outside the alphabet
  EXPECT_FALSE(parse_event("[1.0, \"o64\", \"a=bc\"]"));     // padding inside
  EXPECT_FALSE(parse_event("[1.0, \"o64\", \" YWJj\"]"));    // no whitespace
  const auto plain = parse_event("[1.0, \"o64\", \"YWJj\"]");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->data, "abc");
}

}  // namespace
}  // namespace sallyport::recording
