// BouncePlatform on its own: what the device sees is a copy in the shared
// area, what the CPU gets back is at most the length the driver validated,
// and a mapping handle the driver never got is not trusted.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "driver/platform/bounce_platform.h"
#include "tests/driver/ring_platform.h"

namespace vnet {
namespace {

struct Fixture {
  testing::RingPlatform inner;
  std::unique_ptr<BouncePlatform> bounce = std::make_unique<BouncePlatform>(inner);
  std::vector<uint8_t> buf = std::vector<uint8_t>(2048, 0);
  uint64_t phys() const { return 0x7000'0000; }
  ~Fixture() { bounce->shutdown(); }
};

TEST(BouncePlatform, TransmitIsACopyTheHostCannotChangeBack) {
  Fixture f;
  ASSERT_TRUE(f.bounce->init(2048, 4));
  for (size_t i = 0; i < 100; ++i) f.buf[i] = uint8_t(i);
  DmaMapping m;
  ASSERT_TRUE(f.bounce->dma_map(f.buf.data(), f.phys(), 100, DmaDirection::kToDevice, &m));
  EXPECT_TRUE(f.bounce->in_area(m.device_addr, m.len));
  EXPECT_NE(m.device_view, f.buf.data());
  EXPECT_EQ(std::memcmp(m.device_view, f.buf.data(), 100), 0);
  m.device_view[0] = 0xEE;  // the host scribbles on the slot
  EXPECT_EQ(f.buf[0], 0) << "private memory untouched";
  f.bounce->dma_unmap(m, f.buf.data(), 0, DmaDirection::kToDevice);
  EXPECT_EQ(f.bounce->slots_in_use(), 0u);
  f.bounce->shutdown();
  EXPECT_EQ(f.inner.live_allocations, 0);
}

TEST(BouncePlatform, ReceiveCopiesAtMostTheValidatedAndMappedLength) {
  Fixture f;
  ASSERT_TRUE(f.bounce->init(256, 2));
  DmaMapping m;
  ASSERT_TRUE(f.bounce->dma_map(f.buf.data(), f.phys(), 200, DmaDirection::kFromDevice, &m));
  std::memset(m.device_view, 0x5A, 256);  // the device writes its whole slot
  f.bounce->dma_unmap(m, f.buf.data(), 64, DmaDirection::kFromDevice);
  EXPECT_EQ(f.buf[63], 0x5A);
  EXPECT_EQ(f.buf[64], 0) << "only what the driver accepted";
  ASSERT_TRUE(f.bounce->dma_map(f.buf.data(), f.phys(), 200, DmaDirection::kFromDevice, &m));
  std::memset(m.device_view, 0x6B, 256);
  f.bounce->dma_unmap(m, f.buf.data(), 100000,
                      DmaDirection::kFromDevice);  // a length never validated
  EXPECT_EQ(f.buf[199], 0x6B);
  EXPECT_EQ(f.buf[200], 0) << "never past the mapping";
  EXPECT_EQ(f.bounce->bytes_from_device(), 64u + 200u);
}

TEST(BouncePlatform, BogusOrRepeatedHandlesAreCountedNotTrusted) {
  Fixture f;
  ASSERT_TRUE(f.bounce->init(256, 2));
  DmaMapping m;
  ASSERT_TRUE(f.bounce->dma_map(f.buf.data(), f.phys(), 10, DmaDirection::kFromDevice, &m));
  DmaMapping bogus = m;
  bogus.handle = 999;
  f.bounce->dma_unmap(bogus, f.buf.data(), 10, DmaDirection::kFromDevice);
  EXPECT_EQ(f.bounce->bad_unmaps(), 1u);
  f.bounce->dma_unmap(m, f.buf.data(), 0, DmaDirection::kFromDevice);
  f.bounce->dma_unmap(m, f.buf.data(), 0, DmaDirection::kFromDevice);  // twice
  EXPECT_EQ(f.bounce->bad_unmaps(), 2u);
  EXPECT_EQ(f.bounce->slots_in_use(), 0u) << "a double unmap frees nothing twice";
}

TEST(BouncePlatform, FullAreaAndOversizedMappingsFail) {
  Fixture f;
  ASSERT_TRUE(f.bounce->init(128, 2));
  DmaMapping a, b, c;
  EXPECT_FALSE(f.bounce->dma_map(f.buf.data(), f.phys(), 129, DmaDirection::kToDevice, &a));
  ASSERT_TRUE(f.bounce->dma_map(f.buf.data(), f.phys(), 128, DmaDirection::kToDevice, &a));
  ASSERT_TRUE(f.bounce->dma_map(f.buf.data(), f.phys(), 1, DmaDirection::kToDevice, &b));
  EXPECT_FALSE(f.bounce->dma_map(f.buf.data(), f.phys(), 1, DmaDirection::kToDevice, &c));
  EXPECT_EQ(f.bounce->map_failures(), 2u);
  EXPECT_NE(a.device_addr, b.device_addr);
  EXPECT_FALSE(f.bounce->in_area(a.device_addr, f.bounce->area().size + 1));
}

}  // namespace
}  // namespace vnet
