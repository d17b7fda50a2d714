#pragma once

// The streams a StreamApi runs, by stream id (docs/many_streams.md), and the processors they run
// on: one processor per slot, taken by a starting stream and given back once its pipeline has
// finished, so that no processor ever serves two streams at once. Used on the io thread only.
//
// A stream that ended by itself gives its slot back at once but stays listed, as upstream keeps
// its finished client (docs/compatibility.md Q12): the orchestrator's stop for it still succeeds
// and /stream/status still shows it. A start with its id replaces it; only the most recent
// `capacity` ended streams are remembered. A stopped stream is unlisted.

#include <memory>
#include <string>
#include <vector>

#include "trickle/api/stream_requests.hpp"
#include "trickle/runtime/frame_processor.hpp"
#include "trickle/runtime/stream_pipeline.hpp"

namespace trickle::api {

struct SlotStream {
  std::string id;  // X-Stream-Id, else the start's gateway_request_id, else "default"
  StreamStartRequest start;
  std::shared_ptr<runtime::FrameProcessor> processor;
  std::shared_ptr<runtime::StreamPipeline> pipeline;  // set right after open()
  bool ended = false;                                 // finished by itself: its slot is free

  bool running() const { return !ended && pipeline && pipeline->running(); }
};

class StreamSlots {
 public:
  explicit StreamSlots(std::vector<std::shared_ptr<runtime::FrameProcessor>> processors);

  int capacity() const { return static_cast<int>(processors_.size()); }
  bool many() const { return capacity() > 1; }
  // Every slot's processor, free or not (for loading the models).
  const std::vector<std::shared_ptr<runtime::FrameProcessor>>& processors() const { return processors_; }

  // The streams listed, ended ones too, in the order they started.
  const std::vector<std::shared_ptr<SlotStream>>& streams() const { return streams_; }
  // Those that have not ended, each holding a slot.
  std::vector<std::shared_ptr<SlotStream>> live() const;
  std::shared_ptr<SlotStream> find(const std::string& id) const;
  std::shared_ptr<SlotStream> latest() const { return streams_.empty() ? nullptr : streams_.back(); }

  // A new stream on a free processor. The caller has checked that a slot is free and that no
  // live stream has this id; an ended one with it is replaced, and with one slot so is any.
  std::shared_ptr<SlotStream> open(std::string id, StreamStartRequest start);
  // The stream's pipeline has finished after a stop: unlisted, its slot free again. Nothing when
  // `stream` is no longer listed.
  void close(std::shared_ptr<SlotStream> stream);  // a copy: it may be one of streams()
  // The stream's pipeline finished by itself: its slot is free, it stays listed as ended. False
  // when `stream` is no longer listed or had already ended.
  bool ended(const std::shared_ptr<SlotStream>& stream);

 private:
  void unlist(std::shared_ptr<SlotStream> stream);

  std::vector<std::shared_ptr<runtime::FrameProcessor>> processors_;
  std::vector<std::shared_ptr<runtime::FrameProcessor>> free_;
  std::vector<std::shared_ptr<SlotStream>> streams_;
};

}  // namespace trickle::api
