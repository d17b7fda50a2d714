#pragma once

// Upstream PyTrickle's StreamState: the worker's lifecycle as /health and /stream/status report
// it. LOADING until the model is loaded, IDLE when ready, OK while a stream is active, ERROR for
// good once something failed (upstream never clears it, docs/compatibility.md Q10). Used on the server's io thread
// only.

#include <string>

#include "trickle/util/python_json.hpp"

namespace trickle::api {

enum class PipelineState { loading, idle, ok, error };

const char* to_string(PipelineState state);

class StreamState {
 public:
  PipelineState state() const { return state_; }
  bool pipeline_ready() const { return state_ == PipelineState::idle || state_ == PipelineState::ok; }
  bool startup_complete() const { return startup_complete_; }
  bool is_error() const { return error_; }
  bool active_client() const { return active_client_; }
  int active_streams() const { return active_streams_; }

  void set_active_client(bool active) { active_client_ = active; }
  void update_active_streams(int count) { active_streams_ = count < 0 ? 0 : count; }
  void set_state(PipelineState state);
  void set_startup_complete();
  void set_error(const std::string& message);
  void clear_error();

  // What /health answers: ERROR, OK (a stream or client active), IDLE (ready), LOADING.
  std::string health_status() const;
  // get_state(): {"status", "pipeline_ready", "shutdown_initiated", "error"}.
  util::Json get_state() const;
  // get_pipeline_state(), the body of /stream/status before the client fields.
  util::Json get_pipeline_state() const;

 private:
  PipelineState state_ = PipelineState::loading;
  bool running_ = false, shutdown_ = false, error_ = false;
  bool active_client_ = false;
  int active_streams_ = 0;
  bool startup_complete_ = false;
};

}  // namespace trickle::api
