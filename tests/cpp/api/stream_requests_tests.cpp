// Expected messages were produced by upstream PyTrickle 0.1.6's models under pydantic 2.14
// (StreamStartRequest.model_validate / StreamParamsUpdateRequest.model_validate).

#include <boost/test/unit_test.hpp>

#include "trickle/api/stream_requests.hpp"

using namespace trickle;
using namespace trickle::api;

namespace {
util::Json parse(const std::string& text) {
  auto value = util::python_json_loads(text);
  BOOST_REQUIRE_MESSAGE(value, text);
  return *value;
}

std::string start_error(const std::string& body) {
  auto result = validate_stream_start_request(parse(body));
  BOOST_REQUIRE_MESSAGE(!result, "accepted: " << body);
  return result.error();
}

const std::string pydantic_link = "\n    For further information visit https://errors.pydantic.dev/2.14/v/";
}  // namespace

BOOST_AUTO_TEST_SUITE(stream_requests)

BOOST_AUTO_TEST_CASE(start_request_errors_read_like_pydantic) {
  BOOST_TEST(start_error(R"({"subscribe_url": "a"})") ==
             "1 validation error for StreamStartRequest\ngateway_request_id\n  Field required [type=missing, "
             "input_value={'subscribe_url': 'a'}, input_type=dict]" +
                 pydantic_link + "missing");
  BOOST_TEST(start_error(R"({"gateway_request_id": 5})") ==
             "1 validation error for StreamStartRequest\ngateway_request_id\n  Input should be a valid string "
             "[type=string_type, input_value=5, input_type=int]" +
                 pydantic_link + "string_type");
  BOOST_TEST(start_error(R"({"gateway_request_id": "x", "params": [1]})") ==
             "1 validation error for StreamStartRequest\nparams\n  Input should be a valid dictionary "
             "[type=dict_type, input_value=[1], input_type=list]" +
                 pydantic_link + "dict_type");
  BOOST_TEST(start_error(R"({"gateway_request_id": "x", "params": {"width": 5}})") ==
             "1 validation error for StreamStartRequest\nparams\n  Value error, Both 'width' and 'height' must be "
             "provided together [type=value_error, input_value={'width': 5}, input_type=dict]" +
                 pydantic_link + "value_error");
  BOOST_TEST(start_error("[1, 2]") ==
             "1 validation error for StreamStartRequest\n  Input should be a valid dictionary or instance of "
             "StreamStartRequest [type=model_type, input_value=[1, 2], input_type=list]" +
                 pydantic_link + "model_type");
  BOOST_TEST(start_error(R"("str")") ==
             "1 validation error for StreamStartRequest\n  Input should be a valid dictionary or instance of "
             "StreamStartRequest [type=model_type, input_value='str', input_type=str]" +
                 pydantic_link + "model_type");
  BOOST_TEST(start_error(R"({"gateway_request_id": null})") ==
             "1 validation error for StreamStartRequest\ngateway_request_id\n  Input should be a valid string "
             "[type=string_type, input_value=None, input_type=NoneType]" +
                 pydantic_link + "string_type");
  BOOST_TEST(start_error(R"({"gateway_request_id": "x", "control_url": 3, "params": {"max_framerate": 100}})") ==
             "2 validation errors for StreamStartRequest\ncontrol_url\n  Input should be a valid string "
             "[type=string_type, input_value=3, input_type=int]" +
                 pydantic_link +
                 "string_type\nparams\n  Value error, "
                 "max_framerate cannot exceed 60 FPS [type=value_error, input_value={'max_framerate': 100}, "
                 "input_type=dict]" +
                 pydantic_link + "value_error");
}

