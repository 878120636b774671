#include <gtest/gtest.h>

#include <stdexcept>

#include "metrics/confusion_matrix.hpp"

namespace fer {
namespace {

TEST(ConfusionMatrix, MetricsFromCounts) {
  ConfusionMatrix m(3);
  // truth 0: 8 right, 2 as 1; truth 1: 5 right; truth 2: 1 as 0, never predicted 2.
  m.add(0, 0, 8);
  m.add(0, 1, 2);
  m.add(1, 1, 5);
  m.add(2, 0, 1);
  EXPECT_EQ(m.total(), 16);
  EXPECT_DOUBLE_EQ(m.accuracy(), 13.0 / 16.0);
  const ClassMetrics c0 = m.class_metrics(0);
  EXPECT_DOUBLE_EQ(c0.precision, 8.0 / 9.0);
  EXPECT_DOUBLE_EQ(c0.recall, 0.8);
  EXPECT_EQ(c0.support, 10);
  EXPECT_DOUBLE_EQ(m.class_metrics(2).precision, 0.0);
  EXPECT_DOUBLE_EQ(m.class_metrics(2).f1, 0.0);
  ConfusionMatrix other(3);
  other.add(2, 2, 3);
  m.merge(other);
  EXPECT_EQ(m.count(2, 2), 3);
  EXPECT_DOUBLE_EQ(m.class_metrics(2).recall, 0.75);
  const double f1_0 = 2 * (8.0 / 9) * 0.8 / (8.0 / 9 + 0.8), f1_1 = 2 * (5.0 / 7) / (5.0 / 7 + 1);
  EXPECT_NEAR(m.macro_f1(), (f1_0 + f1_1 + 2 * 0.75 / 1.75) / 3, 1e-12);
  EXPECT_THROW(m.merge(ConfusionMatrix(4)), std::invalid_argument);
}

}  // namespace
}  // namespace fer
