#include "wire/bounded_deserializer.hpp"

#include <caf/sec.hpp>

namespace ringvisor::actor::wire {

caf::error bounded_deserializer::enter() {
  if (depth_ >= max_depth)
    return caf::make_error(caf::sec::invalid_argument, "nested deeper than the wire allows");
  ++depth_;
  return caf::none;
}

caf::error bounded_deserializer::fits(size_t n, size_t size) const {
  if (size != 0 && n > inner_.remaining() / size)
    return caf::make_error(caf::sec::end_of_stream, "a sequence longer than its frame");
  return caf::none;
}

caf::error bounded_deserializer::begin_object(uint16_t& typenr, std::string& name) {
  if (auto err = enter())
    return err;
  if (auto err = inner_.begin_object(typenr, name))
    return err;
  // CAF reads an empty message without calling `end_object`: it nests
  // nothing.
  if (typenr == 0 && name == "@<>")
    --depth_;
  return caf::none;
}

caf::error bounded_deserializer::end_object() {
  --depth_;
  return inner_.end_object();
}

caf::error bounded_deserializer::begin_sequence(size_t& list_size) {
  if (auto err = enter())
    return err;
  if (auto err = inner_.begin_sequence(list_size))
    return err;
  // Every element takes at least a byte in CAF's binary format (elements of
  // empty types would not; no message of ours holds such a sequence).
  return fits(list_size, 1);
}

caf::error bounded_deserializer::end_sequence() {
  --depth_;
  return inner_.end_sequence();
}

caf::error bounded_deserializer::apply_raw(size_t num_bytes, void* data) {
  return inner_.apply_raw(num_bytes, data);
}

caf::error bounded_deserializer::apply_impl(int8_t& x) {
  return inner_.apply(x);
}

caf::error bounded_deserializer::apply_impl(uint8_t& x) {
  return inner_.apply(x);
}

caf::error bounded_deserializer::apply_impl(int16_t& x) {
  return inner_.apply(x);
}

caf::error bounded_deserializer::apply_impl(uint16_t& x) {
  return inner_.apply(x);
}

caf::error bounded_deserializer::apply_impl(int32_t& x) {
  return inner_.apply(x);
}

caf::error bounded_deserializer::apply_impl(uint32_t& x) {
  return inner_.apply(x);
}

caf::error bounded_deserializer::apply_impl(int64_t& x) {
  return inner_.apply(x);
}

caf::error bounded_deserializer::apply_impl(uint64_t& x) {
  return inner_.apply(x);
}

caf::error bounded_deserializer::apply_impl(float& x) {
  return inner_.apply(x);
}

caf::error bounded_deserializer::apply_impl(double& x) {
  return inner_.apply(x);
}

caf::error bounded_deserializer::apply_impl(long double& x) {
  return inner_.apply(x);
}

template <class Char>
caf::error bounded_deserializer::read_chars(std::basic_string<Char>& x) {
  size_t n = 0;
  if (auto err = inner_.begin_sequence(n))
    return err;
  if (auto err = fits(n, sizeof(Char)))
    return err;
  x.resize(n);
  for (auto& c : x) {
    if constexpr (sizeof(Char) == 1) {
      if (auto err = inner_.apply_raw(1, &c))
        return err;
    } else {
      auto code = static_cast<std::conditional_t<sizeof(Char) == 2, uint16_t, uint32_t>>(0);
      if (auto err = inner_.apply(code))
        return err;
      c = static_cast<Char>(code);
    }
  }
  return inner_.end_sequence();
}

caf::error bounded_deserializer::apply_impl(std::string& x) {
  return read_chars(x);
}

caf::error bounded_deserializer::apply_impl(std::u16string& x) {
  return read_chars(x);
}

caf::error bounded_deserializer::apply_impl(std::u32string& x) {
  return read_chars(x);
}

} // namespace ringvisor::actor::wire
