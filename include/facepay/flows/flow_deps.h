// What every flow is built from: the parts of one node, all owned by the caller and outliving
// the flows (facepay::node puts them together; tests pass their own). Nothing here is global:
// the clock, the stores and the sinks are the caller's.
#pragma once

#include <cstdint>

#include "facepay/biometrics/biometric_store.h"
#include "facepay/biometrics/decision_policy.h"
#include "facepay/biometrics/gallery.h"
#include "facepay/biometrics/template_crypto.h"
#include "facepay/flows/flow_store.h"
#include "facepay/flows/sinks.h"
#include "facepay/flows/terminals.h"
#include "facepay/payments/banking.h"
#include "facepay/payments/clock.h"
#include "facepay/payments/ledger.h"
#include "facepay/payments/transit.h"
#include "facepay/vision/face_pipeline.h"
#include "facepay/vision/sequence_liveness.h"

namespace facepay::flows {

class CameraBook;            // cameras.h
class ChallengeOrderSource;  // liveness_challenge_flow.h

struct FlowOptions {
  int64_t challenge_ttl_ms = 120'000;  // step-up and ATM verification validity
  int step_up_attempts = 3;            // codes one step-up challenge takes
  float verify_threshold = 0.41f;      // 1:1 (ATM, border document): LFW FAR 1e-4
  float watchlist_threshold = 0.48f;   // border watchlist hit
  bool keep_enrollment_images = false; // sealed source images beside templates (serve flag)
};

struct FlowDeps {
  const vision::FacePipeline* pipeline = nullptr;
  const vision::SequenceModel* sequence = nullptr;  // null: single-frame liveness only
  biometrics::BiometricStore* bio_store = nullptr;
  biometrics::Gallery* gallery = nullptr;
  const biometrics::TemplateKey* template_key = nullptr;
  biometrics::StoredPolicy policy;
  biometrics::Gallery* watchlist = nullptr;  // border 1:N; null = no watchlist
  payments::Ledger* ledger = nullptr;
  payments::TransitService* transit = nullptr;
  payments::BorderLog* border_log = nullptr;
  FlowStore* store = nullptr;
  payments::Clock* clock = nullptr;
  const Terminals* terminals = nullptr;
  AuditSink* audit = nullptr;
  DecisionCounter* counter = nullptr;
  // The order of kiosks' active liveness challenges; null = RandomChallengeOrder.
  const ChallengeOrderSource* challenge_order = nullptr;
  // The terminal cameras' calibration and drift; null: every camera judged uncalibrated.
  CameraBook* cameras = nullptr;
  FlowOptions options;
};

}  // namespace facepay::flows