BOOST_AUTO_TEST_CASE(long_and_nested_inputs_are_shown_as_pydantic_shows_them) {
  const std::string long_list =
      R"({"gateway_request_id": ["aaaaaaaaaa", "aaaaaaaaaa", "aaaaaaaaaa", "aaaaaaaaaa", "aaaaaaaaaa", "aaaaaaaaaa", "aaaaaaaaaa", "aaaaaaaaaa", "aaaaaaaaaa", "aaaaaaaaaa"]})";
  BOOST_TEST(start_error(long_list).find(
                 "input_value=['aaaaaaaaaa', 'aaaaaaaaa...aaaaaaaa', 'aaaaaaaaaa'], input_type=list]") !=
             std::string::npos);
  BOOST_TEST(start_error(R"({"gateway_request_id": {"a": 1.0, "b": null, "c": "it's", "d": "\u00e9\n"}})")
                 .find(R"(input_value={'a': 1.0, 'b': None, 'c': "it's", 'd': 'é\n'}, input_type=dict])") !=
             std::string::npos);
  BOOST_TEST(start_error(R"({"subscribe_url": ")" + std::string(60, 's') + "\"}")
                 .find("input_value={'subscribe_url': 'ssssss...ssssssssssssssssssssss'}, input_type=dict]") !=
             std::string::npos);
  BOOST_TEST(start_error(R"({"gateway_request_id": 1e20})").find("input_value=1e+20, input_type=float]") !=
             std::string::npos);
  BOOST_TEST(start_error(R"({"gateway_request_id": true})").find("input_value=True, input_type=bool]") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(valid_start_request_converts_params) {
  auto request = validate_stream_start_request(parse(
      R"({"gateway_request_id": "g", "subscribe_url": "http://a/in", "extra": 1, "params": {"width": "64", "height": 64.9, "x": [1], "max_framerate": "30", "detect_out_resolution": "No"}})"));
  BOOST_REQUIRE(request);
  BOOST_TEST(request->gateway_request_id == "g");
  BOOST_TEST(*request->subscribe_url == "http://a/in");
  BOOST_TEST(!request->publish_url.has_value());
  BOOST_TEST(util::python_json_dumps(*request->params) ==
             R"({"width": 64, "height": 64, "x": [1], "max_framerate": 30, "detect_out_resolution": false})");
  auto minimal = validate_stream_start_request(parse(R"({"gateway_request_id": "only"})"));
  BOOST_REQUIRE(minimal);
  BOOST_TEST(!minimal->params.has_value());
}

BOOST_AUTO_TEST_CASE(params_update_errors_are_plain_value_errors) {
  auto error_of = [](const std::string& body) {
    auto result = validate_params_update_request(parse(body));
    BOOST_REQUIRE_MESSAGE(!result, "accepted: " << body);
    return result.error();
  };
  BOOST_TEST(error_of(R"({"width": 1})") == "Both 'width' and 'height' must be provided together");
  BOOST_TEST(error_of(R"({"width": "1.5", "height": 2})") ==
             "Width and height must be valid integers or integer strings");
  BOOST_TEST(error_of(R"({"width": 0, "height": 2})") == "Width and height must be valid integers or integer strings");
  BOOST_TEST(error_of(R"({"max_framerate": 0})") == "max_framerate must be a positive integer");
  BOOST_TEST(error_of(R"({"max_framerate": 61})") == "max_framerate cannot exceed 60 FPS");
  BOOST_TEST(error_of(R"({"max_framerate": "fast"})") == "max_framerate must be a valid integer");
  BOOST_TEST(error_of(R"({"max_framerate": null})") == "max_framerate must be a valid integer");
  BOOST_TEST(error_of(R"({"detect_out_resolution": 1.5})") == "detect_out_resolution must be a boolean value");
  BOOST_TEST(error_of(R"({"detect_out_resolution": "maybe"})") == "detect_out_resolution must be a boolean value");
  BOOST_TEST(error_of("[1]") ==
             "1 validation error for StreamParamsUpdateRequest\n  Input should be a valid dictionary or instance of "
             "StreamParamsUpdateRequest [type=model_type, input_value=[1], input_type=list]" +
                 pydantic_link + "model_type");
  auto ok = validate_params_update_request(
      parse(R"({"foo": 1, "width": "100", "height": 2.5, "max_framerate": " 3_0 ", "detect_out_resolution": "Yes"})"));
  BOOST_REQUIRE(ok);
  BOOST_TEST(util::python_json_dumps(*ok) ==
             R"({"foo": 1, "width": 100, "height": 2, "max_framerate": 30, "detect_out_resolution": true})");
}

BOOST_AUTO_TEST_SUITE_END()
