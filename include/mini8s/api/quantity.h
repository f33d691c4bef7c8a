// resource.Quantity: parsing, exact arithmetic and the canonical string form of Kubernetes
// quantities ("100m", "1.5Gi" -> "1536Mi", "0.1" -> "100m"), following apimachinery's
// pkg/api/resource semantics: values are rounded up to nano precision when parsed, a string that
// is already canonical prints back as it was written, and everything else prints canonically.
//
// Representation: a signed 128-bit mantissa with a base-10 exponent, which is exact for every
// value a cluster uses (up to 38 significant digits; more is rejected as non-numeric where
// upstream's arbitrary-precision decimal would accept it).
//
// Value type; thread-compatible.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "mini8s/common/result.h"

namespace mini8s::api {

class Quantity {
 public:
  enum class Format : uint8_t { kDecimalExponent, kBinarySI, kDecimalSI };

  // The regular expression upstream's "wrong format" message names.
  static constexpr std::string_view kFormatRegex = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";
  // Upstream's error messages, verbatim (they reach users in 400/422 responses).
  static std::string FormatWrongMessage();  // quantities must match the regular expression '...'
  static constexpr std::string_view kNumericMessage = "unable to parse numeric part of quantity";
  static constexpr std::string_view kSuffixMessage = "unable to parse quantity's suffix";

  Quantity() = default;  // zero, DecimalSI

  // kInvalid with one of the messages above.
  static Result<Quantity> Parse(std::string_view s);
  // value * 10^exp10 in `format` (NewQuantity is FromInt(v, 0, fmt), NewMilliQuantity uses -3).
  static Quantity FromScaled(int64_t value, int32_t exp10, Format format = Format::kDecimalSI);
  static Quantity FromInt(int64_t value, Format format = Format::kDecimalSI) {
    return FromScaled(value, 0, format);
  }
  static Quantity FromMilli(int64_t value, Format format = Format::kDecimalSI) {
    return FromScaled(value, -3, format);
  }

  Format format() const { return format_; }
  bool IsZero() const { return mantissa_ == 0; }
  int Sign() const { return mantissa_ > 0 ? 1 : (mantissa_ < 0 ? -1 : 0); }

  // The canonical form (or the original text when it was already canonical).
  std::string String() const;

  // The value rounded away from zero to an integer / to thousandths (upstream Value/MilliValue);
  // saturates at the int64 limits.
  int64_t Value() const { return ScaledValue(0); }
  int64_t MilliValue() const { return ScaledValue(-3); }
  // The value in units of 10^exp10, rounded away from zero.
  int64_t ScaledValue(int32_t exp10) const;
  double AsApproximateDouble() const;

  // Exact arithmetic. Returns false (leaving *this unchanged) on overflow of the representation.
  bool Add(const Quantity& y);
  bool Sub(const Quantity& y);
  void Neg();

  int Cmp(const Quantity& y) const;
  bool operator==(const Quantity& y) const { return Cmp(y) == 0; }
  std::strong_ordering operator<=>(const Quantity& y) const {
    int c = Cmp(y);
    return c < 0 ? std::strong_ordering::less
                 : (c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
  }

 private:
  __extension__ typedef __int128 Int128;

  Quantity(Int128 m, int32_t e, Format f) : mantissa_(m), exp_(e), format_(f) {}
  // Brings both to the smaller exponent; false if that overflows.
  static bool Align(Int128& a, int32_t ea, Int128& b, int32_t eb, int32_t& e);
  std::string Canonical() const;

  Int128 mantissa_ = 0;  // value = mantissa_ * 10^exp_
  int32_t exp_ = 0;
  Format format_ = Format::kDecimalSI;
  std::string cached_;  // the parsed text when it was already canonical
};

}  // namespace mini8s::api
