#pragma once
// A minimal S3 client for recordings: PUT and GET of one object, path-style URLs
// (ENDPOINT/BUCKET/PREFIXKEY), requests signed with AWS Signature Version 4, sent through
// libcurl. Works with AWS and S3-compatible stores (MinIO, Ceph, s3rver). Blocking: call it
// from the uploader thread or a request handler that may wait.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sallyport::recording {

struct S3Options {
  std::string endpoint;  // "https://s3.eu-west-1.amazonaws.com" or "http://127.0.0.1:4568"
  std::string bucket;
  std::string prefix;    // e.g. "recordings/"
  std::string region = "us-east-1";
  std::string access_key;
  std::string secret_key;
  std::chrono::seconds timeout{30};  // a transfer that stalls (under 1 KiB/s) this long fails
  // A file larger than this goes up in parts of this size (a multipart upload): S3 takes at
  // most 5 GiB in one PUT and parts of at least 5 MiB.
  std::uint64_t part_bytes = std::uint64_t{64} << 20;
};
inline constexpr std::uint64_t kMinPartBytes = std::uint64_t{5} << 20;

// SigV4, pure (tested against AWS's published example).
struct SigV4Request {
  std::string method;
  std::string canonical_uri;    // already URI-encoded
  std::string canonical_query;  // already sorted and encoded; "" for none
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names; signed, all of them
  std::string payload_sha256;   // hex
};
std::string sigv4_authorization(const SigV4Request& request, const std::string& access_key,
                                const std::string& secret_key, const std::string& region,
                                const std::string& service, const std::string& amz_date);  // YYYYMMDDTHHMMSSZ
std::string sha256_hex(const std::string& bytes);
// Of `length` bytes of the file from `offset`; nullopt when it cannot be read.
std::optional<std::string> sha256_hex_of_file(const std::filesystem::path& path, std::uint64_t offset,
                                              std::uint64_t length);
// The text of the first <element>…</element> in an S3 answer (at most 1 KiB, no nested
// markup); nullopt when there is none.
std::optional<std::string> xml_element_text(std::string_view xml, std::string_view element);
// The value of an "ETag:" header line (any case, at most 512 bytes), quotes kept; nullopt for
// any other line.
std::optional<std::string> etag_of_header_line(std::string_view line);
std::string uri_encode(const std::string& text, bool keep_slash);

// How far a multipart upload got, kept in a file beside the recording between attempts (and
// restarts): a header line "sallyport-upload 1 PART_BYTES FILE_BYTES UPLOAD_ID", then
// "NUMBER ETAG" for each part the store took, in order.
struct UploadProgress {
  std::string upload_id;
  std::uint64_t part_bytes = 0;
  std::uint64_t size = 0;
  std::vector<std::string> etags;  // of parts 1, 2, ...
};
// nullopt when the header is not one; part lines are taken up to the first that is cut short,
// malformed or out of order (a crash may leave one).
std::optional<UploadProgress> parse_upload_progress(std::string_view text);

struct S3Result {
  bool ok = false;
  long status = 0;      // HTTP status, 0 when no answer
  std::string message;  // what went wrong, for logs
  std::string body;     // GET: the object
  bool too_large = false;  // GET: the object passed the bound
  std::uint64_t parts = 0;  // put_file: the parts a multipart upload sent (0: one PUT)
};

class S3Client {
 public:
  explicit S3Client(S3Options options);
  S3Result put(const std::string& key, const std::string& body, const std::string& content_type) const;
  // Streams the file (each piece hashed in a first pass, sent in a second): memory stays
  // bounded. A file larger than the part size goes up in parts. With `progress`, one that
  // fails keeps its parts and writes down how far it got there, and the next call with the
  // same file goes on from the first part the store does not have; without, it is aborted.
  S3Result put_file(const std::string& key, const std::filesystem::path& path, const std::string& content_type,
                    const std::filesystem::path& progress = {}) const;
  // Fails, without keeping more, once the object passes max_bytes.
  S3Result get(const std::string& key, std::size_t max_bytes) const;
  const S3Options& options() const { return options_; }

 private:
  struct Body;  // what a request sends
  struct Request {
    std::string method;
    std::string key;
    std::string query;  // canonical: sorted, encoded ("uploads=", "partNumber=1&uploadId=…")
    std::string content_type;
    std::size_t max_answer_bytes;
  };
  S3Result send(const Request& request, Body& body, std::string* etag = nullptr) const;
  S3Result put_parts(const std::string& key, const std::filesystem::path& path, std::uint64_t size,
                     const std::string& content_type, const std::filesystem::path& progress) const;
  S3Result put_part(const std::string& key, const std::filesystem::path& path, std::uint64_t offset,
                    std::uint64_t length, std::uint64_t number, const std::string& upload, std::string& etag) const;
  S3Options options_;
};

// Reads credentials: a file with "ACCESS_KEY:SECRET_KEY" (or two lines), else the environment's
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Throws RecordingError when neither is usable.
std::pair<std::string, std::string> load_s3_credentials(const std::string& key_file);

}  // namespace sallyport::recording
