// A small iterative scanner over already-validated JSON, recording offsets per key and value.
#include "json_positions.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace sallyport::policy::detail {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string quote(std::string_view text) {
  return nlohmann::json(std::string(text)).dump(-1, ' ', false,
                                                nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string path_key(std::string_view key) {
  const bool simple = !key.empty() && key.find_first_of(".[]\"' \t\r\n") == std::string_view::npos;
  if (simple) {
    bool printable = true;
    for (char c : key) {
      printable = printable && static_cast<unsigned char>(c) >= 0x20;
    }
    if (printable) {
      return std::string(key);
    }
  }
  return "[" + quote(key) + "]";
}

std::string join_path(std::string_view parent, std::string_view key) {
  std::string k = path_key(key);
  if (parent.empty() || k.front() == '[') {
    return std::string(parent) + k;
  }
  return std::string(parent) + "." + k;
}

std::variant<PositionIndex, ScanError> PositionIndex::build(std::string_view text,
                                                            std::size_t max_depth) {
  PositionIndex index;
  auto& nodes = index.nodes_;
  nodes.emplace_back();

  struct Frame {
    std::size_t node;
    bool object;
  };
  std::vector<Frame> stack;
  std::size_t pos = text.substr(0, kBom.size()) == kBom ? kBom.size() : 0;

  const auto skip_space = [&] {
    while (pos < text.size() && is_space(text[pos])) {
      ++pos;
    }
  };
  const auto peek = [&]() -> char { return pos < text.size() ? text[pos] : '\0'; };
  // pos is at an opening quote; returns the raw (still escaped) contents.
  const auto skip_string = [&]() -> std::string_view {
    const std::size_t start = ++pos;
    while (pos < text.size() && text[pos] != '"') {
      pos += text[pos] == '\\' ? 2 : 1;
    }
    const std::size_t end = std::min(pos, text.size());
    ++pos;
    return text.substr(start, end - start);
  };
  const auto fail = [&](std::string message, std::size_t node) {
    return ScanError{std::move(message), index.path_of(node), pos};
  };
  const auto add_child = [&](std::size_t parent) {
    nodes.emplace_back();
    nodes.back().parent = parent;
    return nodes.size() - 1;
  };

  enum class Want { kValue, kKey, kAfterValue };
  Want want = Want::kValue;
  std::size_t pending = kRoot;
  for (;;) {
    switch (want) {
      case Want::kValue: {
        skip_space();
        nodes[pending].value = pos;
        const char c = peek();
        if (c == '{' || c == '[') {
          if (stack.size() >= max_depth) {
            return fail("nesting deeper than " + std::to_string(max_depth) + " levels", pending);
          }
          stack.push_back({pending, c == '{'});
          ++pos;
          skip_space();
          if (peek() == (c == '{' ? '}' : ']')) {
            ++pos;
            stack.pop_back();
            want = Want::kAfterValue;
          } else if (c == '{') {
            want = Want::kKey;
          } else {
            pending = add_child(stack.back().node);
            nodes[stack.back().node].elements.push_back(pending);
            want = Want::kValue;
          }
        } else if (c == '"') {
          skip_string();
          want = Want::kAfterValue;
        } else {
          const std::size_t start = pos;
          while (pos < text.size() && !is_space(text[pos]) && text[pos] != ',' &&
                 text[pos] != ']' && text[pos] != '}') {
            ++pos;
          }
          if (pos == start) {
            return fail("unexpected character", pending);
          }
          want = Want::kAfterValue;
        }
        break;
      }
      case Want::kKey: {
        skip_space();
        if (peek() != '"') {
          return fail("expected a key", stack.back().node);
        }
        const std::size_t key_pos = pos;
        const std::string_view raw = skip_string();
        std::string key(raw);
        if (raw.find('\\') != std::string_view::npos) {
          try {
            key = nlohmann::json::parse("\"" + key + "\"").get<std::string>();
          } catch (const nlohmann::json::exception&) {
            return fail("invalid key", stack.back().node);
          }
        }
        const std::size_t object = stack.back().node;
        const std::size_t child = add_child(object);
        auto [it, inserted] = nodes[object].members.emplace(std::move(key), child);
        nodes[child].key = key_pos;
        nodes[child].name = &it->first;
        if (!inserted) {
          pos = key_pos;
          return ScanError{"duplicate key " + quote(it->first),
                           join_path(index.path_of(object), it->first), key_pos};
        }
        skip_space();
        if (peek() != ':') {
          return fail("expected ':'", object);
        }
        ++pos;
        pending = child;
        want = Want::kValue;
        break;
      }
      case Want::kAfterValue: {
        skip_space();
        if (stack.empty()) {
          return index;
        }
        const Frame frame = stack.back();
        const char c = peek();
        if (c == ',') {
          ++pos;
          if (frame.object) {
            want = Want::kKey;
          } else {
            pending = add_child(frame.node);
            nodes[pending].index = nodes[frame.node].elements.size();
            nodes[frame.node].elements.push_back(pending);
            want = Want::kValue;
          }
        } else if (c == (frame.object ? '}' : ']')) {
          ++pos;
          stack.pop_back();
        } else {
          return fail("unexpected character", frame.node);
        }
        break;
      }
    }
  }
}

std::size_t PositionIndex::member(std::size_t node, const std::string& key) const {
  if (node >= nodes_.size()) {
    return kNoNode;
  }
  const auto it = nodes_[node].members.find(key);
  return it == nodes_[node].members.end() ? kNoNode : it->second;
}

std::size_t PositionIndex::element(std::size_t node, std::size_t i) const {
  if (node >= nodes_.size() || i >= nodes_[node].elements.size()) {
    return kNoNode;
  }
  return nodes_[node].elements[i];
}

std::string PositionIndex::path_of(std::size_t node) const {
  std::vector<std::size_t> chain;
  for (std::size_t n = node; n != kNoNode && n != kRoot && n < nodes_.size();
       n = nodes_[n].parent) {
    chain.push_back(n);
  }
  std::string path;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const PositionNode& n = nodes_[*it];
    if (n.name != nullptr) {
      path = join_path(path, *n.name);
    } else {
      path += "[" + std::to_string(n.index) + "]";
    }
  }
  return path;
}

LineColumn line_column(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  LineColumn lc{1, 1};
  // Editors do not show a byte-order mark, so it takes no column.
  const std::size_t start = text.substr(0, kBom.size()) == kBom ? kBom.size() : 0;
  for (std::size_t i = start; i < offset; ++i) {
    if (text[i] == '\n') {
      ++lc.line;
      lc.column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0U) != 0x80U) {
      ++lc.column;
    }
  }
  return lc;
}

}  // namespace sallyport::policy::detail
