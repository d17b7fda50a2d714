// Expected texts were produced by CPython 3.11's json module (json.loads / json.dumps) and by
// bytes.decode('utf-8'); the scanner must fail where Python fails, with Python's words.

#include <string>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "trickle/util/python_json.hpp"

using trickle::util::Json;
using trickle::util::python_json_dumps;
using trickle::util::python_json_loads;

BOOST_AUTO_TEST_SUITE(python_json)

BOOST_AUTO_TEST_CASE(syntax_errors_read_like_json_loads) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "Expecting value: line 1 column 1 (char 0)"},
      {" ", "Expecting value: line 1 column 2 (char 1)"},
      {"{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"},
      {"[", "Expecting value: line 1 column 2 (char 1)"},
      {"{\"a\"", "Expecting ':' delimiter: line 1 column 5 (char 4)"},
      {"{\"a\":", "Expecting value: line 1 column 6 (char 5)"},
      {"{\"a\":}", "Expecting value: line 1 column 6 (char 5)"},
      {"{\"a\" 1}", "Expecting ':' delimiter: line 1 column 6 (char 5)"},
      {"{\"a\":1,}", "Expecting property name enclosed in double quotes: line 1 column 8 (char 7)"},
      {"[1,]", "Expecting value: line 1 column 4 (char 3)"},
      {"[1 2]", "Expecting ',' delimiter: line 1 column 4 (char 3)"},
      {"{\"a\":1}x", "Extra data: line 1 column 8 (char 7)"},
      {"\"abc", "Unterminated string starting at: line 1 column 1 (char 0)"},
      {"\"a\\qb\"", "Invalid \\escape: line 1 column 3 (char 2)"},
      {"\"\\u12\"", "Invalid \\uXXXX escape: line 1 column 3 (char 2)"},
      {"\"\\u12zz\"", "Invalid \\uXXXX escape: line 1 column 3 (char 2)"},
      {"nul", "Expecting value: line 1 column 1 (char 0)"},
      {"-", "Expecting value: line 1 column 1 (char 0)"},
      {"01", "Extra data: line 1 column 2 (char 1)"},
      {"1.", "Extra data: line 1 column 2 (char 1)"},
      {"{\"a\":\n  tru}", "Expecting value: line 2 column 3 (char 8)"},
      {"{\"\xc3\xa9\":\"x\", 1}", "Expecting property name enclosed in double quotes: line 1 column 11 (char 10)"},
      {"\"a\tb\"", "Invalid control character at: line 1 column 3 (char 2)"},
      {"[1,\n2,\n", "Expecting value: line 3 column 1 (char 7)"},
      {"\xef\xbb\xbf{}", "Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)"},
      {"\xff", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"},
      {"{\"a\":\"\xc3\"}", "'utf-8' codec can't decode byte 0xc3 in position 6: invalid continuation byte"},
      {std::string(1200, '['), "maximum recursion depth exceeded while decoding a JSON array from a unicode string"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& [text, message] = cases[i];
    auto result = python_json_loads(text);
    BOOST_TEST_CONTEXT("case " << i) {
      BOOST_REQUIRE(!result);
      BOOST_TEST(result.error() == message);
    }
  }
}

BOOST_AUTO_TEST_CASE(valid_documents_parse_and_dump_like_python) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"NaN", "NaN"},
      {"{\"a\":[1,{\"b\":null}]} ", "{\"a\": [1, {\"b\": null}]}"},
      {"{\"x\": -Infinity}", "{\"x\": -Infinity}"},
      {"1e5", "100000.0"},
      {"\"\\ud83d\\ude00\"", "\"\\ud83d\\ude00\""},
      {"{\"b\": 1, \"a\": 2, \"b\": 3}", "{\"b\": 3, \"a\": 2}"},  // insertion order, last value
      {"[true, false, -0, 12345678901]", "[true, false, 0, 12345678901]"},
  };
  for (const auto& [text, dumped] : cases) {
    auto result = python_json_loads(text);
    BOOST_TEST_CONTEXT("input " << text) {
      BOOST_REQUIRE_MESSAGE(result, (result ? "" : result.error()));
      BOOST_TEST(python_json_dumps(*result) == dumped);
    }
  }
}

BOOST_AUTO_TEST_CASE(dumps_uses_pythons_separators_and_escapes) {
  Json value = {{"a", {1, 2.5, nullptr, true}}, {"b", "\xc3\xa9\n\""}, {"c", Json::object()}, {"d", 1e20}, {"e", 0.1}};
  BOOST_TEST(python_json_dumps(value) ==
             "{\"a\": [1, 2.5, null, true], \"b\": \"\\u00e9\\n\\\"\", \"c\": {}, \"d\": 1e+20, \"e\": 0.1}");
}

BOOST_AUTO_TEST_SUITE_END()
