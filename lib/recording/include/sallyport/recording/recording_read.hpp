#pragma once
// What reading a recording back whole gives: its text, or why there is none (the API answers
// 413 for a recording too large to serve, 404 for the rest). A light header: the gateway's
// interfaces name it without the storage and its threads.
#include <optional>
#include <string>
#include <utility>

namespace sallyport::recording {

struct RecordingRead {
  enum class Failure { kNone, kInvalidId, kNotFound, kTooLarge, kDamaged, kRecordingOff };
  std::optional<std::string> text;
  Failure failure = Failure::kNone;
  std::string error;  // one line, when there is no text

  static RecordingRead found(std::string text) { return {std::move(text), Failure::kNone, ""}; }
  static RecordingRead failed(Failure failure, std::string error) { return {std::nullopt, failure, std::move(error)}; }
};

}  // namespace sallyport::recording
