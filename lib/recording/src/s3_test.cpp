#include "sallyport/recording/s3.hpp"

#include <gtest/gtest.h>

namespace sallyport::recording {
namespace {

// The "GET Object" example of AWS's Signature Version 4 documentation for S3.
TEST(SigV4, MatchesAwsPublishedExample) {
  SigV4Request request;
  request.method = "GET";
  request.canonical_uri = "/test.txt";
  request.payload_sha256 = sha256_hex("");
  request.headers = {{"host", "examplebucket.s3.amazonaws.com"},
                     {"range", "bytes=0-9"},
                     {"x-amz-content-sha256", request.payload_sha256},
                     {"x-amz-date", "20130524T000000Z"}};
  const auto authorization = sigv4_authorization(request, "AKIAIOSFODNN7EXAMPLE",
                                                 "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3",
                                                 "20130524T000000Z");
  EXPECT_EQ(authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, UriEncoding) {
  EXPECT_EQ(uri_encode("rec/alice-1.cast", true), "rec/alice-1.cast");
  EXPECT_EQ(uri_encode("a b/c", false), "a%20b%2Fc");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(S3Client, UnreachableStoreIsAnErrorNotAThrow) {
  S3Client client({"http://127.0.0.1:1", "bucket", "", "us-east-1", "k", "s", std::chrono::seconds(2)});
  const auto result = client.put("x", "y", "text/plain");
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.message.empty());
}

TEST(UploadProgress, PartsAreTakenInOrderUpToTheFirstLineCutShort) {
  const auto progress = parse_upload_progress(
      "sallyport-upload 1 5242880 12000000 up-7\n1 \"etag one\"\n2 \"b\"\n3 \"cut");
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->upload_id, "up-7");
  EXPECT_EQ(progress->part_bytes, 5242880u);
  EXPECT_EQ(progress->size, 12000000u);
  EXPECT_EQ(progress->etags, (std::vector<std::string>{"\"etag one\"", "\"b\""}));
}

TEST(UploadProgress, MalformedOrOutOfOrderPartLinesEndTheList) {
  const std::string header = "sallyport-upload 1 10 20 up\n";
  for (const std::string tail : {"2 \"a\"\n", "1\n", "1 \n", "x1 \"a\"\n", "1x \"a\"\n", "-1 \"a\"\n"}) {
    const auto progress = parse_upload_progress(header + tail + "2 \"b\"\n");
    ASSERT_TRUE(progress) << tail;
    EXPECT_TRUE(progress->etags.empty()) << tail;
  }
  const auto two = parse_upload_progress(header + "1 \"a\"\n1 \"again\"\n");
  ASSERT_TRUE(two);
  EXPECT_EQ(two->etags.size(), 1u);
}

TEST(UploadProgress, AnythingButItsHeaderIsNoProgress) {
  for (const std::string text : {"", "sallyport-upload 1 10 20 up", "sallyport-upload 2 10 20 up\n",
                                 "other 1 10 20 up\n", "sallyport-upload 1 ten 20 up\n",
                                 "sallyport-upload 1 10 20\n", "sallyport-upload 1 10 20 up extra\n"}) {
    EXPECT_FALSE(parse_upload_progress(text)) << text;
  }
}

}  // namespace
TEST(S3Answer, ElementTextIsTakenOnlyWhenWholeAndPlain) {
  const std::string initiated =
      "<?xml version=\"1.0\"?><InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
      "<UploadId>VXBsb2FkIElE-1.x_y</UploadId></InitiateMultipartUploadResult>";
  EXPECT_EQ(xml_element_text(initiated, "UploadId"), "VXBsb2FkIElE-1.x_y");
  EXPECT_EQ(xml_element_text(initiated, "Bucket"), "b");
  EXPECT_EQ(xml_element_text(initiated, "Code"), std::nullopt);
  EXPECT_EQ(xml_element_text("<Error><Code>NoSuchUpload</Code></Error>", "Code"), "NoSuchUpload");
  EXPECT_EQ(xml_element_text("<UploadId>cut", "UploadId"), std::nullopt);                 // unterminated
  EXPECT_EQ(xml_element_text("<UploadId><b>x</b></UploadId>", "UploadId"), std::nullopt);  // markup inside
  EXPECT_EQ(xml_element_text("<UploadId>" + std::string(2000, 'a') + "</UploadId>", "UploadId"), std::nullopt);
  EXPECT_EQ(xml_element_text("<UploadId></UploadId>", "UploadId"), "");
  EXPECT_EQ(xml_element_text("", "UploadId"), std::nullopt);
}

TEST(S3Answer, EtagHeaderLinesGiveTheirValueWithQuotes) {
  EXPECT_EQ(etag_of_header_line("ETag: \"3858f62230ac3c915f300c664312c63f\"\r\n"),
            "\"3858f62230ac3c915f300c664312c63f\"");
  EXPECT_EQ(etag_of_header_line("etag:\t\"a&b\"  \r\n"), "\"a&b\"");
  EXPECT_EQ(etag_of_header_line("Content-Length: 0\r\n"), std::nullopt);
  EXPECT_EQ(etag_of_header_line("ETag:"), std::nullopt);
  EXPECT_EQ(etag_of_header_line("ETag: " + std::string(600, 'a')), std::nullopt);
  EXPECT_EQ(etag_of_header_line("ETag:   \r\n"), "");
}

}  // namespace sallyport::recording
