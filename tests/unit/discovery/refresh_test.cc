// Refresh and backoff arithmetic.
#include "discovery/refresh.h"

#include <gtest/gtest.h>

namespace podrouter {
namespace {

using std::chrono::seconds;

TEST(RefreshDelay, ClampsTtlToBounds) {
  EXPECT_EQ(RefreshDelay(seconds(5), Millis(1000), Millis(30000), 0), Millis(5000));
  EXPECT_EQ(RefreshDelay(seconds(0), Millis(1000), Millis(30000), 0), Millis(1000));
  EXPECT_EQ(RefreshDelay(seconds(3600), Millis(1000), Millis(30000), 0), Millis(30000));
}

TEST(RefreshDelay, JitterTakesUpToATenthOffButNeverBelowMin) {
  EXPECT_EQ(RefreshDelay(seconds(10), Millis(1000), Millis(30000), 0.5), Millis(9500));
  EXPECT_EQ(RefreshDelay(seconds(10), Millis(1000), Millis(30000), 0.999), Millis(9001));
  EXPECT_EQ(RefreshDelay(seconds(1), Millis(1000), Millis(30000), 0.999), Millis(1000));
}

TEST(BackoffDelay, DoublesFromMinUpToMax) {
  Millis min(1000), max(30000);
  EXPECT_EQ(BackoffDelay(1, min, max, 0), Millis(1000));
  EXPECT_EQ(BackoffDelay(2, min, max, 0), Millis(2000));
  EXPECT_EQ(BackoffDelay(3, min, max, 0), Millis(4000));
  EXPECT_EQ(BackoffDelay(5, min, max, 0), Millis(16000));
  EXPECT_EQ(BackoffDelay(6, min, max, 0), Millis(30000));
  EXPECT_EQ(BackoffDelay(1000, min, max, 0), Millis(30000));  // no overflow
}

TEST(BackoffDelay, JitterHalvesAtMostWithAFloor) {
  EXPECT_EQ(BackoffDelay(3, Millis(1000), Millis(30000), 0.5), Millis(3000));
  EXPECT_EQ(BackoffDelay(1, Millis(100), Millis(1000), 0.99), Millis(100));  // floor: min
  EXPECT_EQ(BackoffDelay(1, Millis(1000), Millis(1000), 0.99), Millis(505));
}

}  // namespace
}  // namespace podrouter
