#include "sallyport/recording/s3.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "sallyport/recording/recording_file.hpp"
#include "sallyport/util/files.hpp"

namespace sallyport::recording {
namespace {

std::string hex(const unsigned char* data, std::size_t size) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

std::string hmac(const std::string& key, const std::string& message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string amz_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

// "http://host:port/path" -> "host:port"
std::string host_of(const std::string& endpoint) {
  auto start = endpoint.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  const auto end = endpoint.find('/', start);
  return endpoint.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

struct Answer {
  std::string body;
  std::size_t max_bytes;
  bool too_large = false;
};

std::size_t collect(char* data, std::size_t size, std::size_t count, void* user) {
  auto* answer = static_cast<Answer*>(user);
  if (answer->body.size() + size * count > answer->max_bytes) {
    answer->too_large = true;
    return 0;  // libcurl stops
  }
  answer->body.append(data, size * count);
  return size * count;
}

// The ETag header of an answer (a part's, which completing the upload names), quotes kept.
std::size_t keep_etag(char* data, std::size_t size, std::size_t count, void* user) {
  if (auto etag = etag_of_header_line(std::string_view(data, size * count))) *static_cast<std::string*>(user) = *etag;
  return size * count;
}

// A store's ETag goes back inside our XML: its markup characters as entities.
std::string xml_escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

constexpr std::size_t kFileChunkBytes = 1 << 20;
constexpr std::size_t kSmallAnswerBytes = 64 << 10;  // what a PUT's answer may hold
constexpr int kPartAttempts = 3;  // sends of one part before its upload gives up for now
constexpr auto kPartRetryPause = std::chrono::milliseconds(500);  // times the attempt so far

constexpr std::size_t kMaxProgressBytes = 2 << 20;  // 10,000 parts of ETags up to 128 bytes

std::optional<UploadProgress> read_upload_progress(const std::filesystem::path& file) {
  try {
    const auto text = util::read_file_if_exists(file, kMaxProgressBytes);
    return text ? parse_upload_progress(*text) : std::nullopt;
  } catch (const util::FileError&) {
    return std::nullopt;  // unreadable or too large: the upload starts again
  }
}

// A store that did not answer or was busy may take the same request later.
bool transient_failure(const S3Result& result) {
  return result.status == 0 || result.status == 429 || result.status >= 500;
}

bool write_upload_progress(const std::filesystem::path& file, const UploadProgress& progress) {
  if (progress.upload_id.find_first_of(" \t\r\n") != std::string::npos) return false;  // not one word
  std::ofstream out(file, std::ios::trunc);
  out << "sallyport-upload 1 " << progress.part_bytes << ' ' << progress.size << ' ' << progress.upload_id << '\n';
  return static_cast<bool>(out.flush());
}

bool append_upload_part(const std::filesystem::path& file, std::uint64_t number, const std::string& etag) {
  std::ofstream out(file, std::ios::app);
  out << number << ' ' << etag << '\n';
  return static_cast<bool>(out.flush());
}

}  // namespace

struct S3Client::Body {
  const std::string* text = nullptr;  // the body in memory, or
  std::FILE* file = nullptr;          // a file, read as libcurl asks
  std::uint64_t size = 0;
  std::uint64_t offset = 0;
  std::string sha256;

  static Body empty() {
    static const std::string nothing;
    return {&nothing, nullptr, 0, 0, sha256_hex(nothing)};
  }

  static std::size_t supply(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* body = static_cast<Body*>(user);
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(size * count, body->size - body->offset));
    std::size_t n = 0;
    if (body->text != nullptr) {
      std::copy_n(body->text->data() + body->offset, want, buffer);
      n = want;
    } else if (want > 0) {
      n = std::fread(buffer, 1, want, body->file);
      if (n == 0) return CURL_READFUNC_ABORT;  // the file shrank or broke
    }
    body->offset += n;
    return n;
  }
};

std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return hex(digest, sizeof digest);
}

std::optional<std::string> sha256_hex_of_file(const std::filesystem::path& path, std::uint64_t offset,
                                              std::uint64_t length) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return std::nullopt;
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  bool ok = context != nullptr && EVP_DigestInit_ex(context, EVP_sha256(), nullptr) == 1 &&
            ::fseeko(file, static_cast<off_t>(offset), SEEK_SET) == 0;
  std::string chunk(kFileChunkBytes, '\0');
  while (ok && length > 0) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(length, chunk.size()));
    const std::size_t n = std::fread(chunk.data(), 1, want, file);
    ok = n > 0 && EVP_DigestUpdate(context, chunk.data(), n) == 1;
    length -= n;
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  ok = ok && EVP_DigestFinal_ex(context, digest, nullptr) == 1;
  EVP_MD_CTX_free(context);
  std::fclose(file);
  if (!ok) return std::nullopt;
  return hex(digest, sizeof digest);
}

