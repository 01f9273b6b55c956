#include "facepay/common/status.h"

#include <gtest/gtest.h>

#include "facepay/common/status_or.h"

namespace facepay {
namespace {

TEST(Status, DefaultIsOkWithOkReason) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.reason(), "ok");
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(Status, ErrorKeepsCodeReasonAndMessage) {
  Status s = InvalidArgument("image_truncated", "JPEG ends before its end-of-image marker");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.reason(), "image_truncated");
  EXPECT_EQ(s.ToString(), "image_truncated: JPEG ends before its end-of-image marker");
}

TEST(Status, EmptyReasonFallsBackToCodeName) {
  Status s(StatusCode::kDataLoss, "", "disk ate it");
  EXPECT_EQ(s.reason(), "data_loss");
}

StatusOr<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd", "not even");
  return x / 2;
}

Status UseHalf(int x, int* out) {
  FACEPAY_ASSIGN_OR_RETURN(*out, Half(x));
  return Status::Ok();
}

TEST(StatusOr, CarriesValueOrError) {
  EXPECT_EQ(*Half(8), 4);
  EXPECT_EQ(Half(3).status().reason(), "odd");
  int v = 0;
  EXPECT_TRUE(UseHalf(10, &v).ok());
  EXPECT_EQ(v, 5);
  EXPECT_EQ(UseHalf(7, &v).reason(), "odd");
}

TEST(StatusOr, OkStatusWithoutValueBecomesInternalError) {
  StatusOr<int> s(Status::Ok());
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace facepay
