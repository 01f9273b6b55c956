#include "facepay/flows/border_flow.h"

#include <chrono>
#include <span>

#include "facepay/flows/identifier.h"

namespace facepay::flows {

using nlohmann::json;

const char* BorderDecisionName(BorderDecision d) {
  switch (d) {
    case BorderDecision::kAdmitted: return "admitted";
    case BorderDecision::kReferred: return "referred";
    case BorderDecision::kRefused: return "refused";
  }
  return "referred";
}

json BorderCheckJson(const BorderCheck& b, bool scores) {
  json body = {{"probe", b.probe.ToJson(scores)},
               {"decision", BorderDecisionName(b.decision)},
               {"crossing_id", b.crossing.id},
               {"timings_ms", {{"total", b.total_ms}, {"analyze", b.probe.analyze_ms}}}};
  if (!b.reason.empty()) body["reason"] = b.reason;
  if (b.face_match) {
    body["face_match"] = scores ? json{{"score", b.face_match->score},
                                       {"threshold", b.face_match->threshold},
                                       {"match", b.face_match->match}}
                                : json{{"match", b.face_match->match}};
  }
  if (b.watchlist) {
    json hits = json::array();
    for (const auto& h : *b.watchlist) {
      hits.push_back(scores ? json{{"subject_id", h.subject_id}, {"score", h.score}}
                            : json{{"subject_id", h.subject_id}});
    }
    body["watchlist"] = scores ? json{{"hits", hits}, {"threshold", b.watchlist_threshold}}
                               : json{{"hits", hits}};
  }
  return body;
}

StatusOr<BorderCheck> BorderFlow::Check(const Caller& who, const BorderCheckRequest& r) const {
  const auto t0 = std::chrono::steady_clock::now();
  BorderCheck b;
  FACEPAY_ASSIGN_OR_RETURN(b.probe, Identifier(deps_).ProbeOf(r.sighting, "border:" + r.post));
  RefuseUnsure(b.probe);
  vision::AnalyzeOptions ao;
  ao.liveness = false;
  // A scanned document may show a ghost image or a background face: the holder's portrait is
  // the central, largest one.
  ao.selection = vision::FaceSelection::kCentral;
  FACEPAY_ASSIGN_OR_RETURN(
      auto da, deps_.pipeline->AnalyzeBytes(
                   std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(r.document_photo.data()),
                                            r.document_photo.size()),
                   ao));
  b.watchlist_threshold = deps_.options.watchlist_threshold;
  if (b.probe.state != biometrics::ProbeState::kOk) {
    b.reason = biometrics::RejectReasonName(
        biometrics::Decide(b.probe.state, {}, deps_.policy.thresholds).reason);
    if (b.probe.state == biometrics::ProbeState::kSpoof) b.decision = BorderDecision::kRefused;
  } else if (da.status != vision::FaceStatus::kOk || da.faces.empty()) {
    b.reason = std::string("document_") + vision::FaceStatusName(da.status);
  } else {
    const float score = vision::CosineSimilarity(b.probe.embedding, da.faces[0].embedding);
    b.face_match = FaceMatch{score, deps_.options.verify_threshold,
                             score >= deps_.options.verify_threshold};
    if (b.face_match->match) Identifier(deps_).ObserveMatched("border:" + r.post, b.probe);
    b.watchlist.emplace();
    if (deps_.watchlist != nullptr) {
      FACEPAY_ASSIGN_OR_RETURN(auto top, deps_.watchlist->Search(b.probe.embedding, 3));
      for (const auto& h : top) {
        if (h.score >= deps_.options.watchlist_threshold) b.watchlist->push_back({h.subject_id, h.score});
      }
    }
    if (!b.watchlist->empty()) {
      b.reason = "watchlist_hit";
    } else if (!b.face_match->match) {
      b.reason = "face_mismatch";
    } else {
      b.decision = BorderDecision::kAdmitted;
    }
  }
  const char* decision = BorderDecisionName(b.decision);
  FACEPAY_ASSIGN_OR_RETURN(b.crossing, deps_.border_log->Record(r.document_number, r.post, decision));
  b.total_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  deps_.counter->CountDecision("border", decision, b.reason);
  json audit = BorderCheckJson(b, true);
  audit["doc_hash"] = b.crossing.doc_hash;
  deps_.audit->Audit(who, deps_.clock->NowMs(), "border_check", b.crossing.doc_hash, decision, audit);
  return b;
}

StatusOr<biometrics::EnrollResult> BorderFlow::AddToWatchlist(const Caller& who,
                                                             const WatchlistAddRequest& r) const {
  if (deps_.watchlist == nullptr) {
    return Unavailable("watchlist_disabled", "this server has no watchlist");
  }
  const int64_t now_ms = deps_.clock->NowMs();
  biometrics::Subject s;
  s.id = r.id;
  s.display_name = r.display_name;
  s.consent = {"watchlist", now_ms, "authority"};
  s.created_at_ms = now_ms;
  biometrics::EnrollOptions eo;
  eo.allow_duplicate = true;
  FACEPAY_ASSIGN_OR_RETURN(auto res, biometrics::EnrollFromBytes(*deps_.pipeline, *deps_.watchlist,
                                                                 s, r.images, eo, now_ms));
  deps_.audit->Audit(who, now_ms, "watchlist_add", s.id,
                     biometrics::EnrollStatusName(res.status),
                     {{"templates", res.template_ids.size()}});
  return res;
}

}  // namespace facepay::flows
