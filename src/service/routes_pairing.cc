// Terminal pairing routes (include/facepay/service/pairing.h, docs/terminals.md): an admin makes
// a one-time code for a terminal; the terminal's screen, holding no key, exchanges it once for
// its own bound key.
#include "facepay/service/pairing.h"
#include "service_impl.h"

namespace facepay::service {

using nlohmann::json;

void Service::Impl::AddPairingRoutes() {
  Register({"POST", "/v1/pairing-codes", {Role::kAdmin}, TerminalKind::kNone,
            "A one-time pairing code for a terminal screen: `kind` (gate, till, atm, border, "
            "kiosk), `id`, optional `ttl_s` (1..900, default 300)",
            [this](Call& c) -> StatusOr<Reply> {
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              PairingTarget t;
              FACEPAY_ASSIGN_OR_RETURN(t.kind, RequiredString(in.fields, "kind", 16));
              FACEPAY_ASSIGN_OR_RETURN(t.id, RequiredId(in.fields, "id"));
              int64_t ttl_ms = kDefaultPairingTtlMs;
              if (in.fields.contains("ttl_s")) {
                const auto& v = in.fields["ttl_s"];
                if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 900) {
                  return InvalidArgument("invalid_ttl", "'ttl_s' must be an integer in 1..900");
                }
                ttl_ms = v.get<int64_t>() * 1000;
              }
              FACEPAY_ASSIGN_OR_RETURN(auto code, CreatePairingCode(*deps.store, deps.terminals, t,
                                                                    ttl_ms, c.now_ms));
              audit_sink->Audit(c.Who(), c.now_ms, "pairing_code_create", t.id, "ok",
                                {{"kind", t.kind}, {"role", code.role},
                                 {"expires_at_ms", code.expires_at_ms}});
              Reply r{201, json{{"code", code.code},
                                {"kind", t.kind},
                                {"id", t.id},
                                {"role", code.role},
                                {"expires_at_ms", code.expires_at_ms}}};
              return r;
            }});
  Register({"POST", "/v1/pairing", {}, TerminalKind::kNone,
            "A terminal screen exchanges its pairing code (`code`) for its own key, once "
            "(no key needed; `pairing_rate_per_s` attempts per address, default 2/s)",
            [this](Call& c) -> StatusOr<Reply> {
              // Guessing 40 bits inside a code's 5 minutes at 2 tries a second is hopeless; the
              // limit also keeps the route from being a free way to load the store.
              if (!limiter->Allow("pairing:" + c.req.remote_addr, options.pairing_rate_per_s)) {
                return ResourceExhausted("rate_limited", "too many pairing attempts; wait a second");
              }
              FACEPAY_ASSIGN_OR_RETURN(Input in, ReadInput(c.req));
              FACEPAY_ASSIGN_OR_RETURN(std::string code, RequiredString(in.fields, "code", 32));
              auto p = RedeemPairingCode(*deps.store, code, c.now_ms);
              if (!p.ok()) {
                audit_sink->Audit(c.Who(), c.now_ms, "terminal_pair", "", "refused",
                                  {{"reason", std::string(p.status().reason())}});
                return p.status();
              }
              audit_sink->Audit(c.Who(), c.now_ms, "terminal_pair", p->target.id, "ok",
                                {{"kind", p->target.kind}, {"key_id", p->key.record.key_id}});
              return Reply{201, json{{"token", p->key.token},
                                     {"key_id", p->key.record.key_id},
                                     {"role", p->key.record.role},
                                     {"kind", p->target.kind},
                                     {"id", p->target.id}}};
            }});
}

}  // namespace facepay::service
