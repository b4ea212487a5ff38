import { SCENARIO_FORMAT, type Scenario } from './types.js';

const hex = (value: bigint) => `0x${value.toString(16)}`;

/**
 * Writes a scenario as an `hvsim.scenario/1` document (spec/scenario.md): every field, defaults
 * included, hex values lowercase `0x…`, one line per memory run and per access, so that reading it
 * back (`parseScenario`) gives the same scenario. For scenarios built in code or in a form, to save
 * and to hand to a reference emulator.
 */
export function serializeScenario(scenario: Scenario): string {
  const { cpu, guest, host, nested } = scenario;
  const line = (value: unknown) => JSON.stringify(value);
  const runs = scenario.memory.map(
    (run) => `    ${line({ address: hex(run.address), qwords: run.qwords.map(hex) })}`,
  );
  const accesses = scenario.accesses.map(
    (a) => `    ${line({ address: hex(a.address), access: a.access, cpl: a.cpl })}`,
  );
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
    `  "nested": ${line(nested.enabled ? { enabled: true, root: hex(nested.root) } : { enabled: false })}`,
    `  "memory": ${list(runs)}`,
    `  "accesses": ${list(accesses)}`,
  ];
  return `{\n${fields.join(',\n')}\n}\n`;
}
