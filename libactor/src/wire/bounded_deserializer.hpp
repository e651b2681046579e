#pragma once

// A deserializer for bytes from the network (private to libactor). CAF
// 0.17's binary deserializer sizes a container before it checks that the
// input holds that many elements, so five bytes can ask for 4 GiB; and
// nothing bounds how deep values nest. This one reads CAF's binary format
// through a binary_deserializer, but refuses a sequence or a string longer
// than the bytes left, and nesting deeper than `max_depth`.

#include <cstddef>
#include <string>

#include <caf/binary_deserializer.hpp>
#include <caf/deserializer.hpp>

namespace ringvisor::actor::wire {

class bounded_deserializer final : public caf::deserializer {
public:
  /// The deepest nesting of objects and sequences accepted.
  static constexpr size_t max_depth = 32;

  bounded_deserializer(caf::actor_system& sys, const char* data, size_t size)
    : caf::deserializer(sys), inner_(sys, data, size) {
    // nop
  }

  /// Reads with the context `ctx`, whose proxy registry turns remote actor
  /// handles into proxies.
  bounded_deserializer(caf::execution_unit* ctx, const char* data, size_t size)
    : caf::deserializer(ctx), inner_(ctx, data, size) {
    // nop
  }

  /// Returns how many bytes are left to read.
  size_t remaining() const noexcept {
    return inner_.remaining();
  }

  caf::error begin_object(uint16_t& typenr, std::string& name) override;
  caf::error end_object() override;
  caf::error begin_sequence(size_t& list_size) override;
  caf::error end_sequence() override;
  caf::error apply_raw(size_t num_bytes, void* data) override;

protected:
  caf::error apply_impl(int8_t& x) override;
  caf::error apply_impl(uint8_t& x) override;
  caf::error apply_impl(int16_t& x) override;
  caf::error apply_impl(uint16_t& x) override;
  caf::error apply_impl(int32_t& x) override;
  caf::error apply_impl(uint32_t& x) override;
  caf::error apply_impl(int64_t& x) override;
  caf::error apply_impl(uint64_t& x) override;
  caf::error apply_impl(float& x) override;
  caf::error apply_impl(double& x) override;
  caf::error apply_impl(long double& x) override;
  caf::error apply_impl(std::string& x) override;
  caf::error apply_impl(std::u16string& x) override;
  caf::error apply_impl(std::u32string& x) override;

private:
  // Enters one level of nesting, or says it is too deep.
  caf::error enter();

  // Checks that `n` elements of at least `size` bytes each can be left.
  caf::error fits(size_t n, size_t size) const;

  template <class Char>
  caf::error read_chars(std::basic_string<Char>& x);

  caf::binary_deserializer inner_;
  size_t depth_ = 0;
};

} // namespace ringvisor::actor::wire
