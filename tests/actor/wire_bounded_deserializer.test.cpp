// The wire's deserializer: what CAF's binary serializer writes comes back
// whole, while a length beyond the frame or nesting too deep is refused
// before anything is allocated for it.

#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/message.hpp>
#include <doctest/doctest.h>

#include "wire/bounded_deserializer.hpp"

using namespace ringvisor::actor::wire;

namespace {

// A type whose values nest as deep as its bytes say.
struct tree_node {
  std::vector<tree_node> children;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tree_node& x) {
  return f(x.children);
}

struct sys_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};

  template <class... Ts>
  std::vector<char> bytes_of(Ts&... xs) {
    std::vector<char> buf;
    caf::binary_serializer sink{sys, buf};
    REQUIRE(!sink(xs...));
    return buf;
  }
};

} // namespace

TEST_CASE_FIXTURE(sys_fixture, "the bounded deserializer reads what CAF's serializer writes") {
  std::string s = "hello, wire";
  std::u16string s16 = u"h\u00e9llo";
  std::u32string s32 = U"\U0001F600 ok";
  std::vector<char> bytes{'a', 'b', 0, 'c'};
  std::vector<std::string> words{"one", "", "three"};
  int64_t i = -42;
  double d = 2.5;
  auto msg = caf::make_message(std::string{"inner"}, int32_t{7}, std::vector<char>{1, 2, 3});
  auto buf = bytes_of(s, s16, s32, bytes, words, i, d, msg);
  std::string s_in;
  std::u16string s16_in;
  std::u32string s32_in;
  std::vector<char> bytes_in;
  std::vector<std::string> words_in;
  int64_t i_in = 0;
  double d_in = 0;
  caf::message msg_in;
  bounded_deserializer source{sys, buf.data(), buf.size()};
  REQUIRE(!source(s_in, s16_in, s32_in, bytes_in, words_in, i_in, d_in, msg_in));
  CHECK(source.remaining() == 0);
  CHECK(s_in == s);
  CHECK(s16_in == s16);
  CHECK(s32_in == s32);
  CHECK(bytes_in == bytes);
  CHECK(words_in == words);
  CHECK(i_in == i);
  CHECK(d_in == d);
  REQUIRE(msg_in.match_elements<std::string, int32_t, std::vector<char>>());
  CHECK(msg_in.get_as<std::vector<char>>(2) == std::vector<char>{1, 2, 3});
}

TEST_CASE_FIXTURE(sys_fixture, "five bytes cannot ask the bounded deserializer for 4 GiB") {
  // A sequence length of 2^32 - 1 as CAF writes it (varbyte), and nothing after.
  std::vector<char> bomb{'\xff', '\xff', '\xff', '\xff', '\x0f'};
  {
    std::vector<char> xs;
    bounded_deserializer source{sys, bomb.data(), bomb.size()};
    CHECK(source(xs));
    CHECK(xs.capacity() < 1024);
  }
  {
    std::vector<uint8_t> xs;
    bounded_deserializer source{sys, bomb.data(), bomb.size()};
    CHECK(source(xs));
    CHECK(xs.capacity() < 1024);
  }
  {
    std::string x;
    bounded_deserializer source{sys, bomb.data(), bomb.size()};
    CHECK(source(x));
    CHECK(x.capacity() < 1024);
  }
  {
    std::u32string x;
    bounded_deserializer source{sys, bomb.data(), bomb.size()};
    CHECK(source(x));
  }
}

TEST_CASE_FIXTURE(sys_fixture, "the bounded deserializer refuses nesting deeper than it allows") {
  // tree_node{children: [tree_node{children: [...]}]}: each level a length
  // of 1, past max_depth, then an empty leaf.
  std::vector<char> deep(bounded_deserializer::max_depth + 8, '\x01');
  deep.push_back('\x00');
  tree_node x;
  bounded_deserializer source{sys, deep.data(), deep.size()};
  CHECK(source(x));
  // as deep as allowed is fine
  std::vector<char> ok(bounded_deserializer::max_depth - 1, '\x01');
  ok.push_back('\x00');
  tree_node y;
  bounded_deserializer fine{sys, ok.data(), ok.size()};
  CHECK(!fine(y));
}

TEST_CASE_FIXTURE(sys_fixture, "empty messages side by side do not count as nesting") {
  // CAF reads an empty message without ending the object it began: 100 of
  // them in a row (a list of child specs without arguments) nest nothing.
  std::vector<caf::message> xs(100);
  xs.back() = caf::make_message(std::string{"last"});
  auto buf = bytes_of(xs);
  std::vector<caf::message> in;
  bounded_deserializer source{sys, buf.data(), buf.size()};
  REQUIRE(!source(in));
  REQUIRE(in.size() == 100);
  CHECK(in.front().empty());
  REQUIRE(in.back().match_elements<std::string>());
  CHECK(in.back().get_as<std::string>(0) == "last");
}
