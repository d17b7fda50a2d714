// The relay's sequence rules (docs/protocol.md, "Sequence rules"), checked on Channel alone.

#include <boost/test/unit_test.hpp>

#include "trickle/protocol/channel.hpp"

using trickle::protocol::Channel;

namespace {

struct ChannelFixture {
  asio::io_context io;
  Channel channel{io.get_executor(), "chan", "video/mp2t"};

  // A publisher that sends its first byte into `seq`.
  std::shared_ptr<trickle::protocol::Segment> write(std::int64_t seq, bool close = true) {
    auto segment = channel.open_for_write(seq, false);
    channel.mark_written(seq);
    segment->append(std::make_shared<const trickle::protocol::Bytes>(3, std::uint8_t(seq)));
    if (close) segment->close();
    return segment;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(channel, ChannelFixture)

BOOST_AUTO_TEST_CASE(fresh_channel_pre_creates_the_first_segments) {
  BOOST_TEST(channel.next_write() == 0);
  // -2 on an empty channel is seq 0, which is the next write: pre-created, the GET waits.
  auto current = channel.open_for_read(-2);
  BOOST_TEST(current.seq == 0);
  BOOST_REQUIRE(current.segment);
  BOOST_TEST(current.segment->size() == 0u);
  // -1 is also seq 0: the same pre-created segment.
  auto next = channel.open_for_read(-1);
  BOOST_TEST(next.segment == current.segment);
  // Seq 1 is allowed while nothing is written; 2 is too far ahead.
  BOOST_TEST(channel.open_for_read(1).segment != nullptr);
  BOOST_TEST(channel.open_for_read(2).segment == nullptr);
}

BOOST_AUTO_TEST_CASE(publisher_writes_into_the_segment_a_reader_pre_created) {
  auto waiting = channel.open_for_read(0).segment;
  auto written = channel.open_for_write(0, false);
  BOOST_TEST(written == waiting);
}

BOOST_AUTO_TEST_CASE(next_write_moves_on_first_byte) {
  write(0);
  BOOST_TEST(channel.next_write() == 1);
  write(1, false);
  BOOST_TEST(channel.next_write() == 2);
  // -2 is the segment being written now, -1 the one after it.
  BOOST_TEST(channel.open_for_read(-2).seq == 1);
  BOOST_TEST(channel.open_for_read(-2).segment->size() == 3u);
  auto next = channel.open_for_read(-1);
  BOOST_TEST(next.seq == 2);
  BOOST_TEST(next.segment->size() == 0u);
}

BOOST_AUTO_TEST_CASE(ring_keeps_five_segments) {
  for (int seq = 0; seq < 8; ++seq) write(seq);
  BOOST_TEST(channel.next_write() == 8);
  for (int seq = 3; seq < 8; ++seq) {
    auto target = channel.open_for_read(seq);
    BOOST_REQUIRE_MESSAGE(target.segment, "seq " << seq << " should still be in the ring");
    BOOST_TEST(target.segment->seq() == seq);
  }
  // Older than the ring: not available (470).
  BOOST_TEST(channel.open_for_read(2).segment == nullptr);
  BOOST_TEST(channel.open_for_read(0).segment == nullptr);
  // Exactly next_write is pre-created; beyond it is 470.
  BOOST_TEST(channel.open_for_read(8).segment != nullptr);
  BOOST_TEST(channel.open_for_read(9).segment == nullptr);
  BOOST_TEST(channel.open_for_read(-3).segment == nullptr);
}

BOOST_AUTO_TEST_CASE(writing_into_a_used_slot_closes_the_old_segment) {
  auto old = write(0, false);
  BOOST_TEST(!old->closed());
  for (int seq = 1; seq < 5; ++seq) write(seq);
  auto replacement = write(5, false);
  BOOST_TEST(old->closed());  // its readers see the end instead of waiting forever
  BOOST_TEST(replacement != old);
  BOOST_TEST(channel.open_for_read(0).segment == nullptr);
}

BOOST_AUTO_TEST_CASE(rewriting_the_same_seq_replaces_a_segment_with_data) {
  auto first = write(0, false);
  auto again = channel.open_for_write(0, false);
  BOOST_TEST(first->closed());
  BOOST_TEST(again != first);
  BOOST_TEST(again->size() == 0u);
}

BOOST_AUTO_TEST_CASE(reset_restarts_the_sequence_and_releases_readers) {
  for (int seq = 0; seq < 3; ++seq) write(seq);
  auto waiting = channel.open_for_read(-1).segment;  // seq 3, pre-created
  BOOST_TEST(waiting->seq() == 3);
  auto restarted = channel.open_for_write(0, /*reset=*/true);
  BOOST_TEST(waiting->closed());
  BOOST_TEST(channel.next_write() == 0);
  BOOST_TEST(restarted->seq() == 0);
  BOOST_TEST(channel.open_for_read(-1).seq == 0);
  BOOST_TEST(channel.open_for_read(2).segment == nullptr);  // old segments are gone
}

BOOST_AUTO_TEST_CASE(close_segment_and_channel) {
  write(0, false);
  BOOST_TEST(channel.close_segment(0));
  BOOST_TEST(channel.open_for_read(0).segment->closed());
  BOOST_TEST(!channel.close_segment(7));
  BOOST_TEST(!channel.close_segment(-1));
  // Closing the empty pre-created next segment moves readers past it.
  BOOST_TEST(channel.open_for_read(-1).seq == 1);
  channel.close_segment(1);
  BOOST_TEST(channel.next_write() == 2);
  auto open = write(2, false);
  channel.close();
  BOOST_TEST(channel.closed());
  BOOST_TEST(open->closed());
}

BOOST_AUTO_TEST_CASE(mime_type_is_set_once) {
  Channel blank(io.get_executor(), "x", "");
  blank.set_mime_type_if_unset("video/mp2t");
  blank.set_mime_type_if_unset("application/json");
  BOOST_TEST(blank.mime_type() == "video/mp2t");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(segment)

BOOST_AUTO_TEST_CASE(chunks_are_shared_not_copied_and_empty_ones_ignored) {
  asio::io_context io;
  trickle::protocol::Segment segment(io.get_executor(), 4);
  auto chunk = std::make_shared<const trickle::protocol::Bytes>(10, 7);
  segment.append(chunk);
  segment.append(std::make_shared<const trickle::protocol::Bytes>());
  BOOST_TEST(segment.chunk_count() == 1u);
  BOOST_TEST(segment.chunk(0).get() == chunk.get());
  BOOST_TEST(segment.size() == 10u);
  segment.close();
  segment.append(chunk);  // after close nothing more is taken
  BOOST_TEST(segment.size() == 10u);
}

BOOST_AUTO_TEST_SUITE_END()
