#pragma once
// Byte offsets of every key and value of a JSON text. nlohmann::json's DOM forgets where values
// came from, so schema errors look their position up here, walking the same structure.
#include <cstddef>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sallyport::policy::detail {

inline constexpr std::size_t kNoNode = std::numeric_limits<std::size_t>::max();

struct PositionNode {
  std::size_t key = kNoNode;  // offset of the member's key (its opening quote), if any
  std::size_t value = 0;      // offset of the value's first byte
  std::size_t parent = kNoNode;
  std::size_t index = 0;                      // position within an array parent
  const std::string* name = nullptr;          // key within an object parent (owned by members)
  std::map<std::string, std::size_t> members;  // unescaped key -> node
  std::vector<std::size_t> elements;
};

struct ScanError {
  std::string message;
  std::string path;
  std::size_t offset = 0;
};

class PositionIndex {
 public:
  static constexpr std::size_t kRoot = 0;

  // text must already be syntactically valid JSON. Fails on duplicate keys and on nesting
  // deeper than max_depth.
  static std::variant<PositionIndex, ScanError> build(std::string_view text,
                                                       std::size_t max_depth);

  // Child nodes; kNoNode when absent (or when node is kNoNode).
  std::size_t member(std::size_t node, const std::string& key) const;
  std::size_t element(std::size_t node, std::size_t i) const;
  const PositionNode& at(std::size_t node) const { return nodes_.at(node); }

 private:
  std::string path_of(std::size_t node) const;
  std::vector<PositionNode> nodes_;
};

// How a key appears in an error path: bare when simple, else ["quoted"].
std::string path_key(std::string_view key);
std::string join_path(std::string_view parent, std::string_view key);

struct LineColumn {
  int line = 0;
  int column = 0;
};
// 1-based line and column (in code points) of a byte offset; offsets past the end clamp.
LineColumn line_column(std::string_view text, std::size_t offset);

}  // namespace sallyport::policy::detail
