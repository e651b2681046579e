// The wire's frames: headers round-trip, the stream may be cut anywhere, and
// a header that is too long, of an unknown type or with reserved bits set
// breaks the stream before any payload is held.

#include <algorithm>

#include <doctest/doctest.h>

#include "wire/frame.hpp"

using namespace ringvisor::actor::wire;

namespace {

std::vector<uint8_t> payload_of(size_t n, uint8_t seed) {
  std::vector<uint8_t> result(n);
  for (size_t i = 0; i < n; ++i)
    result[i] = static_cast<uint8_t>(seed + i);
  return result;
}

} // namespace

TEST_CASE("wire frames come out whole wherever the stream is cut") {
  std::vector<uint8_t> stream;
  write_frame(frame_type::hello, 0, payload_of(300, 1), stream);
  write_frame(frame_type::heartbeat, 0, {}, stream);
  write_frame(frame_type::msg, 3, payload_of(1000, 7), stream);
  for (size_t cut = 1; cut <= stream.size(); ++cut) { // chunks of every size
    frame_parser parser{4096};
    std::vector<frame> got;
    for (size_t at = 0; at < stream.size();) {
      auto n = std::min(cut, stream.size() - at);
      auto taken = parser.feed(stream.data() + at, n);
      at += taken;
      while (auto f = parser.next())
        got.push_back(std::move(*f));
      REQUIRE(parser.failure() == frame_parser::error::none);
    }
    REQUIRE(got.size() == 3);
    CHECK(got[0].header.type == frame_type::hello);
    CHECK(got[0].payload == payload_of(300, 1));
    CHECK(got[1].header.type == frame_type::heartbeat);
    CHECK(got[1].payload.empty());
    CHECK(got[2].header.flags == 3);
    CHECK(got[2].payload == payload_of(1000, 7));
    CHECK(parser.buffered() == 0);
  }
}

TEST_CASE("a wire frame of exactly max-frame bytes passes, one more breaks the stream at the header") {
  std::vector<uint8_t> ok;
  write_frame(frame_type::msg, 0, payload_of(64, 0), ok);
  frame_parser parser{64};
  CHECK(parser.feed(ok.data(), ok.size()) == ok.size());
  CHECK(parser.next());
  for (uint32_t length : {65u, 0xFFFFFFFFu}) {
    std::vector<uint8_t> bad;
    write_header({length, frame_type::msg, 0}, bad);
    frame_parser p{64};
    p.feed(bad.data(), bad.size());
    CHECK(p.failure() == frame_parser::error::too_long);
    CHECK(p.buffered() == header_size); // not a byte of payload held
    CHECK(!p.next());
    // and it takes nothing more
    uint8_t more[16] = {};
    CHECK(p.feed(more, sizeof(more)) == 0);
  }
}

TEST_CASE("a wire header of an unknown type or with reserved bits set breaks the stream") {
  std::vector<uint8_t> unknown{0, 0, 0, 0, 0, 0, 0, 0};
  frame_parser p0{64};
  p0.feed(unknown.data(), unknown.size());
  CHECK(p0.failure() == frame_parser::error::unknown_type);
  unknown[4] = last_frame_type + 1;
  frame_parser p1{64};
  p1.feed(unknown.data(), unknown.size());
  CHECK(p1.failure() == frame_parser::error::unknown_type);
  std::vector<uint8_t> reserved;
  write_header({0, frame_type::heartbeat, 0}, reserved);
  reserved[7] = 1;
  frame_parser p2{64};
  p2.feed(reserved.data(), reserved.size());
  CHECK(p2.failure() == frame_parser::error::reserved_set);
  CHECK(std::string{to_string(p2.failure())} == "reserved_set");
}
