// A border check: the traveller's live face vs the portrait of their document (1:1) and vs the
// watchlist (1:N), recorded as a crossing (admitted, referred to an officer, or refused) under
// the keyed hash of the document number; and adding a person to the watchlist. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "facepay/biometrics/enrollment.h"
#include "facepay/flows/flow_deps.h"
#include "facepay/flows/probe.h"

namespace facepay::flows {

enum class BorderDecision { kAdmitted, kReferred, kRefused };
// Stored names (the crossing record): "admitted" | "referred" | "refused".
const char* BorderDecisionName(BorderDecision d);

struct BorderCheckRequest {
  std::string post;  // a configured border post
  std::string document_number;
  std::string document_photo;  // the encoded image read from the document
  Sighting sighting;           // the live frames
};

struct FaceMatch {
  float score = 0, threshold = 0;
  bool match = false;
};
struct WatchlistHit {
  std::string subject_id;
  float score = 0;
};

struct BorderCheck {
  Probe probe;
  BorderDecision decision = BorderDecision::kReferred;
  // Why not admitted: the probe's reject reason, "document_<face status>", "watchlist_hit" or
  // "face_mismatch"; "" when admitted.
  std::string reason;
  std::optional<FaceMatch> face_match;              // when both faces were usable
  std::optional<std::vector<WatchlistHit>> watchlist;  // likewise (empty without a watchlist)
  float watchlist_threshold = 0;
  payments::BorderCrossing crossing;
  double total_ms = 0;
};

// {"probe", "decision", ["reason"], ["face_match"], ["watchlist"], "crossing_id", "timings_ms"};
// with `scores` false (terminal answers) the match and the hits without scores or thresholds.
nlohmann::json BorderCheckJson(const BorderCheck& b, bool scores);

struct WatchlistAddRequest {
  std::string id, display_name;  // checked by the caller
  std::vector<biometrics::NamedImage> images;
};

class BorderFlow {
 public:
  explicit BorderFlow(const FlowDeps& deps) : deps_(deps) {}
  // Errors: the sighting's, the document photo's decode errors, the border log's.
  StatusOr<BorderCheck> Check(const Caller& who, const BorderCheckRequest& r) const;
  // Enrols a watchlist entry (duplicates allowed); audited. Unavailable("watchlist_disabled")
  // when the node has no watchlist.
  StatusOr<biometrics::EnrollResult> AddToWatchlist(const Caller& who,
                                                    const WatchlistAddRequest& r) const;

 private:
  const FlowDeps& deps_;
};

}  // namespace facepay::flows
