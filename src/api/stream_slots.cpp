#include "trickle/api/stream_slots.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>

namespace trickle::api {

StreamSlots::StreamSlots(std::vector<std::shared_ptr<runtime::FrameProcessor>> processors)
    : processors_(std::move(processors)) {
  if (processors_.empty()) throw std::invalid_argument("StreamSlots: no processor");
  for (const auto& processor : processors_) {
    if (!processor) throw std::invalid_argument("StreamSlots: a null processor");
  }
  // Taken from the back: the first processor serves the first stream.
  free_.assign(processors_.rbegin(), processors_.rend());
}

std::vector<std::shared_ptr<SlotStream>> StreamSlots::live() const {
  std::vector<std::shared_ptr<SlotStream>> out;
  std::copy_if(streams_.begin(), streams_.end(), std::back_inserter(out), [](const auto& s) { return !s->ended; });
  return out;
}

std::shared_ptr<SlotStream> StreamSlots::find(const std::string& id) const {
  auto found = std::find_if(streams_.begin(), streams_.end(), [&](const auto& s) { return s->id == id; });
  return found == streams_.end() ? nullptr : *found;
}

std::shared_ptr<SlotStream> StreamSlots::open(std::string id, StreamStartRequest start) {
  if (!many()) {
    // The one slot: the stream that ended is replaced, as upstream replaces its current client.
    while (!streams_.empty()) close(streams_.back());
  } else if (auto same = find(id)) {
    close(same);
  }
  if (free_.empty()) throw std::logic_error("StreamSlots::open: every slot is taken");
  auto stream = std::make_shared<SlotStream>();
  stream->id = std::move(id);
  stream->start = std::move(start);
  stream->processor = std::move(free_.back());
  free_.pop_back();
  streams_.push_back(stream);
  return stream;
}

void StreamSlots::close(std::shared_ptr<SlotStream> stream) {
  if (std::find(streams_.begin(), streams_.end(), stream) == streams_.end()) return;
  if (!stream->ended) free_.push_back(stream->processor);  // an ended one gave it back already
  unlist(stream);
}

bool StreamSlots::ended(const std::shared_ptr<SlotStream>& stream) {
  if (stream->ended || std::find(streams_.begin(), streams_.end(), stream) == streams_.end()) return false;
  stream->ended = true;
  free_.push_back(stream->processor);
  // Remembering is for the orchestrator's calls about a stream that just ended, not a history.
  const auto ended_count = std::count_if(streams_.begin(), streams_.end(), [](const auto& s) { return s->ended; });
  for (auto excess = ended_count - capacity(); excess > 0; --excess) {
    unlist(*std::find_if(streams_.begin(), streams_.end(), [](const auto& s) { return s->ended; }));
  }
  return true;
}

void StreamSlots::unlist(std::shared_ptr<SlotStream> stream) {
  streams_.erase(std::remove(streams_.begin(), streams_.end(), stream), streams_.end());
}

}  // namespace trickle::api
