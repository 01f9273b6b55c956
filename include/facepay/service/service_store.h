// The service's store is the flows' store (facepay/flows/flow_store.h): the names below keep
// the service and storage code that spells them service::... compiling.
#pragma once

#include "facepay/flows/flow_store.h"

namespace facepay::service {

using ServiceStore = flows::FlowStore;
using ApiKeyRecord = flows::ApiKeyRecord;
using AuditRecord = flows::AuditRecord;
using AuditQuery = flows::AuditQuery;
using RequestRecord = flows::RequestRecord;
using Challenge = flows::Challenge;
using FactorBudget = flows::FactorBudget;
using CardRecord = flows::CardRecord;

}  // namespace facepay::service
