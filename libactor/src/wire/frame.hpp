#pragma once

// Frames of ringvisor's own wire (private to libactor): an 8-byte header,
// `u32 length | u8 type | u8 flags | u16 reserved (0)`, big-endian, then
// `length` bytes of payload. The parser checks the header before it holds a
// byte of payload, so a peer cannot make a node allocate more than
// `max_frame`, and keeps at most one frame. Plain code: no CAF actors, no
// sockets.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace ringvisor::actor::wire {

/// What a frame carries.
enum class frame_type : uint8_t {
  hello = 1, // who the sender is (after the handshake)
  welcome,   // the acceptor takes the link
  reject,    // the acceptor refuses it (a reason follows)
  alive_q,   // does the dialer still hold an older link?
  alive_a,   // its answer
  msg,       // an actor message
  announce,  // an actor handle crossed: monitor it
  down,      // an announced actor is gone
  link,      // link two actors across nodes
  unlink,
  heartbeat,
  route_lost, // a relayed message found no route
  bye,        // an orderly close
};

/// The highest `frame_type`.
inline constexpr uint8_t last_frame_type = static_cast<uint8_t>(frame_type::bye);

/// Returns the name of `x`, e.g. `"msg"`.
const char* to_string(frame_type x);

/// Bytes of a frame header.
inline constexpr size_t header_size = 8;

/// A frame's header.
struct frame_header {
  uint32_t length = 0; // of the payload
  frame_type type = frame_type::heartbeat;
  uint8_t flags = 0;
};

/// Appends the header `x` to `out`.
void write_header(const frame_header& x, std::vector<uint8_t>& out);

/// Writes the header `x` to `out[0..header_size)`.
void write_header(const frame_header& x, uint8_t* out);

/// Appends a whole frame (header and `payload`) to `out`.
void write_frame(frame_type type, uint8_t flags, const std::vector<uint8_t>& payload,
                 std::vector<uint8_t>& out);

/// Appends `x` to `out` with its length before it (u32, big-endian).
void put_string(std::vector<uint8_t>& out, const std::string& x);

/// Reads a string written by `put_string` from `in` at `pos`, which it
/// advances; fails if `in` ends first or the string is longer than `max`.
bool get_string(const std::vector<uint8_t>& in, size_t& pos, std::string& x,
                size_t max = std::numeric_limits<size_t>::max());

/// A complete frame as the parser hands it out.
struct frame {
  frame_header header;
  std::vector<uint8_t> payload;
};

/// Cuts a byte stream into frames. Feed it what arrives; take frames with
/// `next`. Once it failed, it stays failed: the link must close.
class frame_parser {
public:
  /// Why the stream is broken.
  enum class error : uint8_t {
    none,
    too_long,     // a length above `max_frame`, checked before any payload
    unknown_type, // a type this version does not know
    reserved_set, // the reserved bits are not zero
  };

  explicit frame_parser(uint32_t max_frame) : max_frame_(max_frame) {
    // nop
  }

  /// Takes the bytes `data[0..size)`; returns how many it took (all, unless
  /// a frame is complete and waits for `next`, or the stream broke).
  size_t feed(const uint8_t* data, size_t size);

  /// Returns the next complete frame, if any.
  std::optional<frame> next();

  /// Returns why the stream broke, or `error::none`.
  error failure() const noexcept {
    return error_;
  }

  /// Returns the bytes held for the frame being read (header included).
  size_t buffered() const noexcept {
    return head_fill_ + payload_.size();
  }

private:
  void check_header();

  uint32_t max_frame_;
  uint8_t head_[header_size] = {};
  size_t head_fill_ = 0;
  std::optional<frame_header> header_;
  std::vector<uint8_t> payload_;
  bool complete_ = false;
  error error_ = error::none;
};

/// Returns the name of `x`, e.g. `"too_long"`.
const char* to_string(frame_parser::error x);

} // namespace ringvisor::actor::wire
