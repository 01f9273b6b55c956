// Completing a step-up: a second factor (phone digits or PIN) narrows a challenge's candidates;
// a match at the step-up threshold settles the request the challenge kept (passage or payment).
// A step-up whose only doubt was liveness may offer movements instead (RunMoves).
//
// Guesses are budgeted across challenges (factor_budget.h): the terminal key's, then each
// candidate's; a spent budget refuses with ResourceExhausted("second_factor_locked"). Each code
// takes one attempt of the challenge, atomically, once it is checked. On accept: settle
// (idempotent), keep the answer (CompletedStepUps), then close the challenge, so a crash
// anywhere is finished by a retry and never charges twice. Thread-safe.
#pragma once

#include <optional>
#include <string>

#include "facepay/flows/liveness_challenge_flow.h"
#include "facepay/flows/paying.h"

namespace facepay::flows {

struct StepUpRequest {
  PayingFlow flow = PayingFlow::kPassage;
  std::string terminal;
  std::string challenge_id;
  SecondFactor factor;  // exactly one set, already well-formed
};

// The movements of a step-up that offered them (IssuedChallenge::actions), as the terminal
// recorded them while drawing the prompts.
struct StepUpMovesRequest {
  PayingFlow flow = PayingFlow::kPassage;
  std::string terminal;
  std::string challenge_id;     // the step-up's
  ChallengeResponse response;   // frames and their interval (response.challenge_id unused)
};

struct StepUpOutcome {
  biometrics::Decision decision;
  std::optional<Settlement> settlement;  // on accept
  int attempts_left = 0;                 // otherwise: codes this challenge still takes
  std::optional<ChallengeOutcome> movements;  // answered with movements: what was seen
};

// Where the answer of a completed step-up is kept, so that a terminal that lost it to a crash or
// a timeout is answered again as it was (the service keeps its encoded answer).
class CompletedStepUps {
 public:
  virtual ~CompletedStepUps() = default;
  // True when the answer of `challenge_id` is kept (the caller answers with it).
  virtual StatusOr<bool> Kept(const std::string& challenge_id) = 0;
  // Keeps the answer before the challenge is closed.
  virtual void Keep(const std::string& challenge_id, const StepUpOutcome& outcome) = 0;
};

class StepUpFlow {
 public:
  explicit StepUpFlow(const FlowDeps& deps) : deps_(deps) {}
  // nullopt: the challenge was completed before and `completed` kept its answer. Errors:
  // NotFound("challenge_not_found") (also another terminal's or another flow's challenge),
  // ResourceExhausted("second_factor_locked"), FailedPrecondition("challenge_used" |
  // "challenge_expired" | "challenge_exhausted"), DataLoss("bad_challenge").
  StatusOr<std::optional<StepUpOutcome>> Run(const Caller& who, const StepUpRequest& r,
                                             CompletedStepUps& completed) const;

  // Answers a step-up with the movements it offered (liveness unsure at a terminal that shows
  // prompts): accept when the person followed them (vision::ActiveChallenge) and the face that
  // did is the candidate's (1:1 at FlowOptions::verify_threshold); then settle as Run does.
  // Otherwise the step-up stays open for a code, and the failure counts against the same
  // budgets as a wrong code. One response per step-up, spent before it is judged. Errors: as
  // Run, and FailedPrecondition("challenge_not_offered"), InvalidArgument("missing_frames" |
  // "too_many_frames" | "invalid_frame_interval_ms"), a frame's decode error.
  StatusOr<std::optional<StepUpOutcome>> RunMoves(const Caller& who, const StepUpMovesRequest& r,
                                                  CompletedStepUps& completed) const;

 private:
  const FlowDeps& deps_;
};

}  // namespace facepay::flows
