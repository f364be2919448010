#pragma once
// Plain-text tables for listings: a header row and columns as wide as their widest cell,
// separated by two spaces. Cells are cleaned of control characters, since they may carry text
// from outside (user names in failed logins, agent inventory) that must not drive the terminal.
#include <string>
#include <string_view>
#include <vector>

namespace sallyport::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void add_row(std::vector<std::string> cells);
  std::size_t rows() const { return rows_.size(); }
  // Every line ends with '\n' and has no trailing spaces.
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Control characters (C0, DEL, C1) become '?'; invalid UTF-8 bytes become '?'.
std::string sanitize_for_terminal(std::string_view text);
// Columns the text takes on a terminal: one per UTF-8 code point.
std::size_t display_width(std::string_view text);

}  // namespace sallyport::cli
