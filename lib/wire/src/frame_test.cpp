#include "sallyport/wire/frame.hpp"

#include <gtest/gtest.h>

using namespace sallyport::wire;

TEST(Frame, EncodesHeaderBigEndian) {
  const std::string bytes = encode(FrameType::kData, 0x01020304, "xyz");
  ASSERT_EQ(bytes.size(), kHeaderBytes + 3);
  EXPECT_EQ(bytes[0], 2);
  EXPECT_EQ(bytes.substr(1, 4), std::string("\x01\x02\x03\x04", 4));
  EXPECT_EQ(bytes.substr(5, 4), std::string("\x00\x00\x00\x03", 4));
  EXPECT_EQ(bytes.substr(9), "xyz");
}

TEST(Frame, DecodeOneRoundTrips) {
  const auto result = decode_one(encode(FrameType::kControl, 7, "{}"));
  ASSERT_TRUE(result.frame.has_value());
  EXPECT_EQ(result.frame->type, FrameType::kControl);
  EXPECT_EQ(result.frame->channel, 7u);
  EXPECT_EQ(result.frame->payload, "{}");
}

TEST(Frame, DecodeOneRefusesBadInput) {
  EXPECT_EQ(decode_one("").error, DecodeError::kTruncated);
  EXPECT_EQ(decode_one(std::string("\x09\0\0\0\0\0\0\0\0", 9)).error, DecodeError::kUnknownType);
  EXPECT_EQ(decode_one(std::string("\x02\0\0\0\0\0\0\0\x05" "ab", 11)).error, DecodeError::kTruncated);
  EXPECT_EQ(decode_one(encode(FrameType::kData, 1, "ab") + "c").error, DecodeError::kTrailingBytes);
  EXPECT_EQ(decode_one(std::string("\x02\0\0\0\0\x7f\xff\xff\xff", 9)).error, DecodeError::kOversized);
}

TEST(Frame, EncodeRefusesOversizedPayload) {
  EXPECT_THROW(encode(FrameType::kData, 1, std::string(kMaxPayloadBytes + 1, 'x')), std::length_error);
}

TEST(StreamDecoder, ReassemblesFramesSplitAnywhere) {
  const std::string stream = encode(FrameType::kData, 1, "hello") + encode(FrameType::kCredit, 2, "abcd") +
                             encode(FrameType::kControl, 0, std::string(1000, 'j'));
  for (std::size_t chunk = 1; chunk < 40; chunk += 3) {
    StreamDecoder decoder;
    std::vector<Frame> frames;
    for (std::size_t i = 0; i < stream.size(); i += chunk) {
      decoder.feed(std::string_view(stream).substr(i, chunk));
      while (auto frame = decoder.next()) frames.push_back(*frame);
    }
    ASSERT_EQ(frames.size(), 3u) << chunk;
    EXPECT_EQ(frames[0].payload, "hello");
    EXPECT_EQ(frames[1].channel, 2u);
    EXPECT_EQ(frames[2].payload.size(), 1000u);
    EXPECT_EQ(decoder.buffered(), 0u);
  }
}

TEST(StreamDecoder, StopsForGoodOnError) {
  StreamDecoder decoder;
  decoder.feed(std::string("\x07\0\0\0\0\0\0\0\0", 9));
  EXPECT_FALSE(decoder.next().has_value());
  EXPECT_EQ(decoder.error(), DecodeError::kUnknownType);
  decoder.feed(encode(FrameType::kData, 1, "x"));
  EXPECT_FALSE(decoder.next().has_value());
}

TEST(StreamDecoder, BoundsBufferWhenNotDrained) {
  StreamDecoder decoder;
  const std::string chunk(kMaxFrameBytes, 'x');
  decoder.feed(std::string("\x02\0\0\0\0\0\x03\xff\xff", 9));
  decoder.feed(chunk);
  decoder.feed(chunk);
  EXPECT_EQ(decoder.error(), DecodeError::kOversized);
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(Frame, PeekHeaderReadsWithoutCopyingAndRefusesWhatDecodeOneRefuses) {
  std::string frame = encode(FrameType::kData, 0x80000007u, "abc");
  const auto header = peek_header(frame);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->type, FrameType::kData);
  EXPECT_EQ(header->channel, 0x80000007u);
  EXPECT_EQ(header->length, 3u);
  EXPECT_FALSE(peek_header(frame.substr(0, 11)));
  EXPECT_FALSE(peek_header(frame + "x"));
  EXPECT_FALSE(peek_header(std::string("\x09", 1) + frame.substr(1)));
  set_channel(frame, 5);
  EXPECT_EQ(decode_one(frame).frame->channel, 5u);
  EXPECT_EQ(decode_one(frame).frame->payload, "abc");
  EXPECT_TRUE(is_stream_channel(0x80000007u));
  EXPECT_FALSE(is_stream_channel(5));
}

TEST(Frame, WriteHeaderMatchesEncode) {
  std::string buffer(kHeaderBytes + 4, '\0');
  buffer.replace(kHeaderBytes, 4, "data");
  write_header(buffer.data(), FrameType::kData, 42, 4);
  EXPECT_EQ(buffer, encode(FrameType::kData, 42, "data"));
}
