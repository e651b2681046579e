#include "wire/frame.hpp"

#include <algorithm>

namespace ringvisor::actor::wire {

const char* to_string(frame_type x) {
  switch (x) {
    case frame_type::hello:
      return "hello";
    case frame_type::welcome:
      return "welcome";
    case frame_type::reject:
      return "reject";
    case frame_type::alive_q:
      return "alive?";
    case frame_type::alive_a:
      return "alive!";
    case frame_type::msg:
      return "msg";
    case frame_type::announce:
      return "announce";
    case frame_type::down:
      return "down";
    case frame_type::link:
      return "link";
    case frame_type::unlink:
      return "unlink";
    case frame_type::heartbeat:
      return "heartbeat";
    case frame_type::route_lost:
      return "route_lost";
    case frame_type::bye:
      return "bye";
  }
  return "?";
}

const char* to_string(frame_parser::error x) {
  switch (x) {
    case frame_parser::error::none:
      return "none";
    case frame_parser::error::too_long:
      return "too_long";
    case frame_parser::error::unknown_type:
      return "unknown_type";
    case frame_parser::error::reserved_set:
      return "reserved_set";
  }
  return "?";
}

void write_header(const frame_header& x, uint8_t* out) {
  out[0] = static_cast<uint8_t>(x.length >> 24);
  out[1] = static_cast<uint8_t>(x.length >> 16);
  out[2] = static_cast<uint8_t>(x.length >> 8);
  out[3] = static_cast<uint8_t>(x.length);
  out[4] = static_cast<uint8_t>(x.type);
  out[5] = x.flags;
  out[6] = 0;
  out[7] = 0;
}

void write_header(const frame_header& x, std::vector<uint8_t>& out) {
  uint8_t head[header_size];
  write_header(x, head);
  out.insert(out.end(), head, head + header_size);
}

void write_frame(frame_type type, uint8_t flags, const std::vector<uint8_t>& payload,
                 std::vector<uint8_t>& out) {
  write_header({static_cast<uint32_t>(payload.size()), type, flags}, out);
  out.insert(out.end(), payload.begin(), payload.end());
}

void put_string(std::vector<uint8_t>& out, const std::string& x) {
  auto n = static_cast<uint32_t>(x.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<uint8_t>(n >> shift));
  out.insert(out.end(), x.begin(), x.end());
}

bool get_string(const std::vector<uint8_t>& in, size_t& pos, std::string& x, size_t max) {
  if (in.size() - pos < 4)
    return false;
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i)
    n = (n << 8) | in[pos + i];
  pos += 4;
  if (in.size() - pos < n || n > max)
    return false;
  x.assign(reinterpret_cast<const char*>(in.data() + pos), n);
  pos += n;
  return true;
}

size_t frame_parser::feed(const uint8_t* data, size_t size) {
  size_t taken = 0;
  while (taken < size && error_ == error::none && !complete_) {
    if (!header_) {
      auto n = std::min(size - taken, header_size - head_fill_);
      std::copy(data + taken, data + taken + n, head_ + head_fill_);
      head_fill_ += n;
      taken += n;
      if (head_fill_ == header_size)
        check_header();
      continue;
    }
    auto n = std::min<size_t>(size - taken, header_->length - payload_.size());
    payload_.insert(payload_.end(), data + taken, data + taken + n);
    taken += n;
    complete_ = payload_.size() == header_->length;
  }
  return taken;
}

void frame_parser::check_header() {
  frame_header h;
  h.length = (uint32_t{head_[0]} << 24) | (uint32_t{head_[1]} << 16) | (uint32_t{head_[2]} << 8)
             | uint32_t{head_[3]};
  auto type = head_[4];
  h.flags = head_[5];
  if (head_[6] != 0 || head_[7] != 0) {
    error_ = error::reserved_set;
    return;
  }
  if (type == 0 || type > last_frame_type) {
    error_ = error::unknown_type;
    return;
  }
  if (h.length > max_frame_) {
    error_ = error::too_long;
    return;
  }
  h.type = static_cast<frame_type>(type);
  header_ = h;
  payload_.reserve(std::min<uint32_t>(h.length, 64 * 1024)); // grows as bytes come
  complete_ = h.length == 0;
}

std::optional<frame> frame_parser::next() {
  if (!complete_)
    return std::nullopt;
  frame result{*header_, std::move(payload_)};
  payload_ = {};
  header_.reset();
  head_fill_ = 0;
  complete_ = false;
  return result;
}

} // namespace ringvisor::actor::wire
