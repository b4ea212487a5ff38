import { SCENARIO_FORMAT, type Scenario, type ScenarioStep } from './types.js';

const hex = (value: bigint) => `0x${value.toString(16)}`;

/**
 * Writes a scenario as an `hvsim.scenario/1` document (spec/scenario.md): every field, defaults
 * included, hex values lowercase `0x…`, one line per memory run and per access (or step), so that
 * reading it back (`parseScenario`) gives the same scenario. For scenarios built in code or in a
 * form, to save and to hand to a reference emulator.
 */
export function serializeScenario(scenario: Scenario): string {
  const { cpu, guest, host, nested } = scenario;
  const line = (value: unknown) => JSON.stringify(value);
  const runs = scenario.memory.map(
    (run) => `    ${line({ address: hex(run.address), qwords: run.qwords.map(hex) })}`,
  );
  const accesses = scenario.accesses.map((a) => `    ${line(accessJson(a))}`);
  const steps = scenario.steps?.map((step) => `    ${line(stepJson(step))}`);
  const list = (items: string[]) => (items.length === 0 ? '[]' : `[\n${items.join(',\n')}\n  ]`);
  const fields = [
    `  "format": ${line(SCENARIO_FORMAT)}`,
    ...(scenario.name === undefined ? [] : [`  "name": ${line(scenario.name)}`]),
    `  "vendor": ${line(scenario.vendor)}`,
    `  "cpu": ${line({
      maxPhysicalAddressBits: cpu.maxPhysicalAddressBits,
      eptExecuteOnly: cpu.eptExecuteOnly,
      eptAccessedDirty: cpu.eptAccessedDirty,
      eptModeBasedExecute: cpu.eptModeBasedExecute,
      eptAdvancedViolationInfo: cpu.eptAdvancedViolationInfo,
    })}`,
    `  "guest": ${line({
      cr0: hex(guest.cr0),
      cr3: hex(guest.cr3),
      cr4: hex(guest.cr4),
      efer: hex(guest.efer),
      rflags: hex(guest.rflags),
    })}`,
    `  "host": ${line({ cr0: hex(host.cr0), cr4: hex(host.cr4), efer: hex(host.efer) })}`,
    `  "nested": ${line({
      ...(nested.enabled ? { enabled: true, root: hex(nested.root) } : { enabled: false }),
      asid: nested.asid,
      vpid: nested.vpid,
    })}`,
    ...(scenario.caches === undefined ? [] : [`  "caches": ${line(scenario.caches)}`]),
    `  "memory": ${list(runs)}`,
    steps === undefined ? `  "accesses": ${list(accesses)}` : `  "steps": ${list(steps)}`,
  ];
  return `{\n${fields.join(',\n')}\n}\n`;
}

function accessJson(a: { address: bigint; access: string; cpl: number; value?: bigint }): object {
  return {
    address: hex(a.address),
    access: a.access,
    cpl: a.cpl,
    ...(a.value === undefined ? {} : { value: hex(a.value) }),
  };
}

/** A step as the format spells it: an access has no `step`, bigints are hex strings, null fields go. */
function stepJson(step: ScenarioStep): object {
  if (step.step === 'access') return accessJson(step);
  return Object.fromEntries(
    Object.entries(step)
      .filter(([, value]) => value !== null && value !== undefined)
      .map(([key, value]) => [key, typeof value === 'bigint' ? hex(value) : value]),
  );
}
