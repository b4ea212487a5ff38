/*
 * The bits of the VM-execution and VM-entry control fields that bear on address translation (Intel SDM
 * vol. 3C §25.6 "VM-Execution Control Fields" and §25.8.1 "VM-Entry Controls";
 * §24.6 and §24.8.1 in the 2016 edition).
 */

/** Pin-based VM-execution controls (VMCS 4000h). */
export const PinBasedControl = {
  ExternalInterruptExiting: 1 << 0,
  NmiExiting: 1 << 3,
  VirtualNmis: 1 << 5,
  ActivatePreemptionTimer: 1 << 6,
  ProcessPostedInterrupts: 1 << 7,
} as const;

/** Primary processor-based VM-execution controls (VMCS 4002h). */
export const PrimaryControl = {
  InterruptWindowExiting: 1 << 2,
  UseTscOffsetting: 1 << 3,
  HltExiting: 1 << 7,
  /** INVLPG causes a VM exit (exit reason 14). */
  InvlpgExiting: 1 << 9,
  MwaitExiting: 1 << 10,
  RdpmcExiting: 1 << 11,
  RdtscExiting: 1 << 12,
  /** MOV to CR3 causes a VM exit (exit reason 28), unless the value is a CR3-target value. */
  Cr3LoadExiting: 1 << 15,
  Cr3StoreExiting: 1 << 16,
  Cr8LoadExiting: 1 << 19,
  Cr8StoreExiting: 1 << 20,
  UseTprShadow: 1 << 21,
  NmiWindowExiting: 1 << 22,
  MovDrExiting: 1 << 23,
  UnconditionalIoExiting: 1 << 24,
  UseIoBitmaps: 1 << 25,
  MonitorTrapFlag: 1 << 27,
  UseMsrBitmaps: 1 << 28,
  MonitorExiting: 1 << 29,
  PauseExiting: 1 << 30,
  /** Without it the processor acts as if every secondary control were 0 (SDM vol. 3C §25.6.2). */
  ActivateSecondaryControls: 0x8000_0000,
} as const;

/** Secondary processor-based VM-execution controls (VMCS 401Eh). */
export const SecondaryControl = {
  VirtualizeApicAccesses: 1 << 0,
  /** Extended page tables (SDM vol. 3C §29.3). */
  EnableEpt: 1 << 1,
  DescriptorTableExiting: 1 << 2,
  EnableRdtscp: 1 << 3,
  VirtualizeX2apicMode: 1 << 4,
  /** Translations are tagged with the VPID in VMCS 0000h (SDM vol. 3C §29.1). */
  EnableVpid: 1 << 5,
  WbinvdExiting: 1 << 6,
  /** The guest may run with CR0.PE=0 or CR0.PG=0 (SDM vol. 3C §26.6 / §25.6 in 2016). */
  UnrestrictedGuest: 1 << 7,
  ApicRegisterVirtualization: 1 << 8,
  VirtualInterruptDelivery: 1 << 9,
  PauseLoopExiting: 1 << 10,
  RdrandExiting: 1 << 11,
  EnableInvpcid: 1 << 12,
  EnableVmFunctions: 1 << 13,
  VmcsShadowing: 1 << 14,
  EnclsExiting: 1 << 15,
  RdseedExiting: 1 << 16,
  EnablePml: 1 << 17,
  EptViolationVe: 1 << 18,
  ConcealVmxFromPt: 1 << 19,
  EnableXsavesXrstors: 1 << 20,
  /** Mode-based execute control for EPT: bit 2 supervisor, bit 10 user execute. */
  ModeBasedExecuteControl: 1 << 22,
  SubPageWritePermissions: 1 << 23,
} as const;

/** VM-entry controls (VMCS 4012h). */
export const EntryControl = {
  LoadDebugControls: 1 << 2,
  /** The guest runs in IA-32e mode: CR0.PG and CR4.PAE must be set (SDM vol. 3C §27.3.1.1). */
  Ia32eModeGuest: 1 << 9,
  EntryToSmm: 1 << 10,
  DeactivateDualMonitor: 1 << 11,
  LoadIa32PerfGlobalCtrl: 1 << 13,
  LoadIa32Pat: 1 << 14,
  LoadIa32Efer: 1 << 15,
} as const;