std::optional<std::string> etag_of_header_line(std::string_view line) {
  constexpr std::string_view kName = "etag:";
  constexpr std::size_t kMaxLineBytes = 512;
  if (line.size() <= kName.size() || line.size() > kMaxLineBytes ||
      !std::equal(kName.begin(), kName.end(), line.begin(),
                  [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
    return std::nullopt;
  }
  std::string_view value = line.substr(kName.size());
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.remove_prefix(1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.remove_suffix(1);
  return std::string(value);
}

std::optional<std::string> xml_element_text(std::string_view xml, std::string_view element) {
  constexpr std::size_t kMaxTextBytes = 1024;
  const std::string open = "<" + std::string(element) + ">";
  const std::string close = "</" + std::string(element) + ">";
  const auto start = xml.find(open);
  if (start == std::string_view::npos) return std::nullopt;
  const auto from = start + open.size();
  const auto end = xml.find(close, from);
  if (end == std::string_view::npos || end - from > kMaxTextBytes) return std::nullopt;
  const std::string_view text = xml.substr(from, end - from);
  if (text.find('<') != std::string_view::npos) return std::nullopt;
  return std::string(text);
}

std::string uri_encode(const std::string& text, bool keep_slash) {
  static const char* kDigits = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (std::isalnum(b) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += c;
    } else {
      out += '%';
      out += kDigits[b >> 4];
      out += kDigits[b & 15];
    }
  }
  return out;
}

std::string sigv4_authorization(const SigV4Request& request, const std::string& access_key,
                                const std::string& secret_key, const std::string& region,
                                const std::string& service, const std::string& amz_date) {
  auto headers = request.headers;
  std::sort(headers.begin(), headers.end());
  std::string canonical_headers, signed_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ":" + value + "\n";
    signed_headers += (signed_headers.empty() ? "" : ";") + name;
  }
  const std::string canonical = request.method + "\n" + request.canonical_uri + "\n" + request.canonical_query + "\n" +
                                canonical_headers + "\n" + signed_headers + "\n" + request.payload_sha256;
  const std::string date = amz_date.substr(0, 8);
  const std::string scope = date + "/" + region + "/" + service + "/aws4_request";
  const std::string to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + sha256_hex(canonical);
  const std::string key = hmac(hmac(hmac(hmac("AWS4" + secret_key, date), region), service), "aws4_request");
  const std::string signature = hmac(key, to_sign);
  return "AWS4-HMAC-SHA256 Credential=" + access_key + "/" + scope + ",SignedHeaders=" + signed_headers +
         ",Signature=" + hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
}

S3Client::S3Client(S3Options options) : options_(std::move(options)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  while (!options_.endpoint.empty() && options_.endpoint.back() == '/') options_.endpoint.pop_back();
}

std::optional<UploadProgress> parse_upload_progress(std::string_view text) {
  const auto next_line = [&text]() -> std::optional<std::string_view> {
    const auto newline = text.find('\n');
    if (newline == std::string_view::npos) return std::nullopt;  // a line cut short by a crash
    const auto line = text.substr(0, newline);
    text.remove_prefix(newline + 1);
    return line;
  };
  const auto header_line = next_line();
  if (!header_line) return std::nullopt;
  std::istringstream header{std::string(*header_line)};
  std::string magic, version, rest;
  UploadProgress progress;
  if (!(header >> magic >> version >> progress.part_bytes >> progress.size >> progress.upload_id) ||
      (header >> rest) || magic != "sallyport-upload" || version != "1") {
    return std::nullopt;
  }
  while (const auto line = next_line()) {
    const auto space = line->find(' ');
    if (space == std::string_view::npos || space + 1 >= line->size()) break;
    std::uint64_t number = 0;
    const auto [end, error] = std::from_chars(line->data(), line->data() + space, number);
    if (error != std::errc() || end != line->data() + space || number != progress.etags.size() + 1) break;
    progress.etags.emplace_back(line->substr(space + 1));
  }
  return progress;
}

S3Result S3Client::put(const std::string& key, const std::string& body, const std::string& content_type) const {
  Body text{&body, nullptr, body.size(), 0, sha256_hex(body)};
  return send({"PUT", key, "", content_type, kSmallAnswerBytes}, text);
}

S3Result S3Client::put_file(const std::string& key, const std::filesystem::path& path,
                            const std::string& content_type, const std::filesystem::path& progress) const {
  S3Result result;
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > std::max(options_.part_bytes, kMinPartBytes)) return put_parts(key, path, size, content_type, progress);
  auto sha256 = ec ? std::nullopt : sha256_hex_of_file(path, 0, size);
  std::FILE* file = sha256 ? std::fopen(path.c_str(), "rb") : nullptr;
  if (file == nullptr) {
    result.message = "cannot read " + path.string();
    return result;
  }
  Body body{nullptr, file, size, 0, std::move(*sha256)};
  result = send({"PUT", key, "", content_type, kSmallAnswerBytes}, body);
  std::fclose(file);
  return result;
}

