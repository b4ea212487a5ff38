import { AccessKind, linearFromBigInt, linearToBigInt, privilegeOfCpl } from '@hvsim/cpu-core';
import {
  NestedFaultKind,
  NestedMmu,
  type NestedStage,
  TranslateStatus,
  Translation,
} from '@hvsim/mmu-nested';
import { NptStage, type NptStageOptions } from '@hvsim/vendor-amd';
import { decodeEptp, EptStage } from '@hvsim/vendor-intel';
import { DocumentError } from './document-error.js';
import type { NestedRunner, NestedSetup } from './run-scenario.js';
import type { AccessName, AccessResult, Scenario } from './types.js';

const ACCESS_KIND: Readonly<Record<AccessName, AccessKind>> = {
  read: AccessKind.Read,
  write: AccessKind.Write,
  execute: AccessKind.Execute,
};

/**
 * The second stage a nested scenario describes: AMD NPT on the host's paging mode with nCR3 as its
 * root, or Intel EPT from the EPTP with the CPU's EPT capabilities. A setting no VMRUN or VM entry
 * would accept (host paging off, an invalid EPTP) is a DocumentError naming `host` or `nested.root`.
 * `cache` puts a walk cache in front of the stage's own walk (the nested walk cache); scenarios
 * themselves run uncached.
 */
export function nestedStageOf(
  scenario: Scenario,
  setup: Pick<NestedSetup, 'memory'>,
  cache: NestedStageCache = {},
): NestedStage {
  if (!scenario.nested.enabled) throw new Error('the scenario has no second stage');
  const root = scenario.nested.root;
  if (scenario.vendor === 'amd') {
    try {
      return new NptStage(setup.memory, { nestedCr3: root, host: scenario.host, ...cache });
    } catch (error) {
      throw new DocumentError([{ path: 'host', message: (error as Error).message }]);
    }
  }
  const capabilities = {
    executeOnly: scenario.cpu.eptExecuteOnly,
    accessedDirty: scenario.cpu.eptAccessedDirty,
    modeBasedExecute: scenario.cpu.eptModeBasedExecute,
    advancedViolationInfo: scenario.cpu.eptAdvancedViolationInfo,
  };
  const decoded = decodeEptp(root, scenario.cpu.maxPhysicalAddressBits, capabilities);
  if (typeof decoded === 'string') {
    // VM entry fails with an invalid EPTP (Intel SDM vol. 3C §26.2.1.1): no access ever runs.
    throw new DocumentError([{ path: 'nested.root', message: `invalid EPTP: ${decoded}` }]);
  }
  return new EptStage(setup.memory, { eptp: root, capabilities, ...cache });
}

/** A walk cache for the second stage's own walk, and the context handle it is used under. */
export type NestedStageCache = Pick<NptStageOptions, 'walkCache' | 'nestedContext'>;

/** The result entry of a translation (without `walk`). */
export function resultOf(out: Translation): AccessResult {
  switch (out.status) {
    case TranslateStatus.Ok:
      return {
        outcome: 'ok',
        guestPhysical: BigInt(out.guestPhysical),
        hostPhysical: BigInt(out.hostPhysical),
      };
    case TranslateStatus.PageFault:
      return {
        outcome: 'page-fault',
        errorCode: BigInt(out.errorCode),
        address: linearToBigInt(out.faultLo, out.faultHi),
      };
    case TranslateStatus.GeneralProtection:
      return { outcome: 'general-protection', errorCode: BigInt(out.errorCode) };
    default: {
      const fault = out.nestedFault;
      switch (fault.kind) {
        case NestedFaultKind.NestedPageFault:
          return {
            outcome: 'nested-page-fault',
            exitInfo1: linearToBigInt(fault.infoLo, fault.infoHi),
            exitInfo2: BigInt(fault.guestPhysical),
          };
        case NestedFaultKind.EptViolation:
          return {
            outcome: 'ept-violation',
            exitQualification: linearToBigInt(fault.infoLo, fault.infoHi),
            guestPhysical: BigInt(fault.guestPhysical),
            guestLinear: fault.linearValid ? linearToBigInt(fault.linearLo, fault.linearHi) : null,
          };
        case NestedFaultKind.EptMisconfiguration:
          return { outcome: 'ept-misconfiguration', guestPhysical: BigInt(fault.guestPhysical) };
        default:
          throw new Error('internal error: a nested fault without a kind');
      }
    }
  }
}

/**
 * Runs nested scenarios on @hvsim/mmu-nested with the vendor's second stage: the two-dimensional
 * walk of AMD NPT or Intel EPT, with no TLB or walk cache (every access starts uncached,
 * spec/scenario.md). Under EPT a PAE guest's PDPTEs are loaded through EPT at the start, as MOV to
 * CR3 does (Intel SDM vol. 3C §29.3.2); if that load faults (an EPT violation with bit 7 clear, an
 * EPT misconfiguration, or #GP for a reserved PDPTE bit), no access can run and every access reports
 * that outcome. Under NPT the guest's PDPTEs are read during each walk (AMD APM vol. 2 §15.25.10).
 */
export const nestedRunner: NestedRunner = {
  start(setup) {
    const { scenario, memory, state } = setup;
    const mmu = new NestedMmu(memory, state, nestedStageOf(scenario, setup));
    const out = new Translation();
    const startFailure = mmu.loadGuestPdptes(out) === TranslateStatus.Ok ? null : resultOf(out);
    return (access, _index, trace) => {
      if (startFailure !== null) return startFailure;
      mmu.trace = trace;
      const { lo, hi } = linearFromBigInt(access.address);
      // Real mode runs at CPL 0 and virtual-8086 mode at CPL 3, whatever `cpl` says (SDM vol. 3A §20.1-20.2).
      mmu.translate(lo, hi, ACCESS_KIND[access.access], privilegeOfCpl(state.effectiveCpl), out);
      return resultOf(out);
    };
  },
};
