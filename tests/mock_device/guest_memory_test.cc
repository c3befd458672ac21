#include "mock_device/guest_memory.h"

#include <gtest/gtest.h>

namespace vnet::mock {
namespace {

TEST(GuestMemory, TranslateIsBoundsChecked) {
  GuestMemory mem(1 << 20);
  const uint64_t base = mem.base();
  EXPECT_NE(base, 0u);
  EXPECT_NE(mem.translate(base, 16), nullptr);
  EXPECT_NE(mem.translate(base + (1 << 20) - 16, 16), nullptr);
  EXPECT_EQ(mem.translate(base + (1 << 20) - 15, 16), nullptr);  // straddles the end
  EXPECT_EQ(mem.translate(base - 1, 1), nullptr);                // below the arena
  EXPECT_EQ(mem.translate(0x1000, 16), nullptr);                 // a CPU-pointer-like address
  EXPECT_EQ(mem.translate(base + 16, ~uint64_t{0}), nullptr);    // length overflow
  EXPECT_EQ(mem.translate(~uint64_t{0}, 2), nullptr);            // address wrap
}

TEST(GuestMemory, AllocatesAlignedZeroedAndFreesOnce) {
  GuestMemory mem(1 << 20);
  GuestMemory::Allocation a, b;
  ASSERT_TRUE(mem.allocate(100, 4096, &a));
  EXPECT_EQ(a.device_addr % 4096, 0u);
  EXPECT_EQ(mem.translate(a.device_addr, 100), a.host);
  EXPECT_EQ(mem.device_addr(a.host + 5), a.device_addr + 5);
  a.host[0] = 0xAA;
  ASSERT_TRUE(mem.allocate(64, 16, &b));
  EXPECT_EQ(mem.live_allocations(), 2u);
  EXPECT_TRUE(mem.free(a.device_addr));
  EXPECT_FALSE(mem.free(a.device_addr));       // double free
  EXPECT_FALSE(mem.free(b.device_addr + 16));  // not the start of an allocation
  EXPECT_EQ(mem.bad_frees(), 2u);
  ASSERT_TRUE(mem.allocate(100, 4096, &a));
  EXPECT_EQ(a.host[0], 0);  // zeroed again
}

TEST(GuestMemory, CoalescesSoTheWholeArenaCanBeReused) {
  GuestMemory mem(64 * 1024);
  std::vector<GuestMemory::Allocation> all;
  GuestMemory::Allocation a;
  while (mem.allocate(4096, 16, &a)) all.push_back(a);
  EXPECT_EQ(all.size(), 16u);
  for (size_t i = 0; i < all.size(); i += 2) EXPECT_TRUE(mem.free(all[i].device_addr));
  for (size_t i = 1; i < all.size(); i += 2) EXPECT_TRUE(mem.free(all[i].device_addr));
  EXPECT_EQ(mem.bytes_in_use(), 0u);
  EXPECT_TRUE(mem.allocate(64 * 1024, 16, &a));
}

}  // namespace
}  // namespace vnet::mock
