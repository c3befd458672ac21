#include <gtest/gtest.h>

#include "driver/spec/pci_layout.h"
#include "mock_device/mock_buffer_pool.h"
#include "mock_device/mock_platform.h"

namespace vnet::mock {
namespace {

TEST(MockPlatform, DispatchesRegionsToTheDevice) {
  GuestMemory mem(1 << 20);
  MockDevice dev(mem);
  MockPlatform p(dev, mem);
  EXPECT_EQ(p.reg_read(Region::kPciConfig, spec::pci::kVendorId, 2), 0x1AF4u);
  EXPECT_EQ(p.reg_read(Region::kPciConfig, spec::pci::kDeviceId, 2), 0x1000u);
  p.reg_write(Region::kBar0, spec::pci::legacy::kDeviceStatus, 1, 1);
  EXPECT_EQ(dev.status(), 1);
  EXPECT_EQ(p.reg_read(Region::kBar4, spec::pci::common::kDeviceStatus, 1), 1u);
  EXPECT_EQ(p.reg_read(Region::kBar2, 0, 4), 0xFFFFFFFFu);  // no such BAR
  EXPECT_EQ(p.reg_read(Region::kMmio, 0, 4), 0xFFFFFFFFu);
  EXPECT_TRUE(p.bar_info(0).present && p.bar_info(0).is_io);
  EXPECT_TRUE(p.bar_info(4).present && !p.bar_info(4).is_io);
  EXPECT_FALSE(p.bar_info(1).present);
}

TEST(MockPlatform, DmaComesFromGuestMemoryAndFetchChecksTheSource) {
  GuestMemory mem(1 << 20);
  MockDevice dev(mem);
  MockPlatform p(dev, mem);
  DmaRegion r;
  ASSERT_TRUE(p.dma_alloc(256, 4096, &r));
  EXPECT_EQ(mem.translate(r.device_addr, 256), r.cpu);
  EXPECT_EQ(r.device_addr % 4096, 0u);
  static_cast<uint8_t*>(r.cpu)[2] = 0x34;
  static_cast<uint8_t*>(r.cpu)[3] = 0x12;
  uint16_t v = 0;
  p.fetch(DeviceMemRef{}, static_cast<uint8_t*>(r.cpu) + 2, &v, 2);
  EXPECT_EQ(v, 0x1234);
  uint64_t private_copy = 42, out = 7;
  p.fetch(DeviceMemRef{}, &private_copy, &out, 8);  // not device memory
  EXPECT_EQ(p.fetches_outside(), 1u);
  EXPECT_EQ(out, 0u);
  p.dma_free(r);
  p.dma_free(r);
  EXPECT_EQ(p.bad_dma_frees(), 1u);
  EXPECT_EQ(p.dma_live(), 0u);
  p.set_dma_budget(0);
  EXPECT_FALSE(p.dma_alloc(16, 16, &r));
}

TEST(MockPlatform, FakeClockAndLog) {
  GuestMemory mem(1 << 20);
  MockDevice dev(mem);
  MockPlatform p(dev, mem);
  uint64_t t = 100;
  p.set_clock([&] { return t += 10; });
  EXPECT_EQ(p.now_ns(), 110u);
  EXPECT_EQ(p.now_ns(), 120u);
  p.set_clock(nullptr);
  EXPECT_GT(p.now_ns(), 1000u);
  p.log(LogLevel::kWarn, "hello");
  ASSERT_EQ(p.log_lines().size(), 1u);
  EXPECT_EQ(p.log_lines()[0].text, "hello");
}

TEST(MockPlatform, WaitInterruptReflectsIsr) {
  GuestMemory mem(1 << 20);
  MockDevice dev(mem);
  MockPlatform p(dev, mem);
  EXPECT_FALSE(p.wait_interrupt(0));
  dev.set_link(false);
  EXPECT_TRUE(p.wait_interrupt(0));
  EXPECT_EQ(p.reg_read(Region::kBar0, spec::pci::legacy::kIsrStatus, 1), 2u);
  EXPECT_FALSE(p.wait_interrupt(0));
}

TEST(MockBufferPool, TracksOwnership) {
  GuestMemory mem(1 << 20);
  MockBufferPool pool(mem, 4);
  EXPECT_EQ(pool.capacity(), 4u);
  PacketBuffer* a = pool.alloc();
  PacketBuffer* b = pool.alloc();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->capacity, 2048u);
  EXPECT_EQ(mem.translate(a->device_addr, a->capacity), a->base);
  EXPECT_EQ(pool.outstanding(), 2u);
  EXPECT_FALSE(pool.all_returned());
  EXPECT_EQ(pool.lent(), (std::vector<size_t>{0, 1}));
  pool.free(a);
  pool.free(a);  // double free
  PacketBuffer stranger;
  pool.free(&stranger);
  EXPECT_EQ(pool.double_frees(), 1u);
  EXPECT_EQ(pool.foreign_frees(), 1u);
  pool.free(b);
  EXPECT_TRUE(pool.all_returned());
}

TEST(MockBufferPool, EmptiesAndHonoursTheBudget) {
  GuestMemory mem(1 << 20);
  MockBufferPool pool(mem, 2, 256);
  EXPECT_TRUE(pool.alloc());
  EXPECT_TRUE(pool.alloc());
  EXPECT_EQ(pool.alloc(), nullptr);
  EXPECT_EQ(pool.alloc_failures(), 1u);
  MockBufferPool pool2(mem, 2, 256);
  pool2.set_alloc_budget(1);
  EXPECT_TRUE(pool2.alloc());
  EXPECT_EQ(pool2.alloc(), nullptr);
  const std::vector<uint8_t> frame(100, 0xAB);
  pool2.set_alloc_budget(-1);
  PacketBuffer* t = pool2.alloc_tx(frame);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->offset, kTxHeadroom);
  EXPECT_EQ(t->len, 100u);
  EXPECT_EQ(t->data()[99], 0xAB);
  EXPECT_EQ(pool2.alloc_tx(std::vector<uint8_t>(300)), nullptr);  // does not fit
}

}  // namespace
}  // namespace vnet::mock
