#include "facepay/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace facepay::eval {
namespace {

// Fraction of `sorted_asc` values >= t.
double FractionAtLeast(const std::vector<float>& sorted_asc, float t) {
  if (sorted_asc.empty()) return 0;
  const auto it = std::lower_bound(sorted_asc.begin(), sorted_asc.end(), t);
  return static_cast<double>(sorted_asc.end() - it) / static_cast<double>(sorted_asc.size());
}

}  // namespace

std::vector<RocPoint> ComputeRoc(std::vector<float> genuine, std::vector<float> impostor) {
  std::sort(genuine.begin(), genuine.end());
  std::sort(impostor.begin(), impostor.end());
  std::vector<float> thresholds = genuine;
  thresholds.insert(thresholds.end(), impostor.begin(), impostor.end());
  std::sort(thresholds.begin(), thresholds.end(), std::greater<>());
  thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
  std::vector<RocPoint> roc;
  roc.push_back({0, 0, std::numeric_limits<float>::infinity()});
  for (float t : thresholds) {
    roc.push_back({FractionAtLeast(impostor, t), FractionAtLeast(genuine, t), t});
  }
  return roc;
}

double AreaUnderCurve(const std::vector<RocPoint>& roc) {
  double auc = 0;
  for (size_t i = 1; i < roc.size(); ++i) {
    auc += (roc[i].far - roc[i - 1].far) * (roc[i].tar + roc[i - 1].tar) / 2;
  }
  if (!roc.empty()) auc += (1 - roc.back().far) * (1 + roc.back().tar) / 2;  // to (1,1)
  return auc;
}

OperatingPoint EqualErrorRate(const std::vector<float>& genuine,
                              const std::vector<float>& impostor) {
  const auto roc = ComputeRoc(genuine, impostor);
  OperatingPoint best{0, 0, 1};
  double best_gap = 2;
  for (const RocPoint& p : roc) {
    const double frr = 1 - p.tar;
    const double gap = std::abs(frr - p.far);
    if (gap < best_gap) {
      best_gap = gap;
      best = {p.threshold, p.tar, (frr + p.far) / 2};
    }
  }
  return best;
}

std::optional<OperatingPoint> TarAtFar(const std::vector<float>& genuine,
                                       std::vector<float> impostor, double target_far) {
  if (impostor.empty() || static_cast<double>(impostor.size()) * target_far < 1.0) {
    return std::nullopt;
  }
  std::sort(impostor.begin(), impostor.end(), std::greater<>());
  const size_t allowed = static_cast<size_t>(std::floor(target_far * static_cast<double>(impostor.size())));
  // Accept strictly above the (allowed+1)-th highest impostor: at most `allowed` impostors pass.
  float t = allowed < impostor.size() ? std::nextafter(impostor[allowed], 2.f) : impostor.back();
  std::vector<float> g = genuine;
  std::sort(g.begin(), g.end());
  std::sort(impostor.begin(), impostor.end());
  return OperatingPoint{t, FractionAtLeast(g, t), FractionAtLeast(impostor, t)};
}

double AccuracyAt(const std::vector<ScoredPair>& pairs, float threshold) {
  if (pairs.empty()) return 0;
  size_t right = 0;
  for (const ScoredPair& p : pairs) right += (p.score >= threshold) == p.same;
  return static_cast<double>(right) / static_cast<double>(pairs.size());
}

float BestAccuracyThreshold(const std::vector<ScoredPair>& pairs) {
  std::vector<ScoredPair> s = pairs;
  std::sort(s.begin(), s.end(), [](const auto& a, const auto& b) { return a.score < b.score; });
  // Threshold below everything: all accepted -> right = #same. Move it up one score at a time.
  size_t same_total = 0;
  for (const auto& p : s) same_total += p.same;
  long right = static_cast<long>(same_total), best = right;
  float best_t = s.empty() ? 0.f : s.front().score - 1e-4f;
  for (size_t i = 0; i < s.size(); ++i) {
    right += s[i].same ? -1 : 1;  // s[i] now rejected
    if (i + 1 < s.size() && s[i + 1].score == s[i].score) continue;
    if (right > best) {
      best = right;
      best_t = i + 1 < s.size() ? (s[i].score + s[i + 1].score) / 2 : s[i].score + 1e-4f;
    }
  }
  return best_t;
}