// One part of a multipart upload, sent again (a store may answer 500 or 503 and ask for just
// that) up to kPartAttempts times while the store is unreachable or busy, so one transient
// failure does not cost the parts already sent. `etag` is the part's, for the completion.
S3Result S3Client::put_part(const std::string& key, const std::filesystem::path& path, std::uint64_t offset,
                            std::uint64_t length, std::uint64_t number, const std::string& upload,
                            std::string& etag) const {
  const std::string query = "partNumber=" + std::to_string(number) + "&" + upload;  // sorted, as signing needs
  auto sha256 = sha256_hex_of_file(path, offset, length);
  S3Result result;
  for (int attempt = 1;; ++attempt) {
    std::FILE* file = sha256 ? std::fopen(path.c_str(), "rb") : nullptr;
    if (file == nullptr || ::fseeko(file, static_cast<off_t>(offset), SEEK_SET) != 0) {
      if (file != nullptr) std::fclose(file);
      result = S3Result{};
      result.message = "cannot read " + path.string();
      return result;
    }
    Body body{nullptr, file, length, 0, *sha256};
    etag.clear();
    result = send({"PUT", key, query, "", kSmallAnswerBytes}, body, &etag);
    std::fclose(file);
    if (result.ok || !transient_failure(result) || attempt == kPartAttempts) break;
    spdlog::warn("upload of {}: part {} failed ({}); sending it again", key, number, result.message);
    std::this_thread::sleep_for(kPartRetryPause * attempt);
  }
  if (result.ok && etag.empty()) {
    result.ok = false;
    result.message = "the store gave part " + std::to_string(number) + " no ETag";
  }
  return result;
}

S3Result S3Client::put_parts(const std::string& key, const std::filesystem::path& path, std::uint64_t size,
                             const std::string& content_type, const std::filesystem::path& progress_file) const {
  constexpr std::uint64_t kMaxParts = 10000;  // S3's limit
  const std::uint64_t part = std::max({options_.part_bytes, kMinPartBytes, (size + kMaxParts - 1) / kMaxParts});
  Body none = Body::empty();
  std::error_code ignored;
  const bool keep = !progress_file.empty();
  auto progress = keep ? read_upload_progress(progress_file) : std::nullopt;
  if (progress && (progress->part_bytes != part || progress->size != size)) {
    progress.reset();  // another file, or another part size: start again
  }
  S3Result result;
  if (progress) {
    spdlog::info("upload of {}: going on from part {} of {}", key, progress->etags.size() + 1, (size + part - 1) / part);
  } else {
    result = send({"POST", key, "uploads=", content_type, kSmallAnswerBytes}, none);
    if (!result.ok) return result;
    const auto upload_id = xml_element_text(result.body, "UploadId");
    if (!upload_id || upload_id->empty()) {
      result.ok = false;
      result.message = "the store started no multipart upload (no UploadId in its answer)";
      return result;
    }
    progress = UploadProgress{*upload_id, part, size, {}};
    if (keep && !write_upload_progress(progress_file, *progress)) std::filesystem::remove(progress_file, ignored);
  }
  const std::string upload = "uploadId=" + uri_encode(progress->upload_id, false);
  const auto abandon = [&](S3Result failed) {
    send({"DELETE", key, upload, "", kSmallAnswerBytes}, none);  // best effort: frees the parts
    if (keep) std::filesystem::remove(progress_file, ignored);
    return failed;
  };
  // A store that did not answer or was busy may take the rest later: the parts stay.
  const auto pause = [&](S3Result failed) {
    if (!keep || !transient_failure(failed) || !std::filesystem::exists(progress_file, ignored)) return abandon(failed);
    return failed;
  };
  for (std::uint64_t number = progress->etags.size() + 1, offset = (number - 1) * part; offset < size;
       ++number, offset += part) {
    const std::uint64_t length = std::min(part, size - offset);
    std::string etag;
    result = put_part(key, path, offset, length, number, upload, etag);
    if (!result.ok && result.status == 404 && keep) {  // the store no longer has the upload
      std::filesystem::remove(progress_file, ignored);
      return result;
    }
    if (!result.ok) return pause(result);
    progress->etags.push_back(etag);
    if (keep && !append_upload_part(progress_file, number, etag)) std::filesystem::remove(progress_file, ignored);
  }
  std::string complete = "<CompleteMultipartUpload>";
  for (std::size_t i = 0; i < progress->etags.size(); ++i) {
    complete += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + xml_escape(progress->etags[i]) +
                "</ETag></Part>";
  }
  complete += "</CompleteMultipartUpload>";
  const std::uint64_t parts = (size + part - 1) / part;
  Body finish{&complete, nullptr, complete.size(), 0, sha256_hex(complete)};
  result = send({"POST", key, upload, "application/xml", kSmallAnswerBytes}, finish);
  // S3 may answer 200 and still report an error in the body.
  if (result.ok && xml_element_text(result.body, "Code")) {
    result.ok = false;
    result.message = "the store refused to complete the upload: " + result.body.substr(0, 200);
    return abandon(result);
  }
  if (!result.ok) return pause(result);
  if (keep) std::filesystem::remove(progress_file, ignored);
  result.parts = parts;
  return result;
}

