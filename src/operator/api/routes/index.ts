import type { RouteSpec } from '../http';
import { approvalRoutes } from './approvals';
import { auditRoutes } from './audit';
import { autonomyRoutes } from './autonomy';
import { changeRequestRoutes } from './change-requests';
import { commandPolicyRoutes } from './command-policies';
import { controlPlaneRoutes } from './control-plane';
import { dealRoutes } from './deals';
import { gateRoutes } from './gates';
import { goLiveRoutes } from './go-live';
import { identityRoutes } from './identity';
import { notificationRoutes } from './notifications';
import { policyRoutes } from './policies';
import { policyFileRoutes } from './policy-file';
import { riskRoutes } from './risk';
import type { ApiDeps } from './shared';
import { systemRoutes } from './system';
import { weekRoutes } from './week';

export type { ApiDeps } from './shared';

/**
 * Every route of the operator API, by area. Reads answer from the database;
 * writes act only through workflows. The server registers the table and
 * builds the OpenAPI document from the same schemas.
 */
export function createRoutes(deps: ApiDeps): RouteSpec[] {
  return [
    ...systemRoutes(deps),
    ...controlPlaneRoutes(deps),
    ...riskRoutes(deps),
    ...policyRoutes(deps),
    ...policyFileRoutes(deps),
    ...gateRoutes(deps),
    ...dealRoutes(deps),
    ...autonomyRoutes(deps),
    ...commandPolicyRoutes(deps),
    ...changeRequestRoutes(deps),
    ...goLiveRoutes(deps),
    ...auditRoutes(deps),
    ...notificationRoutes(deps),
    ...identityRoutes(deps),
    ...weekRoutes(deps),
    ...approvalRoutes(deps),
  ];
}
