// The one table of feature bits: names, dependencies, closure.
#include <gtest/gtest.h>

#include <string>

#include "driver/spec/virtio_constants.h"

namespace vnet::spec {
namespace {

TEST(FeatureTable, NamesMatchTheSpecBitNumbers) {
  EXPECT_STREQ(feature_name(0), "CSUM");
  EXPECT_STREQ(feature_name(15), "MRG_RXBUF");
  EXPECT_STREQ(feature_name(17), "CTRL_VQ");
  EXPECT_STREQ(feature_name(29), "EVENT_IDX");
  EXPECT_STREQ(feature_name(32), "VERSION_1");
  EXPECT_STREQ(feature_name(63), "SPEED_DUPLEX");
  EXPECT_EQ(feature_name(4), nullptr);
}

TEST(FeatureTable, ClosureDropsFeaturesWhosePrerequisiteIsMissing) {
  uint64_t f = feature_mask(Feature::kNetMq) | feature_mask(Feature::kNetHostTso4) |
               feature_mask(Feature::kNetMac);
  EXPECT_EQ(close_under_dependencies(f), feature_mask(Feature::kNetMac));
  f |= feature_mask(Feature::kNetCtrlVq) | feature_mask(Feature::kNetCsum);
  EXPECT_EQ(close_under_dependencies(f), f);
}

TEST(FeatureTable, EveryControlFeatureNeedsTheControlQueue) {
  for (Feature dep : {Feature::kNetCtrlRx, Feature::kNetCtrlVlan, Feature::kNetGuestAnnounce,
                      Feature::kNetMq, Feature::kNetCtrlMacAddr, Feature::kNetRss}) {
    EXPECT_EQ(close_under_dependencies(feature_mask(dep)), 0u)
        << feature_name(static_cast<unsigned>(dep));
  }
}

}  // namespace
}  // namespace vnet::spec