void AssignFolds(std::vector<ScoredPair>& pairs, int k) {
  size_t n_same = 0, n_diff = 0;
  for (const auto& p : pairs) (p.same ? n_same : n_diff)++;
  size_t i_same = 0, i_diff = 0;
  for (auto& p : pairs) {
    const size_t i = p.same ? i_same++ : i_diff++;
    const size_t n = p.same ? n_same : n_diff;
    p.fold = static_cast<int>(i * static_cast<size_t>(k) / std::max<size_t>(n, 1));
  }
}

KFoldResult KFoldAccuracy(const std::vector<ScoredPair>& pairs, int k) {
  KFoldResult r;
  for (int f = 0; f < k; ++f) {
    std::vector<ScoredPair> train, test;
    for (const auto& p : pairs) (p.fold == f ? test : train).push_back(p);
    if (test.empty()) continue;
    const float t = BestAccuracyThreshold(train);
    r.fold_threshold.push_back(t);
    r.fold_accuracy.push_back(AccuracyAt(test, t));
  }
  if (r.fold_accuracy.empty()) return r;
  double sum = 0;
  for (double a : r.fold_accuracy) sum += a;
  r.mean_accuracy = sum / static_cast<double>(r.fold_accuracy.size());
  double var = 0;
  for (double a : r.fold_accuracy) var += (a - r.mean_accuracy) * (a - r.mean_accuracy);
  r.std_accuracy = std::sqrt(var / static_cast<double>(r.fold_accuracy.size()));
  return r;
}

PadPoint PadAt(const std::vector<float>& bona_fide, const std::vector<float>& attacks,
               float threshold) {
  PadPoint p{threshold, 0, 0};
  size_t a = 0, b = 0;
  for (float s : attacks) a += s >= threshold;
  for (float s : bona_fide) b += s < threshold;
  p.apcer = attacks.empty() ? 0 : static_cast<double>(a) / static_cast<double>(attacks.size());
  p.bpcer = bona_fide.empty() ? 0 : static_cast<double>(b) / static_cast<double>(bona_fide.size());
  return p;
}

PadPoint BpcerAtApcer(const std::vector<float>& bona_fide, std::vector<float> attacks,
                      double max_apcer) {
  std::sort(attacks.begin(), attacks.end(), std::greater<>());
  const size_t allowed =
      static_cast<size_t>(std::floor(max_apcer * static_cast<double>(attacks.size())));
  float t = attacks.empty() ? 0.f
            : allowed < attacks.size() ? std::nextafter(attacks[allowed], 2.f)
                                       : attacks.back();
  return PadAt(bona_fide, attacks, t);
}

namespace {
// P(X <= k) for X ~ Binomial(n, p).
double BinomialCdf(int64_t k, int64_t n, double p) {
  if (k < 0) return 0;
  if (k >= n) return 1;
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  const double lp = std::log(p), lq = std::log1p(-p);
  const double nn = static_cast<double>(n);
  double sum = 0;
  for (int64_t i = 0; i <= k; ++i) {
    const double di = static_cast<double>(i);
    sum += std::exp(std::lgamma(nn + 1) - std::lgamma(di + 1) - std::lgamma(nn - di + 1) +
                    di * lp + (nn - di) * lq);
  }
  return std::min(1.0, sum);
}
}  // namespace

RateInterval ClopperPearson(int64_t k, int64_t n, double alpha) {
  RateInterval r;
  if (n <= 0) return r;
  k = std::clamp<int64_t>(k, 0, n);
  // high: P(X <= k; p) = alpha/2 (decreasing in p); low: P(X >= k; p) = alpha/2.
  double lo = 0, hi = 1;
  if (k == n) {
    r.high = 1;
  } else {
    for (int it = 0; it < 100; ++it) {
      const double mid = (lo + hi) / 2;
      (BinomialCdf(k, n, mid) > alpha / 2 ? lo : hi) = mid;
    }
    r.high = hi;
  }
  if (k == 0) {
    r.low = 0;
  } else {
    lo = 0;
    hi = 1;
    for (int it = 0; it < 100; ++it) {
      const double mid = (lo + hi) / 2;
      (1.0 - BinomialCdf(k - 1, n, mid) < alpha / 2 ? lo : hi) = mid;
    }
    r.low = lo;
  }
  return r;
}

}  // namespace facepay::eval
