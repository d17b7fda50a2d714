#include "trickle/protocol/channel.hpp"

namespace trickle::protocol {

Channel::Channel(net::Executor executor, std::string name, std::string mime_type)
    : executor_(std::move(executor)), name_(std::move(name)), mime_type_(std::move(mime_type)) {}

void Channel::set_mime_type_if_unset(std::string_view mime) {
  if (mime_type_.empty() && !mime.empty()) mime_type_ = std::string(mime);
}

std::shared_ptr<Segment> Channel::open_for_write(std::int64_t seq, bool reset) {
  last_activity_ = net::Clock::now();
  if (reset) {
    for (auto& held : ring_) {
      if (held && held->seq() != seq) {
        held->close();
        held.reset();
      }
    }
    next_write_ = seq;
  }
  auto& held = slot(seq);
  // A reader may have pre-created this very segment and be waiting on it: write into that one.
  if (held && held->seq() == seq && held->size() == 0 && !held->closed()) return held;
  if (held) held->close();
  held = std::make_shared<Segment>(executor_, seq);
  return held;
}

void Channel::mark_written(std::int64_t seq) {
  last_activity_ = net::Clock::now();
  next_write_ = seq + 1;
}

Channel::ReadTarget Channel::open_for_read(std::int64_t requested) {
  std::int64_t seq = requested;
  if (requested == -1)
    seq = next_write_;
  else if (requested == -2)
    seq = next_write_ > 0 ? next_write_ - 1 : 0;
  if (seq < 0) return {nullptr, seq};

  auto& held = slot(seq);
  // A segment at the write head whose POST was abandoned before its first byte is as if never
  // started: the reader waits there for whoever publishes it (go-livepeer's relay never closes
  // such a segment, so its readers wait too).
  bool abandoned =
      held && held->seq() == seq && seq == next_write_ && held->closed() && held->size() == 0 && !held->published();
  if (held && held->seq() == seq && !abandoned) return {held, seq};
  // Only the very next segment is waited for; anything older than the ring or further ahead is
  // "not available" and the reader re-syncs from Lp-Trickle-Latest.
  bool nothing_written = next_write_ == 0;
  if (seq == next_write_ || (nothing_written && seq == 1)) {
    if (held) held->close();
    held = std::make_shared<Segment>(executor_, seq);
    return {held, seq};
  }
  return {nullptr, seq};
}

bool Channel::close_segment(std::int64_t seq) {
  if (seq < 0) return false;
  auto& held = slot(seq);
  if (!held || held->seq() != seq) return false;
  // Closing the empty next segment counts as ending it empty: readers re-sync past it instead of
  // being pre-connected to the same seq again.
  if (held->size() == 0 && seq >= next_write_) next_write_ = seq + 1;
  held->close();
  return true;
}

void Channel::close() {
  if (closed_) return;
  closed_ = true;
  last_activity_ = net::Clock::now();
  for (auto& held : ring_)
    if (held) held->close();
}

}  // namespace trickle::protocol
