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