S3Result S3Client::get(const std::string& key, std::size_t max_bytes) const {
  Body none = Body::empty();
  return send({"GET", key, "", "", max_bytes}, none);
}

S3Result S3Client::send(const Request& call, Body& body, std::string* etag) const {
  S3Result result;
  const std::string path =
      "/" + uri_encode(options_.bucket, false) + "/" + uri_encode(options_.prefix + call.key, true);
  const std::string amz_date = amz_now();
  SigV4Request request{call.method, path, call.query, {}, body.sha256};
  request.headers = {{"host", host_of(options_.endpoint)},
                     {"x-amz-content-sha256", request.payload_sha256},
                     {"x-amz-date", amz_date}};
  if (!call.content_type.empty()) request.headers.emplace_back("content-type", call.content_type);
  const std::string authorization = sigv4_authorization(request, options_.access_key, options_.secret_key,
                                                        options_.region, "s3", amz_date);
  CURL* curl = curl_easy_init();
  if (!curl) {
    result.message = "libcurl could not start";
    return result;
  }
  curl_slist* header_list = nullptr;
  for (const auto& [name, value] : request.headers) header_list = curl_slist_append(header_list, (name + ": " + value).c_str());
  header_list = curl_slist_append(header_list, ("authorization: " + authorization).c_str());
  header_list = curl_slist_append(header_list, "expect:");
  const std::string url = options_.endpoint + path + (call.query.empty() ? "" : "?" + call.query);
  Answer answer{{}, call.max_answer_bytes};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  // A large recording takes as long as it takes; a stalled transfer (under 1 KiB/s for the
  // timeout) is given up.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  if (call.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, Body::supply);
    curl_easy_setopt(curl, CURLOPT_READDATA, &body);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size));
  } else if (call.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, Body::supply);
    curl_easy_setopt(curl, CURLOPT_READDATA, &body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size));
  } else if (call.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  }
  if (etag != nullptr) {
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, keep_etag);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, etag);
  }
  const CURLcode code = curl_easy_perform(curl);
  result.body = std::move(answer.body);
  if (code == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  curl_slist_free_all(header_list);
  curl_easy_cleanup(curl);
  if (answer.too_large) {
    result.message = "the object is larger than " + std::to_string(call.max_answer_bytes >> 20) + " MiB";
    result.too_large = true;
  } else if (code != CURLE_OK) {
    result.message = std::string(curl_easy_strerror(code));
  } else if (result.status < 200 || result.status >= 300) {
    result.message = "HTTP " + std::to_string(result.status) + " " + result.body.substr(0, 200);
  } else {
    result.ok = true;
  }
  if (!result.ok && call.method == "GET") result.body.clear();
  return result;
}

std::pair<std::string, std::string> load_s3_credentials(const std::string& key_file) {
  if (!key_file.empty()) {
    std::ifstream in(key_file);
    if (!in) throw RecordingError("cannot read the S3 key file " + key_file);
    std::stringstream text;
    text << in.rdbuf();
    std::string content = text.str();
    std::replace(content.begin(), content.end(), '\n', ':');
    while (!content.empty() && (content.back() == ':' || content.back() == '\r' || content.back() == ' ')) content.pop_back();
    const auto colon = content.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 >= content.size()) {
      throw RecordingError("the S3 key file " + key_file + " must hold ACCESS_KEY:SECRET_KEY");
    }
    return {content.substr(0, colon), content.substr(colon + 1)};
  }
  const char* id = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (!id || !secret || !*id || !*secret) {
    throw RecordingError("S3 credentials: set s3_key_file or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }
  return {id, secret};
}

}  // namespace sallyport::recording
