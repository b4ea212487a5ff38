import type { AccessKind, ControlRegisters, CpuState, Privilege } from '@hvsim/cpu-core';
import type { TranslateStatus } from '@hvsim/mmu-nested';
import type { GuestAccess, GuestCpu } from '@hvsim/platform';
import type { PhysicalCpu } from './physical-cpu.js';
import type { VirtualCpu } from './virtual-machine.js';

/**
 * A vCPU as its guest sees it, with the hypervisor's scheduling around it: before the guest uses it,
 * the vCPU is put in guest mode on its physical CPU (descheduling whichever vCPU ran there: a world
 * switch between guests), and every `interval` accesses a timer interrupt sends it to the hypervisor
 * and back (an external-interrupt exit and a VM entry; without tags the entry flushes the TLB); an
 * `interval` of 0 sends no timer interrupts.
 */
export class ScheduledCpu implements GuestCpu {
  declare readonly vcpu: VirtualCpu;
  declare readonly physical: PhysicalCpu<VirtualCpu>;
  declare private readonly inner: GuestCpu;
  declare private readonly interval: number;
  declare private countdown: number;

  constructor(vcpu: VirtualCpu, physical: PhysicalCpu<VirtualCpu>, interval: number) {
    if (!Number.isInteger(interval) || interval < 0)
      throw new RangeError(
        `the timer interval must be a whole number of accesses (0: no timer), got ${interval}`,
      );
    this.vcpu = vcpu;
    this.physical = physical;
    this.inner = vcpu;
    this.interval = interval;
    this.countdown = interval;
  }

  get state(): CpuState {
    return this.inner.state;
  }

  access(
    linear: number,
    access: AccessKind,
    out: GuestAccess,
    privilege?: Privilege,
    linearHi?: number,
  ): TranslateStatus {
    if (this.vcpu.cpu === null) this.schedule();
    else if (--this.countdown === 0) this.tick();
    return this.inner.access(linear, access, out, privilege, linearHi);
  }

  readPhysical(gpa: number): number {
    return this.inner.readPhysical(gpa);
  }

  writePhysical(gpa: number, value: number): void {
    if (this.vcpu.cpu === null) this.schedule();
    this.inner.writePhysical(gpa, value);
  }

  writeCr3(value: number, noFlush?: boolean): TranslateStatus {
    if (this.vcpu.cpu === null) this.schedule();
    return this.inner.writeCr3(value, noFlush);
  }

  setControlRegisters(regs: ControlRegisters): TranslateStatus {
    if (this.vcpu.cpu === null) this.schedule();
    return this.inner.setControlRegisters(regs);
  }

  invlpg(linear: number, linearHi?: number): void {
    if (this.vcpu.cpu === null) this.schedule();
    this.inner.invlpg(linear, linearHi);
  }

  shootdown(linear: number, linearHi?: number): void {
    if (this.vcpu.cpu === null) this.schedule();
    this.inner.shootdown(linear, linearHi);
  }

  /** Puts the vCPU in guest mode on its CPU, descheduling the vCPU that ran there. */
  private schedule(): void {
    this.physical.current?.stop();
    this.vcpu.run(this.physical);
    this.countdown = this.interval;
  }

  /** A timer interrupt: an external-interrupt exit, then the VM entry that resumes the guest. */
  private tick(): void {
    this.vcpu.stop();
    this.vcpu.run(this.physical);
    this.countdown = this.interval;
  }
}
