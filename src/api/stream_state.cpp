#include "trickle/api/stream_state.hpp"

#include <spdlog/spdlog.h>

namespace trickle::api {

const char* to_string(PipelineState state) {
  switch (state) {
    case PipelineState::loading: return "LOADING";
    case PipelineState::idle: return "IDLE";
    case PipelineState::ok: return "OK";
    case PipelineState::error: return "ERROR";
  }
  return "LOADING";
}

void StreamState::set_state(PipelineState state) {
  state_ = state;
  if (state == PipelineState::error) {
    shutdown_ = error_ = true;
  } else {
    running_ = true;
  }
}

void StreamState::set_startup_complete() {
  startup_complete_ = true;
  if (state_ == PipelineState::loading) set_state(PipelineState::idle);
}

void StreamState::set_error(const std::string& message) {
  spdlog::error("pipeline error: {}", message);
  set_state(PipelineState::error);
}

void StreamState::clear_error() {
  if (!error_) return;
  error_ = shutdown_ = false;
  state_ = PipelineState::loading;
}

std::string StreamState::health_status() const {
  if (error_) return "ERROR";
  if (active_streams_ > 0 || active_client_) return "OK";
  if (pipeline_ready() && startup_complete_) return "IDLE";
  return "LOADING";
}

util::Json StreamState::get_state() const {
  std::string status = error_                                    ? "ERROR"
                       : (active_streams_ > 0 || active_client_) ? "OK"
                       : startup_complete_                       ? "IDLE"
                                                                 : "LOADING";
  return util::Json{
      {"status", status}, {"pipeline_ready", pipeline_ready()}, {"shutdown_initiated", shutdown_}, {"error", error_}};
}

util::Json StreamState::get_pipeline_state() const {
  const std::string status = health_status();
  return util::Json{{"status", status},
                    {"state", status},
                    {"error_message", nullptr},
                    {"pipeline_ready", pipeline_ready()},
                    {"active_streams", active_streams_},
                    {"startup_complete", startup_complete_},
                    {"pipeline_state", to_string(state_)},
                    {"additional_info", util::Json::object()}};
}

}  // namespace trickle::api
