// StatusOr<T>: either a value of type T or a non-ok Status explaining why there is none.
// Accessing value() on an error aborts (a programming error, not an input error).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

#include "facepay/common/status.h"

namespace facepay {

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) {
      status_ = Internal("internal", "StatusOr constructed from an ok Status without a value");
    }
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  const T& value() const& { Check(); return *value_; }
  T& value() & { Check(); return *value_; }
  T&& value() && { Check(); return std::move(*value_); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  void Check() const {
    if (!value_) {
      std::fprintf(stderr, "StatusOr::value() on error: %s\n", status_.ToString().c_str());
      std::abort();
    }
  }
  Status status_;
  std::optional<T> value_;
};

}  // namespace facepay

#define FACEPAY_CONCAT_INNER_(a, b) a##b
#define FACEPAY_CONCAT_(a, b) FACEPAY_CONCAT_INNER_(a, b)
// Assigns the value of a StatusOr expression to `lhs` or returns its Status from the caller.
#define FACEPAY_ASSIGN_OR_RETURN(lhs, expr) \
  FACEPAY_ASSIGN_OR_RETURN_IMPL_(FACEPAY_CONCAT_(facepay_statusor_, __LINE__), lhs, expr)
#define FACEPAY_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(tmp).value()
