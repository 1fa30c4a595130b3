/**
 * The Heal RPC (agent/heal/): request bounds, the mode mapping and the reply. Registered by
 * agent/server.ts; role checks are agent/authz.ts's (Heal is a mutating call).
 */
import type * as grpc from '@grpc/grpc-js';
import type { HealRequest__Output } from '../proto/kip/generated/kip/v1/HealRequest.ts';
import type { HealResponse } from '../proto/kip/generated/kip/v1/HealResponse.ts';
import type { HealMode as PbHealMode } from '../proto/kip/generated/kip/v1/HealMode.ts';
import type { HealService } from './heal/heal.ts';
import { checkLength } from './request-limits.ts';
import { InvalidInputError, PreconditionError } from './upgrade/errors.ts';

type Unary = <Req, Res>(name: string, audited: boolean, fn: (req: Req) => Promise<Res>) => grpc.handleUnaryCall<Req, Res>;

export function createHealHandler(heal: HealService | undefined, unary: Unary): { Heal: grpc.handleUnaryCall<HealRequest__Output, HealResponse> } {
  return {
    Heal: unary('Heal', true, async (req: HealRequest__Output): Promise<HealResponse> => {
      if (!heal) throw new PreconditionError('HEAL_UNAVAILABLE', 'this agent has no heal service');
      checkLength('heal_id', req.healId, 128);
      const mode = req.mode === 'HEAL_FINALIZE' ? 'finalize' : req.mode === 'HEAL_RESTART' ? 'restart' : undefined;
      if (!mode) throw new InvalidInputError('HEAL_MODE_MISSING', 'mode must be HEAL_RESTART (kip heal) or HEAL_FINALIZE (kip finalize)', { mode: req.mode });
      const r = await heal.heal({ mode, dryRun: req.dryRun, healId: req.healId, timeoutMs: req.timeoutMs, settleMs: req.settleMs });
      const pbMode: PbHealMode = r.mode === 'finalize' ? 'HEAL_FINALIZE' : 'HEAL_RESTART';
      return { ...r, mode: pbMode, containersRestarted: [...r.containersRestarted], oldHashContainers: [...r.oldHashContainers] };
    }),
  };
}
