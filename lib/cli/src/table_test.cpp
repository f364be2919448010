#include "table.hpp"

#include <gtest/gtest.h>

#include "output.hpp"

namespace sallyport::cli {
namespace {

TEST(Table, ColumnsAreAsWideAsTheirWidestCell) {
  Table table({"ID", "NAME", "STATUS"});
  table.add_row({"mi-1", "web", "Online"});
  table.add_row({"mi-22222", "database-primary", "ConnectionLost"});
  EXPECT_EQ(table.render(),
            "ID        NAME              STATUS\n"
            "mi-1      web               Online\n"
            "mi-22222  database-primary  ConnectionLost\n");
  EXPECT_EQ(table.rows(), 2u);
}

TEST(Table, HeaderOnlyWhenEmpty) {
  Table table({"A", "B"});
  EXPECT_EQ(table.render(), "A  B\n");
}

TEST(Table, NoTrailingSpacesAndMissingCellsAreEmpty) {
  Table table({"NAME", "TAGS", "LAST"});
  table.add_row({"a", "", ""});
  table.add_row({"b"});
  table.add_row({"c", "env=dev", "x"});
  EXPECT_EQ(table.render(),
            "NAME  TAGS     LAST\n"
            "a\n"
            "b\n"
            "c     env=dev  x\n");
}

TEST(Table, WidthCountsCodePointsNotBytes) {
  Table table({"N", "X"});
  table.add_row({"h\xC3\xA9llo", "1"});  // "héllo": 6 bytes, 5 columns
  table.add_row({"abc", "2"});
  EXPECT_EQ(table.render(),
            "N      X\n"
            "h\xC3\xA9llo  1\n"
            "abc    2\n");
  EXPECT_EQ(display_width("h\xC3\xA9llo"), 5u);
}

TEST(Table, ControlCharactersCannotReachTheTerminal) {
  EXPECT_EQ(sanitize_for_terminal("evil\x1b[2Jname\n\t"), "evil?[2Jname??");
  EXPECT_EQ(sanitize_for_terminal("c1\xC2\x9B" "31m"), "c1?31m");   // C1 CSI
  EXPECT_EQ(sanitize_for_terminal("bad\xFF\xC3"), "bad??");         // invalid UTF-8
  EXPECT_EQ(sanitize_for_terminal("ok \xC3\xA9 \xE2\x9C\x93"), "ok \xC3\xA9 \xE2\x9C\x93");
  Table table({"ACTOR"});
  table.add_row({"x\x1b]0;title\x07"});
  EXPECT_EQ(table.render(), "ACTOR\nx?]0;title?\n");
}

TEST(Output, FieldText) {
  const auto node = nlohmann::json::parse(
      R"({"id":"mi-1","tags":{"env":"dev","team":"core"},"ip_addresses":["10.0.0.1","fd00::1"],
          "admin":true,"limit":5,"none":null})");
  EXPECT_EQ(field_text(node, "id"), "mi-1");
  EXPECT_EQ(field_text(node, "tags"), "env=dev,team=core");
  EXPECT_EQ(field_text(node, "ip_addresses"), "10.0.0.1,fd00::1");
  EXPECT_EQ(field_text(node, "admin"), "true");
  EXPECT_EQ(field_text(node, "limit"), "5");
  EXPECT_EQ(field_text(node, "none"), "");
  EXPECT_EQ(field_text(node, "missing"), "");
  EXPECT_EQ(field_text(nlohmann::json::array(), "id"), "");
}

TEST(Output, Fields) {
  std::ostringstream out;
  print_fields(out, {{"ID", "mi-1"}, {"Ping status", "Online"}});
  EXPECT_EQ(out.str(), "ID:          mi-1\nPing status: Online\n");
}

TEST(Output, UrlEncode) {
  EXPECT_EQ(url_encode("web-1.a_b~"), "web-1.a_b~");
  EXPECT_EQ(url_encode("2026-01-01T00:00:00+01:00"), "2026-01-01T00%3A00%3A00%2B01%3A00");
  EXPECT_EQ(url_encode("a/b c"), "a%2Fb%20c");
}

}  // namespace
}  // namespace sallyport::cli
